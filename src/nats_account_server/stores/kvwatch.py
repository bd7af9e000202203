"""The local view of a JetStream KV bucket and the watch that keeps it current.

Reads of the KV store never touch the network: they are answered from `KVView`, a dict fed by an
ordered push consumer on the bucket's stream (last value per key first, then every new revision).
nats-py's ordered consumer recreates itself from the last stream sequence it saw whenever its idle
heartbeats stop (node lost, whole cluster restarted), so the view resumes without our help; we
only pick a short heartbeat so that happens within a couple of seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from nats.aio.msg import Msg
from nats.js import JetStreamContext, api

from ..jwt import is_account_key
from ..log import log, short_key
from .base import StoreUnavailable, is_store_key

__all__ = ["KVView", "KVWatch"]

KV_OPERATION = "KV-Operation"
MARKER_REASON = "Nats-Marker-Reason"
PROGRESS_EVERY = 2.0  # seconds between catch-up progress lines


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

    def items(self) -> list[tuple[str, str]]:
        with self._lock:
            return [(k, jwt) for k, (_, jwt) in self._data.items() if jwt]

    def account_keys(self) -> list[str]:
        with self._lock:
            return sorted(k for k, (_, jwt) in self._data.items() if jwt and is_account_key(k))

    def __len__(self) -> int:
        with self._lock:
            return sum(1 for _, jwt in self._data.values() if jwt)


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
    ) -> None:
        self.js = js
        self.bucket = bucket
        self.stream = f"KV_{bucket}"
        self.prefix = f"$KV.{bucket}."
        self.view = view
        self.on_change = on_change
        self.heartbeat = heartbeat
        self.caught_up = asyncio.Event()
        self.received = 0
        self._total = 0
        self._sub: JetStreamContext.PushSubscription | None = None
        self._ignored: set[str] = set()

    async def start(self, stall_timeout: float) -> None:
        """Subscribe and return once every key present at subscription time is in the view.

        Raises StoreUnavailable when the watch makes no progress for ``stall_timeout`` seconds.
        """
        started = time.monotonic()
        self._sub = await self.js.subscribe(
            f"{self.prefix}>",
            stream=self.stream,
            cb=self._on_msg,
            ordered_consumer=True,
            idle_heartbeat=self.heartbeat,
            deliver_policy=api.DeliverPolicy.LAST_PER_SUBJECT,
            inactive_threshold=300.0,
        )
        info = await self._sub.consumer_info()
        delivered = info.delivered.consumer_seq if info.delivered is not None else 0
        self._total = (info.num_pending or 0) + (delivered or 0)
        if info.num_pending == 0 and self.received == 0:
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

    async def stop(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _on_msg(self, msg: Msg) -> None:
        try:
            self._apply(msg)
        except Exception as exc:  # a bad entry must never stop the watch
            log.error(f"KV bucket {self.bucket}: error applying watched entry {msg.subject} - {exc}")

    def _apply(self, msg: Msg) -> None:
        meta = msg.metadata
        self.received += 1
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
