"""The full resolver's sync hash: XOR of SHA-256 over the exact bytes of every non-expired account JWT.

It must equal nats-server's directory-store hash for byte-identical JWT sets, otherwise full
resolvers and this server would ship their whole stores to each other on every sync period.

Nothing per account is kept: the hash is the running XOR, computed once by streaming the store
(``scan``, in a worker thread) and then kept current by our writes. A write takes out the digest of
what its key held and puts in the new one; what the key held is read just before the write
(``before_write``, on the write's IO job), so no record per account is needed to undo it. Only a
JWT with an expiry leaves a small record (its expiry, a digest prefix and its key, ~130 bytes) in a
heap, because it leaves the hash when it expires, without anybody writing. A change we did not
write ourselves (a hand edit the watcher saw, another instance's write to a KV bucket) has no
"before": the hash is then stale and the sync scans the store again.
"""

from __future__ import annotations

import hashlib
import heapq
import struct
import time
from collections.abc import Callable, Container, Iterable
from dataclasses import field

from nats_account_server.jwt import JWTError, is_account_key, peek_claims
from nats_account_server.records import record

ZERO = bytes(32)
BEFORE_KEPT = 65_536  # keys whose write is in flight (or failed); beyond that the hash is rescanned
_EXP = struct.Struct(">q")  # big-endian: the heap's bytes sort by expiry first
_PREFIX = 8  # digest bytes kept with an expiry: enough to tell the JWT that expires from a newer one

Read = Callable[[str], "str | None"]  # the stored JWT of a key (blocking), None when absent


def jwt_exp(jwt: str) -> int:
    """`exp` of a stored JWT (0 when absent or unreadable: such a JWT never expires for the hash)."""
    try:
        return peek_claims(jwt).exp
    except (JWTError, ValueError):
        return 0


def is_expired(exp: int, now: int) -> bool:
    return exp > 0 and exp <= now


def digest_of(jwt: str) -> bytes:
    return hashlib.sha256(jwt.encode()).digest()


def _xor(value: int, digest: bytes) -> int:
    return value ^ int.from_bytes(digest, "big")


def _expiry(exp: int, digest: bytes, key: str) -> bytes:
    return _EXP.pack(exp) + digest[:_PREFIX] + key.encode()


@record
class Scanned:
    """What a pass over the store found: the XOR, the expiry records, the keys it left out."""

    value: int = 0
    count: int = 0
    now: int = 0
    expiry: list[bytes] = field(default_factory=list)
    skipped: set[str] = field(default_factory=set)


def scan(items: Iterable[tuple[str, str]], now: int | None = None, touched: Container[str] = ()) -> Scanned:
    """The hash of the non-expired account JWTs among ``items`` (streamed: pure, for a thread).

    A key in ``touched`` (a write to it began; checked after its file was read) is left out and
    named in ``skipped``: the writes' own records put it in (see ``StoreHash.install``).
    """
    found = Scanned(now=int(time.time()) if now is None else now)
    for key, jwt in items:
        if not jwt or not is_account_key(key):
            continue
        if key in touched:
            found.skipped.add(key)
            continue
        exp = jwt_exp(jwt)
        if is_expired(exp, found.now):
            continue
        digest = digest_of(jwt)
        found.value = _xor(found.value, digest)
        found.count += 1
        if exp:
            found.expiry.append(_expiry(exp, digest, key))
    heapq.heapify(found.expiry)
    return found


Held = tuple[bytes, int] | None  # (digest, exp) of what a key held before a write; None: nothing


class StoreHash:
    """Running XOR over the store, kept by our writes; ``stale`` when a change had no "before"."""

    def __init__(self, read: Read) -> None:
        self._read = read
        self._h = 0
        self._until = 0  # JWTs expiring at or before this second are out of the hash
        self._expiry: list[bytes] = []
        # key -> what it held when its write began; read on the IO job before the write
        self._before: dict[str, Held] = {}
        # writes seen while a scan runs: key -> the latest JWT (None until the first scan ends)
        self._pending: dict[str, str] | None = {}
        self.stale = False  # the hash missed a change: the sync scans the store again

    @property
    def ready(self) -> bool:
        return self._pending is None and not self.stale

    @property
    def scanning(self) -> bool:
        return self._pending is not None

    def touched(self) -> Container[str]:
        """The keys a scan must leave out: those with a write begun (see ``scan``)."""
        return self._before

    def begin_scan(self) -> None:
        """A scan starts: writes are recorded until ``install``."""
        self._pending = {}
        self.stale = False

    def before_write(self, key: str) -> None:
        """A write of ``key`` is about to happen (called on the write's IO job, before it): remember
        what the key holds, which the write's ``update`` takes out of the hash."""
        if not is_account_key(key):
            return
        try:
            jwt = self._read(key)
        except Exception:
            jwt = None  # unreadable: it was left out of the hash as well (scan skips such files)
        held: Held = None
        if jwt:
            held = (digest_of(jwt), jwt_exp(jwt))
        if self._pending is not None and key in self._before:
            return  # during a scan the first "before" counts: the scan may have read that one
        if len(self._before) >= BEFORE_KEPT:
            self._before.clear()
            self.stale = True
        self._before[key] = held

    def update(self, key: str, jwt: str) -> None:
        """Saved-hook: `key` now holds `jwt` (empty string = removed)."""
        if not is_account_key(key):
            return
        if self._pending is not None:
            self._pending[key] = jwt
            return
        if key not in self._before:
            self.stale = True  # not our write: what the key held before is unknown
            return
        self._take_out(self._before.pop(key))
        self._put_in(key, jwt)

    def install(self, found: Scanned) -> None:
        """Finish a scan: take its result, then apply the writes that ran alongside it.

        A key the scan read before its write began holds, in the hash, what the write's "before"
        read: that comes out. A key it left out (``skipped``) is not in the hash: its write's
        result, or for a write still in flight its "before", goes in.
        """
        pending, self._pending = self._pending or {}, None
        self._h, self._until, self._expiry = found.value, found.now, found.expiry
        for key, jwt in pending.items():
            if key not in self._before:
                self.stale = True  # a change we did not write: unknown whether the scan saw it
                continue
            held = self._before.pop(key)
            if key not in found.skipped:
                self._take_out(held)
            self._put_in(key, jwt)
        for key in found.skipped.difference(pending):
            held = self._before.get(key)
            if held is not None:
                self._put_in_held(key, held)

    def value(self, now: int | None = None) -> bytes:
        """The 32-byte hash as of `now` (expired JWTs dropped first)."""
        now = int(time.time()) if now is None else now
        while self._expiry and _EXP.unpack_from(self._expiry[0])[0] <= now:
            self._expire(heapq.heappop(self._expiry))
        self._until = max(self._until, now)
        return self._h.to_bytes(32, "big")

    def __len__(self) -> int:
        """Expiry records held: the only memory the hash keeps per account."""
        return len(self._expiry)

    def _expire(self, record: bytes) -> None:
        """Take out the JWT of an expiry record if its key still holds it."""
        exp, prefix, key = (
            _EXP.unpack_from(record)[0],
            record[8 : 8 + _PREFIX],
            record[8 + _PREFIX :].decode(),
        )
        if key in self._before:  # a write is in flight: its "before" is what the hash holds
            held = self._before[key]
            if held is not None and held[1] == exp and held[0][:_PREFIX] == prefix:
                self._h = _xor(self._h, held[0])
                self._before[key] = None
            return
        try:
            jwt = self._read(key)
        except Exception:
            jwt = None
        if jwt:
            digest = digest_of(jwt)
            if digest[:_PREFIX] == prefix and jwt_exp(jwt) == exp:
                self._h = _xor(self._h, digest)

    def _included(self, exp: int) -> bool:
        return exp == 0 or exp > self._until

    def _take_out(self, held: Held) -> None:
        if held is not None and self._included(held[1]):
            self._h = _xor(self._h, held[0])

    def _put_in(self, key: str, jwt: str) -> None:
        if jwt:
            self._put_in_held(key, (digest_of(jwt), jwt_exp(jwt)))

    def _put_in_held(self, key: str, held: tuple[bytes, int]) -> None:
        digest, exp = held
        if self._included(exp):
            self._h = _xor(self._h, digest)
            if exp:
                heapq.heappush(self._expiry, _expiry(exp, digest, key))
