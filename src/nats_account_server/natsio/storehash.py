"""The full resolver's sync hash: XOR of SHA-256 over the exact bytes of every non-expired account JWT.

It must equal nats-server's directory-store hash for byte-identical JWT sets, otherwise full
resolvers and this server would ship their whole stores to each other on every sync period.
Maintained incrementally from `Core.saved_hooks`, so a sync tick never walks the store; expiry is
handled with a heap, because a JWT can expire without anybody writing to the store.
"""

from __future__ import annotations

import hashlib
import heapq
import time
from collections.abc import Iterable

from nats_account_server.jwt import JWTError, is_account_key, peek_claims

ZERO = bytes(32)


def jwt_exp(jwt: str) -> int:
    """`exp` of a stored JWT (0 when absent or unreadable: such a JWT never expires for the hash)."""
    try:
        return peek_claims(jwt).exp
    except (JWTError, ValueError):
        return 0


def is_expired(exp: int, now: int) -> bool:
    return exp > 0 and exp <= now


def digest_of(jwt: str) -> int:
    return int.from_bytes(hashlib.sha256(jwt.encode()).digest(), "big")


Entries = dict[str, tuple[int, int]]  # key -> (digest, exp)


def scan(items: Iterable[tuple[str, str]], now: int | None = None) -> Entries:
    """Digests of the non-expired account JWTs among pack items; pure, so it can run in a thread."""
    now = int(time.time()) if now is None else now
    out: Entries = {}
    for key, jwt in items:
        if not is_account_key(key) or not jwt:
            continue
        exp = jwt_exp(jwt)
        if not is_expired(exp, now):
            out[key] = (digest_of(jwt), exp)
    return out


class StoreHash:
    """Running XOR; `update` is cheap (one SHA-256), `value` only pops expired entries."""

    def __init__(self) -> None:
        self._h = 0
        self._entries: Entries = {}
        self._expiry: list[tuple[int, str, int]] = []
        # writes seen while the initial scan runs; re-applied on top of the scan (last one wins)
        self._pending: dict[str, str] | None = {}

    @property
    def ready(self) -> bool:
        return self._pending is None

    def update(self, key: str, jwt: str) -> None:
        """Saved-hook: `key` now holds `jwt` (empty string = removed)."""
        if not is_account_key(key):
            return
        if self._pending is not None:
            self._pending[key] = jwt
            return
        self._remove(key)
        if jwt:
            exp = jwt_exp(jwt)
            if not is_expired(exp, int(time.time())):
                self._add(key, digest_of(jwt), exp)

    def install(self, entries: Entries) -> None:
        """Finish the initial scan: take its result, then replay writes that raced with it."""
        pending, self._pending = self._pending or {}, None
        self._h = 0
        self._entries = {}
        self._expiry = []
        for key, (digest, exp) in entries.items():
            self._add(key, digest, exp)
        for key, jwt in pending.items():
            self.update(key, jwt)

    def value(self, now: int | None = None) -> bytes:
        """The 32-byte hash as of `now` (expired JWTs dropped first)."""
        now = int(time.time()) if now is None else now
        while self._expiry and self._expiry[0][0] <= now:
            exp, key, digest = heapq.heappop(self._expiry)
            if self._entries.get(key) == (digest, exp):
                self._remove(key)
        return self._h.to_bytes(32, "big")

    def __len__(self) -> int:
        return len(self._entries)

    def _add(self, key: str, digest: int, exp: int) -> None:
        self._h ^= digest
        self._entries[key] = (digest, exp)
        if exp > 0:
            heapq.heappush(self._expiry, (exp, key, digest))

    def _remove(self, key: str) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._h ^= old[0]
