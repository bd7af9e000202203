"""Compare-and-set writes to a JetStream KV bucket that survive a stream leader failover.

* Every publish carries the key's last revision (`Nats-Expected-Last-Subject-Sequence`), so sending
  it twice can store it at most once: a publish whose ack never came (timeout, connection dropped)
  is simply sent again with the same header. When the second one is refused as "wrong last
  sequence", the key is read back, and if it holds exactly our JWT the first one was stored: the
  write succeeded (and is announced like any other).
* Each attempt waits at most `ATTEMPT_TIMEOUT`, and a publish in flight when the connection drops
  is abandoned at once instead of waiting out its timeout; transient failures (no stream leader
  yet, no responders, reconnecting) are retried until the write's deadline, which the default
  `timeout` sets longer than a JetStream leader election after a crash. An election keeps our
  connection (or loses it for the moment a reconnect to another node takes); a connection down for
  `DOWN_GRACE` seconds means the cluster cannot be reached, and the write fails then (503) rather
  than at its deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import nats.errors
import nats.js.errors
from nats.aio.client import Client

from ..core.store import StoreError, StoreUnavailable
from ..log import log, short_key
from ..natsclient import describe
from .kvwatch import KVView

__all__ = ["ATTEMPT_TIMEOUT", "EXPECTED_LAST", "WRONG_LAST_SEQUENCE", "KVLink", "KVWriter"]

R = TypeVar("R")
T = TypeVar("T")

EXPECTED_LAST = "Nats-Expected-Last-Subject-Sequence"
WRONG_LAST_SEQUENCE = (10071, 10164)  # JetStream API error codes of a failed compare-and-set
MAX_CONFLICTS = 20
ATTEMPT_TIMEOUT = 2.0  # seconds one publish or read may take before it is sent again
MAX_DELAY = 0.2  # seconds between retries at most: a new stream leader is used within this
DOWN_GRACE = 2.0  # seconds without a connection after which a write gives up


class Conflict(Exception):
    """The key's revision moved between our read and our write."""


class Dropped(Exception):
    """The connection dropped while a request was in flight: its outcome is unknown."""


def transient(exc: BaseException) -> bool:
    """Failures that mean 'JetStream not reachable right now' (retry, then 503), not a bad request."""
    if isinstance(exc, nats.js.errors.APIError):
        return exc.code == 503 or isinstance(exc, nats.js.errors.ServiceUnavailableError)
    return isinstance(exc, (Dropped, nats.errors.Error, asyncio.TimeoutError, OSError))


def _unsure(exc: BaseException) -> bool:
    """A failed publish that may still have been stored (sent, but no answer came)."""
    refused = (nats.errors.NoRespondersError, nats.js.errors.NoStreamResponseError, nats.js.errors.APIError)
    if isinstance(exc, refused):
        return False  # nobody took it (no stream leader), or JetStream said no
    return not isinstance(exc, (nats.errors.ConnectionReconnectingError, nats.errors.ConnectionClosedError))


async def unless(work: Awaitable[T], event: asyncio.Event, error: Callable[[], Exception]) -> T:
    """`work`'s result, or `error()` raised as soon as `event` is set first (`work` is cancelled):
    a request that must not outlive what it depends on (a connection, a permission)."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise error()
    return task.result()


class KVLink:
    """The KV connection as writes see it: the client, and whether it is up (set by its events)."""

    def __init__(self) -> None:
        self.nc: Client | None = None
        self._up = asyncio.Event()
        self._dropped = asyncio.Event()
        self.down_since: float | None = None  # monotonic time the connection went down

    def connected(self, nc: Client) -> None:
        self.nc = nc
        self._dropped = asyncio.Event()  # requests sent from now on belong to this connection
        self.down_since = None
        self._up.set()

    def disconnected(self) -> None:
        if self.down_since is None:
            self.down_since = time.monotonic()
        self._up.clear()
        self._dropped.set()

    def client(self) -> Client:
        """The connected client, else ConnectionReconnectingError (transient)."""
        nc = self.nc
        if nc is None or not nc.is_connected:
            raise nats.errors.ConnectionReconnectingError()
        return nc

    async def wait_up(self, timeout: float) -> None:
        """Until the connection is back (or `timeout` passed; the caller's retry then decides)."""
        nc = self.nc
        if nc is not None and nc.is_connected:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._up.wait(), timeout)

    async def unless_dropped(self, request: Awaitable[T]) -> T:
        """`request`'s result, or Dropped as soon as the connection it was sent on goes away."""
        return await unless(request, self._dropped, Dropped)


class KVWriter:
    """Compare-and-set writes of one bucket, retried until `timeout` seconds have passed."""

    def __init__(self, bucket: str, link: KVLink, view: KVView, timeout: float) -> None:
        self.bucket = bucket
        self.link = link
        self.view = view
        self.timeout = timeout
        self.refusal: Callable[[], str | None] = lambda: None  # why writes must fail at once

    async def save(self, key: str, jwt: str, keep: Callable[[str], R | None] | None) -> R | None:
        """Write `jwt` unless `keep(current)` says otherwise (re-applied after each lost race)."""
        data = jwt.encode()
        deadline = time.monotonic() + self.timeout
        revision, current = self.view.revision_of(key)
        sent_unsure = False  # a publish of ours may have been stored without our hearing of it
        for _ in range(MAX_CONFLICTS):
            if current == jwt and sent_unsure:  # our own publish, whose ack was lost
                log.debug(f"{short_key(key)} - stored by a publish whose ack was lost (revision {revision})")
                self.view.apply(key, revision, jwt)
                return None
            if current:
                if current == jwt:
                    return keep(current) if keep is not None else None
                if keep is not None:
                    verdict = keep(current)
                    if verdict is not None:
                        return verdict
            outcome: list[bool] = []
            try:
                written = await self._retrying(deadline, self._publisher(key, data, revision, outcome))
            except Conflict:
                revision, current = await self._retrying(deadline, lambda t: self._latest(key, t))
                continue
            finally:
                sent_unsure = sent_unsure or any(outcome)
            self.view.apply(key, written, jwt)
            return None
        raise StoreError(f"too many concurrent updates of {short_key(key)}")

    async def remove(self, key: str, marker: dict[str, str], body: bytes) -> bool:
        """Publish a removal marker (`marker`: its KV-Operation and other headers) on the key's current
        revision, retried as writes are; False when there was nothing of ours to remove (absent, or
        removed by someone else meanwhile). A re-sent marker refused as "wrong last sequence" after
        its first send went unanswered is found in place by reading the key back."""
        deadline = time.monotonic() + self.timeout
        revision, current = self.view.revision_of(key)
        if not current:
            return False
        outcome: list[bool] = []
        try:
            written = await self._retrying(deadline, self._publisher(key, body, revision, outcome, marker))
        except Conflict:
            latest, now = await self._retrying(deadline, lambda t: self._latest(key, t))
            if now:
                raise StoreError(f"{short_key(key)} changed while it was being deleted; try again") from None
            self.view.apply(key, latest, "")
            return any(outcome)  # our first send was stored; else another removal came first
        self.view.apply(key, written, "")
        return True

    def _publisher(
        self, key: str, data: bytes, last: int, outcome: list[bool], marker: dict[str, str] | None = None
    ) -> Callable[[float], Awaitable[int]]:
        async def publish(timeout: float) -> int:
            js = self.link.client().jetstream(timeout=timeout)
            headers = {EXPECTED_LAST: str(last), **(marker or {})}
            try:
                ack = await self.link.unless_dropped(
                    js.publish(f"$KV.{self.bucket}.{key}", data, headers=headers)
                )
            except nats.js.errors.APIError as exc:
                if exc.err_code in WRONG_LAST_SEQUENCE:
                    raise Conflict() from exc
                raise
            except Exception as exc:
                outcome.append(_unsure(exc))
                raise
            return int(ack.seq)

        return publish

    async def _latest(self, key: str, timeout: float) -> tuple[int, str]:
        """The key's current (revision, jwt) from the stream; jwt "" when deleted, (0, "") when absent."""
        js = self.link.client().jetstream(timeout=timeout)
        try:
            msg = await self.link.unless_dropped(
                js.get_msg(f"KV_{self.bucket}", subject=f"$KV.{self.bucket}.{key}")
            )
        except nats.js.errors.NotFoundError:
            return 0, ""
        seq = int(msg.seq or 0)
        headers = msg.headers or {}
        if headers.get("KV-Operation") in ("DEL", "PURGE"):
            return seq, ""
        return seq, (msg.data or b"").decode("utf-8", errors="replace").strip()

    async def _wait_up(self, deadline: float) -> None:
        """Until the connection is back; StoreUnavailable once it has been down DOWN_GRACE seconds."""
        since = self.link.down_since
        give_up = (since if since is not None else time.monotonic()) + DOWN_GRACE
        await self.link.wait_up(max(min(deadline, give_up) - time.monotonic(), 0))
        nc = self.link.nc
        if (nc is None or not nc.is_connected) and time.monotonic() >= give_up:
            raise StoreUnavailable(f"JetStream KV bucket {self.bucket} unavailable: not connected")

    async def _retrying(self, deadline: float, call: Callable[[float], Awaitable[T]]) -> T:
        """`call(timeout)` until it succeeds, retrying transient failures until `deadline`."""
        delay = 0.02
        while True:
            refusal = self.refusal()
            if refusal is not None:
                raise StoreUnavailable(refusal)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StoreUnavailable(f"JetStream KV bucket {self.bucket} unavailable: timeout")
            try:
                return await call(min(remaining, ATTEMPT_TIMEOUT))
            except Conflict:
                raise
            except Exception as exc:
                if not transient(exc):
                    raise StoreError(f"KV bucket {self.bucket}: {describe(exc)}") from exc
                if time.monotonic() + delay >= deadline:
                    raise StoreUnavailable(
                        f"JetStream KV bucket {self.bucket} unavailable: {describe(exc)}"
                    ) from exc
                if isinstance(exc, (Dropped, nats.errors.ConnectionReconnectingError)):
                    await self._wait_up(deadline - delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_DELAY)
