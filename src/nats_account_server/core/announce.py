"""Which keys this instance announced lately, so that its last announcement is the newest JWT.

Where other instances write the same store (a shared JetStream KV bucket), two instances can accept
versions of one account close together, and their `CLAIMS.UPDATE` announcements can reach a
nats-server in either order: nats-server applies whatever arrives last, without comparing `iat`.
Two rules close that gap:

* an announcement carries what the store holds for the key at that moment, which is the newest
  version (the bucket only ever takes a newer `iat`), not necessarily the upload that caused it;
* when the bucket brings another instance's version of a key this instance announced in the last
  `WINDOW` seconds, this instance announces again.

An instance's announcements leave on one connection, in order, so the last announcement any
instance makes for a key carries the newest version. Keys are remembered only where other
writers exist, and only for `WINDOW` seconds (at most `KEPT` of them), so an upload storm costs a
bounded amount of memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["KEPT", "WINDOW", "Announced"]

WINDOW = 10.0  # seconds: far longer than announcements of one moment can be reordered by
KEPT = 50_000


class Announced:
    """Recent announcements by key; `load` is the store's (local, cheap) read, given only when other
    instances write the same store. Without it nothing is remembered and announcements carry the
    upload's JWT."""

    def __init__(self, load: Callable[[str], str | None] | None = None, window: float = WINDOW) -> None:
        self.load = load
        self.window = window
        # key -> (when, what) announced; insertion order is time order
        self._at: dict[str, tuple[float, str]] = {}

    def newest(self, key: str, jwt: str) -> str:
        """What to announce for `key` now: the store's current JWT where others write the store."""
        if self.load is None:
            return jwt
        try:
            return self.load(key) or jwt
        except Exception:  # an unreadable entry: announce what we were given
            return jwt

    def mark(self, key: str, jwt: str) -> None:
        """`jwt` is being announced for `key` now (marked before the publish, so that a change
        arriving while it is under way is announced after it)."""
        if self.load is None:
            return
        at = self._at
        now = time.monotonic()
        at.pop(key, None)
        at[key] = (now, jwt)
        horizon = now - self.window
        while at:  # drop from the oldest end: what left the window, and beyond KEPT keys
            first = next(iter(at))
            if at[first][0] >= horizon and len(at) <= KEPT:
                break
            del at[first]

    def again(self, key: str, jwt: str) -> bool:
        """Must `jwt`, just stored for `key` by another instance, be announced again: did this
        instance announce another version of `key` within the window?"""
        last = self._at.get(key)
        return last is not None and last[1] != jwt and time.monotonic() - last[0] <= self.window

    def __len__(self) -> int:
        return len(self._at)
