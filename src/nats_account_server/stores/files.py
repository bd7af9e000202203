"""Reading whole files with plain os calls: the store loads, the response index and the marks.

Every store file is opened the same safe way (``open_file``): without blocking on special files
(``O_NONBLOCK``: a FIFO opens at once instead of waiting for a writer), checked on the open
descriptor (one ``fstat``, no path-based ``stat`` that a rename could outrun) to be a regular file
of at most ``FILE_LIMIT`` bytes, and read up to that limit only. So a FIFO, a symlink to
``/dev/zero``, a directory or a 300 MB file in a store costs one open and one fstat and is an error
(``RefusedFile``) for that one entry, never a hang or a read of more than the limit.
"""

from __future__ import annotations

import os
import stat

from ..boundedfiles import O_READ, RefusedFile, open_regular, read_open
from ..jwt.codec import MAX_TOKEN_SIZE
from ..oserrors import os_reason

__all__ = [
    "FILE_LIMIT",
    "JWT_SUFFIX",
    "O_CLOEXEC",
    "O_READ",
    "TEMP_SUFFIX",
    "RefusedFile",
    "folder_health",
    "open_file",
    "read_fd",
    "read_file",
    "read_stamped",
    "write_at",
]

JWT_SUFFIX = ".jwt"
TEMP_SUFFIX = ".tmp"  # a save in progress (or one that failed): never a JWT to serve
# close-on-exec, and on Windows binary mode (no newline translation): the flags every open here takes
O_CLOEXEC = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
READ_CHUNK = 1 << 16
# room for the whitespace of a hand edit (a final newline) beyond the largest JWT any check accepts
SLACK = 64
FILE_LIMIT = MAX_TOKEN_SIZE + SLACK


def _naming(path: str, exc: RefusedFile) -> RefusedFile:
    return RefusedFile(f"{path} is {exc}")


def open_file(path: str) -> tuple[int, os.stat_result]:
    """An open descriptor of the regular file at ``path`` (symlinks followed) of at most a JWT's
    size, and its fstat; RefusedFile naming the path for anything else (see boundedfiles)."""
    try:
        return open_regular(path, MAX_TOKEN_SIZE, slack=SLACK)
    except RefusedFile as exc:
        raise _naming(path, exc) from None


def read_fd(fd: int, path: str, size: int = READ_CHUNK) -> bytes:
    """Everything left to read from ``fd`` (the file at ``path``, ``size`` bytes by its fstat), at
    most a JWT's size; RefusedFile naming the path for a file that grew past it."""
    try:
        return read_open(fd, size, MAX_TOKEN_SIZE, slack=SLACK)
    except RefusedFile as exc:
        raise _naming(path, exc) from None


def read_file(path: str) -> bytes:
    """The whole regular file with plain os calls (a third of what ``open().read()`` costs, and loads
    are on the GET-miss and upload paths); RefusedFile for special or oversized files."""
    fd, st = open_file(path)
    try:
        return read_fd(fd, path, st.st_size)
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


def folder_health(path: str, what: str, *, writable: bool) -> str | None:
    """Why the folder at `path` cannot be read (or written, when `writable`), or None."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return f"{what} {path} does not exist"
    except OSError as exc:
        return f"{what} {path} cannot be read: {os_reason(exc)}"
    if not stat.S_ISDIR(info.st_mode):
        return f"{what} {path} is not a directory"
    if not os.access(path, os.R_OK | os.X_OK):
        return f"{what} {path} is not readable"
    if writable and not os.access(path, os.W_OK):
        return f"{what} {path} is not writable"
    return None
