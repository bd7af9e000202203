"""Process-local store, mostly for tests and throw-away servers."""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable

from ..core.cache import Cache, ResponseCache
from ..core.store import OnChange, OnDelete, ReadOnlyError, StoreError, Watcher, Writes, is_store_key
from ..jwt import is_account_key

__all__ = ["MemoryStore"]


class MemoryStore:
    """A dict behind a lock: the original was not thread-safe, the product must be (NEW).

    A read-only memory store is permanently empty; it exists because the config allows it.
    """

    supports_pack = True
    entries_vetted = True
    writes = Writes.INLINE

    def __init__(self, readonly: bool = False) -> None:
        self.readonly = readonly
        self.description = (
            "creating a read-only, empty, in-memory store" if readonly else "creating an in-memory store"
        )
        self._lock = threading.Lock()
        self._data: dict[str, str] = {}
        self._deleted: dict[str, tuple[int, str | None]] = {}  # key -> (tombstone iat, soft-deleted JWT)

    def make_cache(self, capacity: int) -> Cache:
        return ResponseCache(capacity)

    def watcher(self, on_change: OnChange, on_delete: OnDelete) -> Watcher | None:
        return None  # nobody else writes it

    async def start(self, on_remote_change: Callable[[str, str], None]) -> None:
        return None

    async def stop(self) -> None:
        return None

    def load(self, key: str) -> str | None:
        if not is_store_key(key):
            return None
        with self._lock:
            return self._data.get(key)

    def save(self, key: str, jwt: str) -> None:
        if self.readonly:
            raise ReadOnlyError()
        if not is_store_key(key):
            raise StoreError(f"invalid store key {key!r}")
        with self._lock:
            self._data[key] = jwt

    def pack(self, max: int = -1) -> list[tuple[str, str]]:
        if max == 0:
            return []
        with self._lock:
            items = list(self._data.items())
        return items if max < 0 else items[:max]

    def account_keys(self) -> list[str]:
        with self._lock:
            return sorted(k for k in self._data if is_account_key(k))

    def counts(self) -> tuple[int, int]:
        with self._lock:
            accounts = sum(1 for k in self._data if is_account_key(k))
            return accounts, len(self._data) - accounts

    def health(self) -> str | None:
        return None  # memory is always there

    def close(self) -> None:
        """Nothing to release; content is simply lost with the process."""

    def keys_after(self, after: str, limit: int, *, accounts: bool = True) -> list[str]:
        """The next page in key order, picked in one pass without sorting every key."""
        with self._lock:
            return heapq.nsmallest(
                limit, (k for k in self._data if k > after and is_account_key(k) == accounts)
            )

    def delete(self, key: str, iat: int, *, hard: bool) -> bool:
        """Soft keeps the JWT beside its tombstone (never served), hard keeps the tombstone only."""
        if self.readonly:
            raise ReadOnlyError()
        if not is_store_key(key):
            raise StoreError(f"invalid store key {key!r}")
        with self._lock:
            jwt = self._data.pop(key, None)
            if jwt is None:
                return False
            self._deleted[key] = (iat, None if hard else jwt)
            return True

    def tombstone(self, key: str) -> int | None:
        with self._lock:
            gone = self._deleted.get(key)
        return gone[0] if gone is not None else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)
