"""Reading whole files with plain os calls: the store loads, the response index and the marks."""

from __future__ import annotations

import os

__all__ = ["JWT_SUFFIX", "O_CLOEXEC", "TEMP_SUFFIX", "read_fd", "read_file", "read_stamped", "write_at"]

JWT_SUFFIX = ".jwt"
TEMP_SUFFIX = ".tmp"  # a save in progress (or one that failed): never a JWT to serve
# close-on-exec, and on Windows binary mode (no newline translation): the flags every open here takes
O_CLOEXEC = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
READ_CHUNK = 1 << 16


def read_file(path: str) -> bytes:
    """The whole file with plain os calls: a third of what ``open().read()`` costs, and loads are
    on the GET-miss and upload paths."""
    fd = os.open(path, os.O_RDONLY | O_CLOEXEC)
    try:
        return read_fd(fd)
    finally:
        os.close(fd)


def read_fd(fd: int) -> bytes:
    """Everything left to read from ``fd``; one system call for any JWT of up to 64 KiB."""
    data = os.read(fd, READ_CHUNK)
    if len(data) < READ_CHUNK:
        return data
    chunks = [data]
    while chunk := os.read(fd, READ_CHUNK):
        chunks.append(chunk)
    return b"".join(chunks)


def read_stamped(path: str) -> tuple[os.stat_result, bytes]:
    """The file's stat and its bytes, both from one open file: the stamp describes what was read
    (up to a change racing with the read, which then shows as a new stamp next time)."""
    fd = os.open(path, os.O_RDONLY | O_CLOEXEC)
    try:
        st = os.fstat(fd)
        return st, os.read(fd, st.st_size + 1)
    finally:
        os.close(fd)


def write_at(fd: int, data: memoryview, offset: int) -> int:
    """Write at `offset` (``pwrite``; a seek and a write where there is none, as on Windows)."""
    if hasattr(os, "pwrite"):
        return os.pwrite(fd, data, offset)
    os.lseek(fd, offset, os.SEEK_SET)
    return os.write(fd, data)
