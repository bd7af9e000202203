"""Reading a configuration file (the one given with ``-c`` and each ``include``) so that no file can
hang or exhaust the parser.

The file is opened without blocking (``O_NONBLOCK``: a FIFO opens at once instead of waiting for a
writer), checked on the open descriptor (no path-based check a rename could outrun) to be a regular
file (a symlink to one is fine; ``/dev/zero``, FIFOs, sockets, directories and devices are not) of
at most ``MAX_CONFIG_SIZE`` bytes, and read up to that limit only.
"""

from __future__ import annotations

import errno
import os
import stat

__all__ = ["MAX_CONFIG_SIZE", "RefusedFile", "read_config_text"]

MAX_CONFIG_SIZE = 1 << 20  # bytes, for the configuration file and for each file it includes
# never wait for a FIFO's writer nor make a terminal ours (O_NONBLOCK is a no-op on regular files)
_O_READ = (
    os.O_RDONLY
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
)
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class RefusedFile(OSError):
    """Not a regular file, or larger than the limit; ``str()`` is the reason, without the path."""


def _not_regular(mode: int | None) -> RefusedFile:
    kind = next((name for test, name in _KINDS if mode is not None and test(mode)), "")
    return RefusedFile(f"not a regular file ({kind})" if kind else "not a regular file")


def read_config_text(path: str, limit: int = MAX_CONFIG_SIZE) -> str:
    """The text of the regular file at ``path`` (UTF-8, line ends as text mode reads them).

    Raises RefusedFile for special or oversized files, OSError when it can't be opened or read,
    UnicodeDecodeError for bytes that are not UTF-8. Never reads more than ``limit + 1`` bytes.
    """
    try:
        fd = os.open(path, _O_READ)
    except OSError as exc:
        if exc.errno in (errno.ENXIO, errno.EISDIR):  # a socket; a directory where it can't be opened
            raise _not_regular(None) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(st.st_mode)
        too_large = RefusedFile(f"larger than {limit} bytes")
        if st.st_size > limit:
            raise too_large
        chunks: list[bytes] = []
        total = 0
        while total <= limit and (chunk := os.read(fd, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:  # grew since the fstat
            raise too_large
    finally:
        os.close(fd)
    text = b"".join(chunks).decode("utf-8")
    # what open(..., encoding="utf-8") gave the parser before: universal newlines
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text
