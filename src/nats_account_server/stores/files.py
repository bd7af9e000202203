"""Reading whole files with plain os calls: the store loads, the response index and the marks.

Every store file is opened the same safe way (``open_file``): without blocking on special files
(``O_NONBLOCK``: a FIFO opens at once instead of waiting for a writer), checked on the open
descriptor (one ``fstat``, no path-based ``stat`` that a rename could outrun) to be a regular file
of at most ``FILE_LIMIT`` bytes, and read up to that limit only. So a FIFO, a symlink to
``/dev/zero``, a directory or a 300 MB file in a store costs one open and one fstat and is an error
(``RefusedFile``) for that one entry, never a hang or a read of more than the limit.
"""

from __future__ import annotations

import errno
import os
import stat

from ..boundedfiles import O_READ, RefusedFile, kind_of_mode
from ..jwt.codec import MAX_TOKEN_SIZE

__all__ = [
    "FILE_LIMIT",
    "JWT_SUFFIX",
    "O_CLOEXEC",
    "O_READ",
    "TEMP_SUFFIX",
    "RefusedFile",
    "open_file",
    "read_fd",
    "read_file",
    "read_stamped",
    "refusal",
    "write_at",
]

JWT_SUFFIX = ".jwt"
TEMP_SUFFIX = ".tmp"  # a save in progress (or one that failed): never a JWT to serve
# close-on-exec, and on Windows binary mode (no newline translation): the flags every open here takes
O_CLOEXEC = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
READ_CHUNK = 1 << 16
# the largest JWT any check accepts, plus room for the whitespace of a hand edit (a final newline)
FILE_LIMIT = MAX_TOKEN_SIZE + 64


def refusal(path: str, st: os.stat_result | None, limit: int = FILE_LIMIT) -> RefusedFile:
    """Why the file at ``path`` (with ``st``; None: it could not even be opened) is not read."""
    if st is None or not stat.S_ISREG(st.st_mode):
        kind = f" ({kind_of_mode(st.st_mode)})" if st is not None else ""
        return RefusedFile(f"{path} is not a regular file{kind}")
    return _too_large(path, limit)


def _too_large(path: str, limit: int) -> RefusedFile:
    shown = MAX_TOKEN_SIZE if limit == FILE_LIMIT else limit  # the slack is for whitespace only
    return RefusedFile(f"{path} is larger than {shown} bytes")


def open_file(path: str, limit: int = FILE_LIMIT) -> tuple[int, os.stat_result]:
    """An open descriptor of the regular file at ``path`` (symlinks followed) of at most ``limit``
    bytes, and its fstat; RefusedFile for anything else (the descriptor is closed then)."""
    try:
        fd = os.open(path, O_READ)
    except OSError as exc:
        if exc.errno in (errno.ENXIO, errno.EISDIR):  # a socket (or a device without a driver); a folder
            raise refusal(path, None) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            raise refusal(path, st, limit)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_fd(fd: int, path: str, size: int = READ_CHUNK, limit: int = FILE_LIMIT) -> bytes:
    """Everything left to read from ``fd`` (the file at ``path``, ``size`` bytes by its fstat), at most
    ``limit`` bytes: one system call when the file has not grown since its fstat. No read asks for
    more than ``limit + 1`` bytes in all; a file that grew past the limit is RefusedFile."""
    want = min(size, limit) + 1
    data = os.read(fd, want)
    if len(data) < want:
        return data
    chunks = [data]
    total = len(data)
    while total <= limit and (chunk := os.read(fd, min(READ_CHUNK, limit + 1 - total))):
        chunks.append(chunk)
        total += len(chunk)
    if total > limit:
        raise _too_large(path, limit)
    return b"".join(chunks)


def read_file(path: str, limit: int = FILE_LIMIT) -> bytes:
    """The whole regular file with plain os calls (a third of what ``open().read()`` costs, and loads
    are on the GET-miss and upload paths); RefusedFile for special or oversized files."""
    fd, st = open_file(path, limit)
    try:
        return read_fd(fd, path, st.st_size, limit)
    finally:
        os.close(fd)


def read_stamped(path: str) -> tuple[os.stat_result, bytes]:
    """The file's stat and its bytes, both from one open file: the stamp describes what was read
    (up to a change racing with the read, which then shows as a new stamp next time)."""
    fd, st = open_file(path)
    try:
        return st, read_fd(fd, path, st.st_size)
    finally:
        os.close(fd)


def write_at(fd: int, data: memoryview, offset: int) -> int:
    """Write at `offset` (``pwrite``; a seek and a write where there is none, as on Windows)."""
    if hasattr(os, "pwrite"):
        return os.pwrite(fd, data, offset)
    os.lseek(fd, offset, os.SEEK_SET)
    return os.write(fd, data)
