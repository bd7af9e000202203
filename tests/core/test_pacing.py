"""The bulk lane: chunks and messages come out whole and in order, within one shared byte budget."""

from __future__ import annotations

import asyncio
import time

from nats_account_server.core.pacing import CHUNK, Pacer

RATE = 4 << 20  # slow enough that the budget, not the machine, sets the pace


async def collect(pacer: Pacer, body: bytes, size: int = CHUNK) -> list[bytes]:
    return [chunk async for chunk in pacer.chunks(body, size)]


async def test_chunks_rebuild_the_body() -> None:
    body = bytes(range(256)) * 1000
    chunks = await collect(Pacer(rate=1 << 40), body, 1000)
    assert b"".join(chunks) == body and {len(c) for c in chunks} == {1000} and len(chunks) == 256
    assert await collect(Pacer(), b"") == []


async def test_bulk_bytes_never_exceed_the_rate() -> None:
    """1 MiB at 4 MiB/s takes at least 250 ms (less the burst): the lower bound is the budget."""
    pacer = Pacer(rate=RATE, burst=0.0)
    started = time.monotonic()
    await collect(pacer, b"x" * (1 << 20))
    assert time.monotonic() - started >= (1 << 20) / RATE - CHUNK / RATE


async def test_concurrent_senders_share_one_budget() -> None:
    pacer = Pacer(rate=RATE, burst=0.0)
    started = time.monotonic()
    results = await asyncio.gather(*(collect(pacer, b"y" * (256 << 10)) for _ in range(4)))
    assert time.monotonic() - started >= (1 << 20) / RATE - CHUNK / RATE
    assert all(b"".join(r) == b"y" * (256 << 10) for r in results)


async def test_a_sender_yields_between_chunks() -> None:
    """Other tasks run between two chunks even when the budget is never the limit."""
    pacer = Pacer(rate=1 << 40)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    chunks = await collect(pacer, b"z" * (CHUNK * 50))
    task.cancel()
    assert len(chunks) == 50 and ticks >= 50


async def test_messages_come_out_whole_and_in_order() -> None:
    payloads = [f"{n}|{'j' * 500}".encode() for n in range(2000)]
    pacer = Pacer(rate=RATE, burst=0.0)
    started = time.monotonic()
    out = [m async for m in pacer.messages(iter(payloads))]
    assert out == payloads
    size = sum(len(p) for p in payloads)
    assert time.monotonic() - started >= size / RATE - 2 * CHUNK / RATE  # the last batch is not waited
