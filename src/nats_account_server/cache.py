"""Ready-made GET responses, so the hot path never re-verifies a signature or re-reads a file.

An entry holds what a 200 needs except Cache-Control, whose max-age depends on the clock and
is computed per request. Entries are dropped by our own writes and by the store watcher.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Entry:
    jwt: str
    body: bytes
    jti: str
    etag: str
    exp: int
    # replica mode: monotonic deadline of the primary's freshness promise (0 = not fresh)
    fresh_until: float = 0.0


def make_entry(jwt: str, jti: str, exp: int) -> Entry:
    return Entry(jwt=jwt, body=jwt.encode(), jti=jti, etag=f'"{jti}"', exp=exp)


class ResponseCache:
    """A bounded map; when full, the oldest inserted entries go first (cheap FIFO eviction)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = max(0, capacity)
        self._items: dict[str, Entry] = {}

    def get(self, key: str) -> Entry | None:
        return self._items.get(key)

    def put(self, key: str, entry: Entry) -> None:
        if self.capacity == 0:
            return
        items = self._items
        if key not in items and len(items) >= self.capacity:
            # dicts keep insertion order: drop a small batch of the oldest at once
            for old in list(items)[: max(1, self.capacity // 64)]:
                del items[old]
        items[key] = entry

    def drop(self, key: str) -> None:
        self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
