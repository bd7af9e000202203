"""What a scrape of `/metrics` reads from the running instance: its states and the store's size.

States are read at the scrape (never kept up to date between scrapes at a cost per request). The
store is counted from a worker thread, at most every `COUNT_EVERY` seconds: a walk of a
million-file directory is not something to do per scrape, and never on the event loop.
"""

from __future__ import annotations

import asyncio
import time

from nats_account_server.core.service import Core
from nats_account_server.log import log
from nats_account_server.metrics import Metrics

__all__ = ["COUNT_EVERY", "Observed"]

COUNT_EVERY = 30.0


class Observed:
    """The scrape-time view of one instance's core."""

    def __init__(self, core: Core, metrics: Metrics) -> None:
        self.core = core
        self.metrics = metrics
        self._count: asyncio.Future[tuple[int, int]] | None = None
        self._next_count = 0.0

    async def refresh(self) -> None:
        """Set the metrics' states from the instance as it is now."""
        core = self.core
        state: dict[str, float] = {}
        if core.notifier.configured:
            state["nats_connected"] = float(core.notifier.connected)
        state["ready"] = float((await core.readiness.report()).ready)
        reachable = core.source.reachable
        if reachable is not None:  # a replica
            state["replica_import_running"] = float(core.readiness.starting)
            state["replica_primary_reachable"] = float(reachable)
        self.metrics.state = state
        await self._store_size()

    async def _store_size(self) -> None:
        job, now = self._count, time.monotonic()
        if job is None or (job.done() and now >= self._next_count):
            self._next_count = now + COUNT_EVERY
            job = self._count = asyncio.ensure_future(asyncio.to_thread(self.core.store.counts))
            if len(self.metrics.store_jwts) == 0:  # the first count is waited for; later ones are not
                await asyncio.wait([job])
        if not job.done():
            return
        if job.exception() is not None:
            log.debug(f"counting the store's JWTs for metrics failed - {job.exception()}")
            return
        accounts, activations = job.result()
        self.metrics.store_jwts = {"account": accounts, "activation": activations}
