"""Replica mode: the core's source is a primary account server in front of the local store.

A replica serves its local copy while the primary's answer is "fresh" (one hour after a fetch or a
NATS update), asks the primary otherwise, and keeps serving the local copy when the primary is down,
so a fleet of replicas behind a load balancer survives primary outages. What the primary sends is
judged by the one acceptance rule (as a stored copy) before it is stored or served.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from enum import Enum
from typing import Protocol

import httpx

from nats_account_server.core.acceptance import Refused, accept
from nats_account_server.core.cache import Entry, cache_control
from nats_account_server.core.kinds import Kind
from nats_account_server.core.service import Failure
from nats_account_server.core.source import Loaded, Local
from nats_account_server.core.store import StoreError
from nats_account_server.core.trust import Trust
from nats_account_server.jwt import is_account_key, is_activation_hash
from nats_account_server.jwt.codec import MAX_TOKEN_SIZE
from nats_account_server.log import bounded, log, short_key
from nats_account_server.oserrors import error_text
from nats_account_server.records import record

FRESH_FOR = 3600.0  # seconds a primary answer (or NATS update) is trusted without asking again
PROGRESS_EVERY = 10_000  # pack lines between progress log lines during the startup import
RETRY_AFTER = 2.0  # seconds without primary contact after a network error (not per request)


JWT_LIMIT = MAX_TOKEN_SIZE + 2  # bytes of one JWT answer (a trailing newline allowed)
PACK_LINE = 8 * 1024  # bytes per JWT of the startup pack, on average (a nsc account JWT is ~1 KiB)
PACK_LIMIT = 256 * 1024 * 1024  # bytes of the startup pack when its number of JWTs is not capped


def pack_limit(max_items: int) -> int:
    """The bytes a startup pack of at most `max_items` JWTs may take."""
    return min(max_items * PACK_LINE, PACK_LIMIT) if max_items > 0 else PACK_LIMIT


class PrimaryError(Exception):
    """The primary's answer broke a bound: too large, or not complete in time."""


@record(frozen=True)
class Answer:
    status: int
    reason: str
    body: bytes

    @property
    def status_line(self) -> str:
        """Go's `resp.Status`, e.g. `400 Bad Request`, which the original log lines show."""
        return f"{self.status} {self.reason}".strip()


class Outcome(Enum):
    FOUND = "found"
    NOT_FOUND = "not found"
    ERROR = "error"


class Merging(Local, Protocol):
    """The core as the startup import needs it: it also merges a pack under the newer-wins rule."""

    async def merge(self, body: list[str], progress: Callable[[int, int], None] | None = None) -> int: ...


class Replica:
    """The core's source in replica mode: the primary connection and per-key freshness promises."""

    settled = False  # a ready response is only served as is while the primary's promise holds

    def __init__(self, primary_url: str, trust: Trust, timeout: float | None = 5.0) -> None:
        """`timeout`: seconds for a whole answer of the primary; None (`replicationtimeout: 0`,
        as with Go's HTTP client) for none."""
        self.trust = trust
        self.primary = primary_url
        self.base = primary_url.rstrip("/")
        # system trust store (as Go's client), one idle connection per host (as the original)
        self.timeout = timeout
        self.client = httpx.AsyncClient(
            timeout=timeout,
            limits=httpx.Limits(max_keepalive_connections=1),
            verify=ssl.create_default_context(),
            follow_redirects=True,
        )
        self._fresh: dict[str, float] = {}
        self._prune_at = 4096
        self._down_until = 0.0  # monotonic; while in the future the primary is considered down
        self._flights: dict[tuple[Kind, str], asyncio.Future[tuple[Outcome, str | None]]] = {}

    @property
    def reachable(self) -> bool:
        return not self._down_until

    # ------------------------------------------------------------- freshness

    def vouch(self, key: str) -> None:
        """The primary (HTTP answer or NATS update) just vouched for our copy of `key`."""
        now = time.monotonic()
        if len(self._fresh) >= self._prune_at:  # forget lapsed promises, amortised
            self._fresh = {k: t for k, t in self._fresh.items() if t > now}
            self._prune_at = max(4096, 2 * len(self._fresh))
        self._fresh[key] = now + FRESH_FOR

    def fresh_until(self, key: str) -> float:
        """Monotonic end of the freshness of `key`, 0 when it is not (or no longer) fresh."""
        deadline = self._fresh.get(key, 0.0)
        return deadline if deadline > time.monotonic() else 0.0

    def cache_control(self, entry: Entry) -> str | None:
        """With a future `exp` the stale windows end with our freshness (none when not fresh)."""
        now = time.time()
        if entry.exp > 0 and int(entry.exp - now) > 0:
            left = entry.fresh_until - time.monotonic() if entry.fresh_until else 0.0
            if left <= 0:
                return None
            stale = int(left)
            return f"max-age={int(entry.exp - now)}, stale-while-revalidate={stale}, stale-if-error={stale}"
        return cache_control(entry.exp, now)

    # ------------------------------------------------------------ GET (7.3)

    @staticmethod
    def _local(store: Local, key: str) -> str | None:
        try:
            return store.load_local(key) or None
        except Failure:
            return None  # logged by the core; the primary may still have it

    async def load(self, kind: Kind, key: str, local: Local) -> Loaded | None:
        """The JWT to serve for `key`: fresh local copy, else the primary's, else the local copy."""
        jwt = await self.fetch(kind, key, local)
        return Loaded(jwt, True) if jwt else None

    async def fetch(self, kind: Kind, key: str, local: Local) -> str | None:
        valid = is_account_key(key) if kind is Kind.ACCOUNT else is_activation_hash(key)
        if not valid:
            return None  # never build a primary URL from something that is not a key
        copy = self._local(local, key)
        if copy and self.fresh_until(key):
            return copy
        if self._down_until > time.monotonic():
            # a down (or black-holed) primary must not cost every request a full timeout
            return copy
        flight_key = (kind, key)
        flight = self._flights.get(flight_key)
        if flight is None:
            # one primary request per key, however many clients ask at the same time
            flight = asyncio.ensure_future(self._fetch(kind, key, copy, local))
            self._flights[flight_key] = flight
            flight.add_done_callback(lambda _f: self._flights.pop(flight_key, None))
        outcome, jwt = await asyncio.shield(flight)
        if outcome is Outcome.FOUND:
            return jwt
        if outcome is Outcome.NOT_FOUND:
            return None
        return copy or self._local(local, key)

    async def _fetch(
        self, kind: Kind, key: str, copy: str | None, local: Local
    ) -> tuple[Outcome, str | None]:
        url = f"{self.base}/jwt/v1/{kind.value}/{key}"
        try:
            resp = await self._get(url, JWT_LIMIT)
        except Exception as exc:  # network errors, timeouts, TLS: all mean "primary unavailable"
            if not self._down_until:
                log.error(
                    f"{short_key(key)} - primary {self.primary} unavailable, serving local copies"
                    f" - {error_text(exc)}"
                )
            self._down_until = time.monotonic() + RETRY_AFTER
            return Outcome.ERROR, None
        if self._down_until:
            self._down_until = 0.0
            log.info("primary is reachable again")
        if resp.status == 404:
            log.debug(f"{short_key(key)} - primary has no JWT")
            return Outcome.NOT_FOUND, None
        if resp.status != 200:
            log.error(f'{short_key(key)} - unable to load JWT from primary - status "{resp.status_line}"')
            return Outcome.ERROR, None
        jwt = resp.body.decode("utf-8", errors="replace").strip()
        problem = self.check(kind, key, jwt)
        if problem:
            log.error(f"{short_key(key)} - primary sent an invalid JWT - {problem}")
            return Outcome.ERROR, None
        if jwt != copy:
            try:
                await local.save(key, jwt)
            except (StoreError, OSError) as exc:
                # serve the primary's answer, but do not promise freshness for a copy we lack
                log.error(f"{short_key(key)} - error saving JWT from primary - {error_text(exc)}")
                return Outcome.FOUND, jwt
        self.vouch(key)
        log.trace(f"{short_key(key)} - loaded JWT from primary")
        return Outcome.FOUND, jwt

    def check(self, kind: Kind, key: str, jwt: str) -> str | None:
        """Why the primary's answer must not be stored or served (None when it is acceptable)."""
        try:
            accept(self.trust, kind, jwt, key, stored=True)
        except Refused as exc:
            return str(exc)
        return None

    # ---------------------------------------------------- startup import (7.2)

    async def initial_import(self, local: Merging, max_items: int) -> int:
        """Fill the local store from the primary's pack; a missing primary is not fatal."""
        if max_items == 0:
            log.info("skipping initial JWT pack from primary, config has MaxReplicationPack of 0")
            return 0
        log.info(f"grabbing initial JWT pack from primary {self.primary}")
        url = f"{self.base}/jwt/v1/pack"
        try:
            resp = await self._get(url, pack_limit(max_items), {"max": str(max_items)})
            if resp.status == 400:
                # a primary with a lower cap refuses our max: take what it allows
                refusal = bounded(resp.body.decode("utf-8", errors="replace").strip())
                log.debug(f'primary refused max={max_items} ("{refusal}"), retrying without max')
                resp = await self._get(url, pack_limit(max_items))
        except Exception as exc:
            log.info(f"unable to initialize from primary, {error_text(exc)}, will use what is on disk")
            return 0
        if resp.status != 200:
            log.info(
                f'unable to initialize from primary, server returned status "{resp.status_line}", '
                "will use what is on disk"
            )
            return 0
        lines = [line for line in resp.body.decode("utf-8", errors="replace").split("\n") if line.strip()]
        if max_items > 0:
            lines = lines[:max_items]
        return await self._merge(local, lines)

    async def _merge(self, local: Merging, lines: list[str]) -> int:
        """Merge through the core, logging progress so a large pack is not a silent pause."""
        total = len(lines)

        def progress(done: int, total: int) -> None:
            if total > PROGRESS_EVERY and (done % PROGRESS_EVERY == 0 or done == total):
                log.info(f"imported {done} of {total} JWTs from primary")

        saved = await local.merge(lines, progress)
        log.info(f"initial JWT pack from primary: {total} received, {saved} stored")
        return saved

    async def _get(self, url: str, limit: int, params: dict[str, str] | None = None) -> Answer:
        """One GET of the primary, bounded: at most `limit` bytes of body, and the whole answer within
        the replication timeout (a primary trickling bytes must not hold a GET or the start)."""
        try:
            async with asyncio.timeout(self.timeout):
                async with self.client.stream("GET", url, params=params) as resp:
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in resp.aiter_bytes():
                        size += len(chunk)
                        if size > limit:
                            raise PrimaryError(f"the primary's answer exceeds {limit} bytes")
                        chunks.append(chunk)
                    return Answer(resp.status_code, resp.reason_phrase, b"".join(chunks))
        except TimeoutError:
            raise PrimaryError(
                f"no complete answer from the primary within {self.timeout or 0:g} s"
            ) from None

    async def stop(self) -> None:
        await self.client.aclose()
