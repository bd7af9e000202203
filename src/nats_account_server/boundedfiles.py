"""Reading files that others write (configuration, trust anchors, credentials, stored JWTs): regular
files only, read with a bound, and never blocking on a special file.

A file is opened without blocking (a FIFO does not wait for a writer; O_NONBLOCK is a no-op on
regular files) and checked on the open descriptor, so a rename between a check and the open cannot
slip a FIFO or /dev/zero in; symlinks to regular files are fine. No read asks for more than the
limit plus one byte in all, so an oversized or growing file costs no more memory than the limit.
"""

from __future__ import annotations

import errno
import os
import stat

from nats_account_server.oserrors import os_reason

__all__ = ["O_READ", "RefusedFile", "kind_of_mode", "open_regular", "plain", "read_open", "read_regular"]

# never wait for a FIFO's writer nor make a terminal ours; on Windows, binary mode
O_READ = (
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
_NOT_OPENABLE = (errno.ENXIO, errno.EISDIR)  # a socket (or a device without a driver); a folder
_CHUNK = 1 << 16


class RefusedFile(OSError):
    """Not a regular file, or larger than its limit; ``str()`` is the one-line reason. An OSError, so
    every caller that treats an unreadable file as an error does so here too."""


def kind_of_mode(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "a special file")


def not_regular(mode: int | None) -> str:
    return f"not a regular file ({kind_of_mode(mode)})" if mode is not None else "not a regular file"


def plain(exc: OSError) -> str:
    """An OS error as a person reads it: "no such file or directory", without errno or path."""
    return os_reason(exc)


def open_regular(path: str, limit: int, *, slack: int = 0) -> tuple[int, os.stat_result]:
    """An open descriptor of the regular file at ``path`` of at most ``limit`` (+ ``slack``) bytes,
    and its fstat; RefusedFile (the reason without the path) for anything else, with the descriptor
    closed. ``slack`` bytes beyond the limit are let through unsaid (whitespace around a JWT)."""
    try:
        fd = os.open(path, O_READ)
    except OSError as exc:
        if exc.errno in _NOT_OPENABLE:
            raise RefusedFile(not_regular(None)) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise RefusedFile(not_regular(st.st_mode))
        if st.st_size > limit + slack:
            raise RefusedFile(f"larger than {limit} bytes")
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_open(fd: int, size: int, limit: int, *, slack: int = 0) -> bytes:
    """Everything left to read from ``fd`` (``size`` bytes by its fstat), at most ``limit`` (+
    ``slack``) bytes: one system call when the file has not grown since its fstat. No read asks for
    more than one byte past the bound in all; a file that grew past it is RefusedFile."""
    bound = limit + slack
    want = min(size, bound) + 1
    data = os.read(fd, want)
    if len(data) < want:
        return data
    chunks = [data]
    total = len(data)
    while total <= bound and (chunk := os.read(fd, min(_CHUNK, bound + 1 - total))):
        chunks.append(chunk)
        total += len(chunk)
    if total > bound:
        raise RefusedFile(f"larger than {limit} bytes")
    return b"".join(chunks)


def read_regular(path: str, limit: int, *, slack: int = 0) -> bytes:
    """The bytes of the regular file at ``path``; RefusedFile for a special or oversized file (the
    reason without the path), OSError when it cannot be opened or read."""
    fd, st = open_regular(path, limit, slack=slack)
    try:
        return read_open(fd, st.st_size, limit, slack=slack)
    finally:
        os.close(fd)
