"""The local view of a JetStream KV bucket and the watch that keeps it current.

Reads of the KV store never touch the network: they are answered from `KVView`, a dict fed by an
ordered push consumer on the bucket's stream (last value per key first, then every new revision).
nats-py's ordered consumer recreates itself from the last stream sequence it saw whenever its idle
heartbeats stop (node lost, whole cluster restarted), so the view resumes without our help; we
only pick a short heartbeat so that happens within a couple of seconds.

Each recreation (nats-py's, or ours after a reconnect) leaves the previous consumer on the stream,
where it would count against the account's consumer limit. So a consumer we replace or stop is
deleted (best effort: its node may be down, or the user not allowed to), and every consumer has a
short inactivity threshold: one nobody listens to any more goes away by itself within
`INACTIVE_THRESHOLD` seconds of its node being up. nats-server does not always expire one that
was restored on a restarted node without a listener, and nats-py does not say which consumers its
own recreations left; so every `SWEEP_EVERY` seconds the stream's consumers are listed and those
delivering to this connection's inbox prefix that nobody listens to (and older than the threshold,
so a new one whose subscription is on its way is spared) are deleted. The bucket's stream thus
keeps one consumer per running instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import threading
import time
from collections.abc import Callable
from typing import Any

from nats.aio.msg import Msg
from nats.js import JetStreamContext, api

from ..core.store import StoreUnavailable, is_store_key
from ..jwt import is_account_key
from ..log import log, short_key
from ..oserrors import error_text

__all__ = ["KVView", "KVWatch"]

KV_OPERATION = "KV-Operation"
MARKER_REASON = "Nats-Marker-Reason"
PROGRESS_EVERY = 2.0  # seconds between catch-up progress lines
INACTIVE_THRESHOLD = 5.0  # seconds a consumer without a listener lives on
DELETE_TIMEOUT = 1.0  # seconds a best-effort consumer deletion may take
SWEEP_EVERY = 5.0  # seconds between two looks for consumers of ours nobody listens to


class KVView:
    """key -> (revision, jwt); a revision never goes backwards, deleted keys keep their revision."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, tuple[int, str]] = {}  # jwt "" = deleted (tombstone)
        self.revision = 0  # highest stream sequence applied

    def get(self, key: str) -> str | None:
        with self._lock:
            item = self._data.get(key)
        return item[1] if item and item[1] else None

    def revision_of(self, key: str) -> tuple[int, str]:
        """(revision, jwt) for the compare-and-set of the next write: jwt "" if deleted, (0, "") if absent."""
        with self._lock:
            return self._data.get(key, (0, ""))

    def apply(self, key: str, revision: int, jwt: str) -> bool:
        """Take a newer revision (``jwt`` "" = deleted); False when we already had this or a newer one."""
        with self._lock:
            current = self._data.get(key)
            if current is not None and current[0] >= revision:
                return False
            self._data[key] = (revision, jwt)
            self.revision = max(self.revision, revision)
            return True

    def replace(self, fresh: KVView) -> list[tuple[str, str]]:
        """Take `fresh`'s contents as they are (revisions may be lower: a new stream); the keys whose
        JWT changed, with their new JWT ("" for a key the fresh view does not serve)."""
        with fresh._lock:
            data, revision = dict(fresh._data), fresh.revision
        with self._lock:
            old, self._data, self.revision = self._data, data, revision
        changed = []
        for key in old.keys() | data.keys():
            before, after = old.get(key, (0, ""))[1], data.get(key, (0, ""))[1]
            if before != after:
                changed.append((key, after))
        return sorted(changed)

    def items(self) -> list[tuple[str, str]]:
        with self._lock:
            return [(k, jwt) for k, (_, jwt) in self._data.items() if jwt]

    def account_keys(self) -> list[str]:
        with self._lock:
            return sorted(k for k, (_, jwt) in self._data.items() if jwt and is_account_key(k))

    def __len__(self) -> int:
        with self._lock:
            return sum(1 for _, jwt in self._data.values() if jwt)

    def counts(self) -> tuple[int, int]:
        """(accounts, activations) in the view, deleted keys left out."""
        with self._lock:
            accounts = activations = 0
            for key, (_, jwt) in self._data.items():
                if jwt:
                    if is_account_key(key):
                        accounts += 1
                    else:
                        activations += 1
            return accounts, activations


class KVWatch:
    """Feeds a `KVView` from the bucket's stream; `on_change` fires for changes seen after catch-up."""

    def __init__(
        self,
        js: JetStreamContext,
        bucket: str,
        view: KVView,
        on_change: Callable[[str, str], None],
        *,
        heartbeat: float = 1.0,
        vet: Callable[[str, str], str | None] | None = None,
        connected: Callable[[], bool] = lambda: True,
        inbox_prefix: str = "",
        may_list: Callable[[], bool] = lambda: True,
    ) -> None:
        self.js = js
        self.connected = connected  # whether a consumer deletion can reach JetStream now
        self.inbox_prefix = inbox_prefix  # this connection's inboxes ("": no sweep)
        self.may_list = may_list  # False once the server refused us the consumer list
        self._sweeper: asyncio.Task[None] | None = None
        self.vet = vet
        self.bucket = bucket
        self.stream = f"KV_{bucket}"
        self.prefix = f"$KV.{bucket}."
        self.view = view
        self.on_change = on_change
        self.heartbeat = heartbeat
        self.caught_up = asyncio.Event()
        self.received = 0
        self.stream_seq = 0  # last stream sequence the watch itself delivered (own writes excluded)
        self._total = 0
        self._sub: JetStreamContext.PushSubscription | None = None
        self._consumer = ""  # the name of the consumer we created for `_sub` (nats-py may replace it)
        self._ignored: set[str] = set()
        self._resync: asyncio.Task[None] | None = None
        self._stopped = False

    async def start(self, stall_timeout: float) -> None:
        """Subscribe and return once every key present at subscription time is in the view.

        Raises StoreUnavailable when the watch makes no progress for ``stall_timeout`` seconds.
        """
        started = time.monotonic()
        self._sub = await self._subscribe()
        info = await self._sub.consumer_info()
        self._consumer = info.name
        delivered = info.delivered.consumer_seq if info.delivered is not None else 0
        self._total = (info.num_pending or 0) + (delivered or 0)
        if info.num_pending == 0 and not delivered:
            # an empty bucket: no message will come to say "caught up" (when something was delivered,
            # the last message carries num_pending 0, even if our callback has not run yet)
            self.caught_up.set()
        log.info(f"loading JWTs from KV bucket {self.bucket}: {self._total} entries")
        last_count, last_progress = -1, time.monotonic()
        while not self.caught_up.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.caught_up.wait(), PROGRESS_EVERY)
            if self.caught_up.is_set():
                break
            now = time.monotonic()
            if self.received != last_count:
                last_count, last_progress = self.received, now
                log.info(f"loading JWTs from KV bucket {self.bucket}: {self.received} of {self._total}")
            elif now - last_progress > stall_timeout:
                raise StoreUnavailable(
                    f"KV bucket {self.bucket}: no progress loading JWTs for {stall_timeout:g}s "
                    f"({self.received} of {self._total} received)"
                )
        log.info(
            f"loaded {len(self.view)} JWTs from KV bucket {self.bucket} (revision {self.view.revision}) "
            f"in {time.monotonic() - started:.2f}s"
        )
        if self.inbox_prefix:
            self._sweeper = asyncio.create_task(self._sweep_loop())

    async def _sweep_loop(self) -> None:
        while self.may_list():
            await asyncio.sleep(SWEEP_EVERY)
            if not self.connected():
                continue
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # not reachable now (or not permitted: may_list says so)
                log.debug(f"KV bucket {self.bucket}: listing consumers failed - {error_text(exc)}")

    async def sweep(self) -> list[str]:
        """Delete the consumers delivering to our inboxes that nobody listens to; their names."""
        infos = await asyncio.wait_for(self.js.consumers_info(self.stream), 2 * DELETE_TIMEOUT)
        now = datetime.datetime.now(datetime.UTC)
        old = datetime.timedelta(seconds=INACTIVE_THRESHOLD)
        stale = [
            info.name
            for info in infos
            if (info.config.deliver_subject or "").startswith(f"{self.inbox_prefix}.")
            and not info.push_bound
            and info.created is not None
            and now - info.created > old
        ]
        for name in stale:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.js.delete_consumer(self.stream, name), DELETE_TIMEOUT)
        if stale:
            log.debug(f"KV bucket {self.bucket}: deleted {len(stale)} consumers nobody listened to")
        return stale

    async def _subscribe(self) -> JetStreamContext.PushSubscription:
        """Last value per key on first start; after that, everything past what we have seen."""
        config = api.ConsumerConfig(inactive_threshold=INACTIVE_THRESHOLD)
        if self.stream_seq:
            config.deliver_policy = api.DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = self.stream_seq + 1
        else:
            config.deliver_policy = api.DeliverPolicy.LAST_PER_SUBJECT
        return await self.js.subscribe(
            f"{self.prefix}>",
            stream=self.stream,
            cb=self._on_msg,
            config=config,
            ordered_consumer=True,
            idle_heartbeat=self.heartbeat,
        )

    def resync(self) -> None:
        """After a reconnect the consumer may be gone (its node died, or the whole cluster restarted):
        replace it now rather than after missed heartbeats. The old one is dropped only once the new
        one exists; both delivering for a moment is harmless, revisions are applied once."""
        if self._stopped or self._sub is None or (self._resync is not None and not self._resync.done()):
            return
        self._resync = asyncio.create_task(self._replace())

    async def _replace(self) -> None:
        delay = 0.1
        for _ in range(20):
            if self._stopped:
                return
            try:
                new = await self._subscribe()
            except Exception as exc:  # JetStream not ready yet; nats-py's own reset keeps trying too
                log.debug(f"KV bucket {self.bucket}: re-creating the watch failed - {error_text(exc)}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            name = await self._name_of(new)
            if self._stopped:  # stop() ran meanwhile and already dropped the old one
                await self._drop(new, name)
                return
            old, self._sub = self._sub, new
            old_name, self._consumer = self._consumer, name
            if old is not None:
                await self._drop(old, old_name)
            log.debug(f"KV bucket {self.bucket}: watch re-created from revision {self.stream_seq + 1}")
            return

    async def stop(self) -> None:
        """Unsubscribe and delete our consumer (best effort, bounded by DELETE_TIMEOUT)."""
        self._stopped = True
        for task in (self._resync, self._sweeper):
            if task is not None:
                task.cancel()
        sub, self._sub = self._sub, None
        if sub is not None:
            await self._drop(sub, self._consumer)

    async def _name_of(self, sub: JetStreamContext.PushSubscription) -> str:
        """The name of the consumer `sub` delivers from now ("" when it cannot be asked)."""
        try:
            info = await asyncio.wait_for(sub.consumer_info(), DELETE_TIMEOUT)
        except Exception:
            return ""
        return info.name

    async def _drop(self, sub: JetStreamContext.PushSubscription, name: str) -> None:
        """Stop listening to `sub` and delete its consumer: the one we created (`name`) and the one it
        delivers from now, if nats-py replaced it since."""
        names = {name, await self._name_of(sub)} - {""} if self.connected() else set()
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
        for consumer in names:
            try:
                await asyncio.wait_for(self.js.delete_consumer(self.stream, consumer), DELETE_TIMEOUT)
            except Exception as exc:  # gone already, its node down, or not permitted: it times out
                log.debug(f"KV bucket {self.bucket}: consumer {consumer} not deleted - {error_text(exc)}")

    async def _on_msg(self, msg: Msg) -> None:
        try:
            self._apply(msg)
        except Exception as exc:  # a bad entry must never stop the watch
            why = error_text(exc)
            log.error(f"KV bucket {self.bucket}: error applying watched entry {msg.subject} - {why}")

    def _apply(self, msg: Msg) -> None:
        meta = msg.metadata
        self.received += 1
        self.stream_seq = max(self.stream_seq, meta.sequence.stream)
        if meta.num_pending == 0 and not self.caught_up.is_set():
            self.caught_up.set()
        key = msg.subject[len(self.prefix) :]
        if not is_store_key(key):
            if key not in self._ignored:
                self._ignored.add(key)
                log.warn(
                    f"KV bucket {self.bucket}: ignoring key {key!r} (not an account key or activation hash)"
                )
            return
        if _is_removal(msg.headers):
            jwt = ""
        else:
            jwt = bytes(msg.data).decode("utf-8", errors="replace").strip()
            refusal = self.vet(key, jwt) if self.vet is not None else None
            if refusal is not None:  # kept as a removal: not served, and the next write's revision is right
                log.error(f"KV bucket {self.bucket}: refusing entry {short_key(key)} - {refusal}")
                jwt = ""
        if self.view.apply(key, meta.sequence.stream, jwt) and self.caught_up.is_set():
            log.debug(f"KV bucket {self.bucket}: {short_key(key)} changed (revision {meta.sequence.stream})")
            self.on_change(key, jwt)


def _is_removal(headers: dict[str, Any] | None) -> bool:
    """Delete/purge markers (KV-Operation), and server-placed markers (nats-server 2.11+)."""
    if not headers:
        return False
    if headers.get(KV_OPERATION) in ("DEL", "PURGE"):
        return True
    return headers.get(MARKER_REASON) in ("MaxAge", "Purge", "Remove")
