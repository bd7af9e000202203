"""The bulk lane: packs (over HTTP and NATS) share one budget of bytes per second.

A pack of a large store is megabytes; clients looping on it would otherwise keep the process's
core busy copying bytes, and every lookup (what nats-servers wait on) would queue behind them.
Senders hand bulk bodies over in chunks, yield to the event loop between chunks, and together
never exceed `BULK_RATE`; a lone pack still goes out fast (10,000 accounts, 7 MB, in about 50 ms).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable

BULK_RATE = 128 << 20  # bytes per second, over all bulk senders together
BULK_BURST = 0.005  # seconds of budget a sender may use at once after an idle spell
CHUNK = 64 << 10  # an HTTP pack body is handed to the socket this much at a time


class Pacer:
    """A virtual clock of bulk bytes: each chunk is given the next free slot of the budget."""

    def __init__(self, rate: float = BULK_RATE, burst: float = BULK_BURST) -> None:
        self.rate = rate
        self.burst = burst
        self._due = 0.0

    async def spend(self, size: int) -> None:
        """Wait until `size` more bytes fit in the budget; always yields to the event loop once."""
        now = time.monotonic()
        start = max(self._due, now - self.burst)
        self._due = start + size / self.rate
        wait = start - now
        await asyncio.sleep(wait if wait > 0 else 0)

    async def chunks(self, body: bytes, size: int = CHUNK) -> AsyncIterator[bytes]:
        """`body` in chunks of `size`, each released when the budget allows."""
        view = memoryview(body)
        for at in range(0, len(body), size):
            chunk = view[at : at + size]
            await self.spend(len(chunk))
            yield bytes(chunk)

    async def messages(self, payloads: Iterable[bytes]) -> AsyncIterator[bytes]:
        """Each payload (one NATS message of a pack) released when the budget allows; the budget
        is spent in batches of about a chunk, so small messages do not each wait on a timer."""
        pending = 0
        for payload in payloads:
            pending += len(payload)
            if pending >= CHUNK:
                await self.spend(pending)
                pending = 0
            yield payload
