"""A response cache for stores whose files people edit by hand (read-only directory and nsc stores).

The watcher drops cached responses when files change, but only after its debounce (about 100 ms).
The originals read the file on every GET, so a GET right after an edit returned the new JWT; this
cache keeps that promise by checking, on every hit, that the file's identity, size and timestamps are
still those of the bytes the response was built from: one ``stat`` instead of a read, a decode and a
signature check. Misses are never cached, so new files are served at once anyway.
"""

from __future__ import annotations

import os
from typing import Protocol

from ..cache import Entry, ResponseCache

__all__ = ["FileCheckedCache", "FileBacked"]

Stamp = tuple[int, int, int, int]  # inode, size, mtime ns, ctime ns


class FileBacked(Protocol):
    def file_of(self, key: str) -> str | None:
        """The file holding ``key``; None when the store has no file for it."""
        ...


def _stamp(st: os.stat_result) -> Stamp:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class FileCheckedCache(ResponseCache):
    """``ResponseCache`` whose entries stay valid only while their file is unchanged."""

    def __init__(self, store: FileBacked, capacity: int = 100_000) -> None:
        super().__init__(capacity)
        self.store = store
        self._checked: dict[str, tuple[Entry, str, Stamp]] = {}

    def get(self, key: str) -> Entry | None:
        item = self._checked.get(key)  # unknown keys (any URL tail) never reach the filesystem
        if item is None:
            return None
        entry, path, stamp = item
        try:
            current = _stamp(os.stat(path))
        except OSError:
            current = None
        if current != stamp:
            del self._checked[key]
            return None
        return entry

    def put(self, key: str, entry: Entry) -> None:
        """Cache ``entry`` only if its file (stat first, then read) still holds exactly its JWT.

        Taking the stamp before reading makes any later change, even one racing with this call,
        show up as a different stamp on the next hit.
        """
        if self.capacity == 0:
            return
        # activation responses are cached under a prefixed key (core.cache_key)
        path = self.store.file_of(key.removeprefix("~"))
        if path is None:
            return
        try:
            stamp = _stamp(os.stat(path))
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return
        if data.strip() != entry.body:
            return  # changed since the response was built: serve it once, don't keep it
        items = self._checked
        if key not in items and len(items) >= self.capacity:
            for old in list(items)[: max(1, self.capacity // 64)]:
                del items[old]
        items[key] = (entry, path, stamp)

    def drop(self, key: str) -> None:
        self._checked.pop(key, None)

    def clear(self) -> None:
        self._checked.clear()

    def __len__(self) -> int:
        return len(self._checked)
