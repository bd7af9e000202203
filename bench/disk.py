"""The disk's own ceiling for the POST row: durable replace-by-rename of ~650-byte files.

The same steps as the directory store's save (temp file, write, fsync, rename, fsync of the
directory), done by 1 or by N threads at once, so the POST figure can be read against what the
disk allows at all.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def _durable_write(directory: str, name: str, data: bytes) -> None:
    tmp = os.path.join(directory, f".{name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, os.path.join(directory, f"{name}.jwt"))
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def durable_writes_per_second(
    directory: Path, *, writers: int = 1, seconds: float = 2.0, files: int = 1000, size: int = 660
) -> float:
    directory.mkdir(parents=True, exist_ok=True)
    data = b"x" * size
    deadline = time.perf_counter() + seconds

    def writer(start: int) -> int:
        done = 0
        while time.perf_counter() < deadline:
            _durable_write(str(directory), f"f{(start + done * writers) % files}", data)
            done += 1
        return done

    started = time.perf_counter()
    with ThreadPoolExecutor(writers) as pool:
        total = sum(pool.map(writer, range(writers)))
    return total / (time.perf_counter() - started)
