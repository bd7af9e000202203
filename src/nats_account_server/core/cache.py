"""Ready-made GET responses, so the hot path never re-verifies a signature or re-reads a file.

An entry holds what a 200 needs except Cache-Control, whose max-age depends on the clock and
is computed per request. Entries are dropped by our own writes and by the store watcher.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import field
from itertools import islice
from typing import Any, Protocol

from nats_account_server.core.checks import FirstRead
from nats_account_server.core.kinds import Kind
from nats_account_server.records import record

Headers = list[tuple[str, str]]
Run = Callable[[str], Awaitable[Any]]  # a checking process's answer to a one-line job
STALE = 3600


def cache_control(exp: int, now: float | None = None) -> str:
    """max-age is the time left until `exp`, never negative (the originals sent negatives)."""
    if exp > 0:
        left = int(exp - (time.time() if now is None else now))
        max_age = left if left > 0 else 0
    else:
        max_age = 0
    return f"max-age={max_age}, stale-while-revalidate={STALE}, stale-if-error={STALE}"


@record
class Entry:
    """One cached response of the store: the JWT as served and its headers."""

    body: bytes  # the JWT as served; the text form is derived (a cached account costs ~1 KiB)
    jti: str
    etag: str
    exp: int
    # monotonic deadline until which the response may be served as is: for ever from the local
    # store (changes drop it), a while after the primary vouched for it on a replica (0: not fresh)
    fresh_until: float = math.inf
    # the hot path's ready header lists; rebuilt when the second (and so max-age) changes
    _second: int = field(default=-1, repr=False)
    _ok: Headers = field(default_factory=list, repr=False)
    _not_modified: Headers = field(default_factory=list, repr=False)

    @property
    def jwt(self) -> str:
        return self.body.decode()

    def hot_headers(self) -> tuple[Headers, Headers]:
        """(200 headers, 304 headers) incl. `Vary`, valid for the current second.

        Without `exp`, max-age is always 0 and the lists never change; with `exp` they are
        rebuilt at most once a second, so a busy account costs one string format per second.
        """
        now = int(time.time()) if self.exp > 0 else 0
        if now != self._second:
            control = cache_control(self.exp, now) if self.exp > 0 else cache_control(0)
            self._not_modified = [("etag", self.etag), ("cache-control", control), ("vary", "Origin")]
            self._ok = [*self._not_modified, ("content-type", "application/jwt")]
            self._second = now
        return self._ok, self._not_modified


def make_entry(jwt: str, jti: str, exp: int) -> Entry:
    return Entry(body=jwt.encode(), jti=jti, etag=f'"{jti}"', exp=exp)


class Cache(Protocol):
    """What the core and the GET hot path need of a response cache (this module's ResponseCache,
    or the file stores' compact index)."""

    capacity: int
    # the ready responses only, as cheap a lookup as there is (a dict's bound ``get``: no Python
    # frame): the GET hot path tries it before ``get``, which may touch the store
    ready: Callable[[str], Entry | None]

    @property
    def reads_files(self) -> bool:
        """True when ``first_read`` can read the files of cache misses in a checking process."""
        ...

    def get(self, key: str) -> Entry | None: ...

    async def first_read(self, kind: Kind, key: str, run: Run) -> FirstRead | None:
        """The file behind `key` read, checked and sealed by a checking process (``run`` sends it
        the job); None when the process left the read to the loop, or the cache holds no files."""
        ...

    def put(self, key: str, entry: Entry) -> None: ...

    def drop(self, key: str) -> None: ...

    def clear(self) -> None: ...

    def __len__(self) -> int: ...


class ResponseCache:
    """A bounded map; when full, the oldest inserted entries go first (cheap FIFO eviction)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = max(0, capacity)
        self._items: dict[str, Entry] = {}
        self.ready: Callable[[str], Entry | None] = self._items.get  # only ever cleared, never replaced

    @property
    def reads_files(self) -> bool:
        return False

    def get(self, key: str) -> Entry | None:
        return self._items.get(key)

    async def first_read(self, kind: Kind, key: str, run: Run) -> FirstRead | None:
        return None

    def put(self, key: str, entry: Entry) -> None:
        if self.capacity == 0:
            return
        items = self._items
        if key not in items and len(items) >= self.capacity:
            # dicts keep insertion order: drop a small batch of the oldest at once
            for old in list(islice(items, max(1, self.capacity // 64))):
                del items[old]
        items[key] = entry

    def drop(self, key: str) -> None:
        self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
