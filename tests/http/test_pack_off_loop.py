"""The pack is read off the event loop: while a store's pack is slow, GETs keep being answered.

In-process (a real listener on a real socket) so that the store's pack can be held until the test
releases it.
"""

from __future__ import annotations

import asyncio
import threading
import time

import httpx

from nats_account_server.core.service import Core
from nats_account_server.core.trust import Trust
from nats_account_server.http.app import App
from nats_account_server.http.listener import Listener
from nats_account_server.stores import MemoryStore


class HeldStore(MemoryStore):
    """A memory store whose pack waits until it is released (a large store read from a slow disk)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def pack(self, max: int = -1) -> list[tuple[str, str]]:
        self.entered.set()
        self.release.wait(10)
        return super().pack(max)


async def test_gets_are_answered_while_a_pack_is_being_read() -> None:
    store = HeldStore()
    core = Core(store, Trust())
    listener = Listener(App(core, writable=True), "127.0.0.1", 0)
    bound = await listener.start()
    base = f"http://127.0.0.1:{bound.port}"
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            pack = asyncio.create_task(client.get(f"{base}/jwt/v1/pack"))
            assert await asyncio.to_thread(store.entered.wait, 5)
            health = await asyncio.wait_for(client.get(f"{base}/healthz"), 2)  # the loop is free
            assert health.status_code == 200 and not pack.done()
            store.release.set()
            assert (await pack).status_code == 200
    finally:
        store.release.set()
        await listener.stop()
        core.close()


class CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.packs = 0

    def pack(self, max: int = -1) -> list[tuple[str, str]]:
        self.packs += 1
        return super().pack(max)


async def test_a_pack_is_built_once_per_change_of_the_store() -> None:
    """Clients looping on the pack cost one build per change of the store, not one per request."""
    import tempfile

    from tests.support.trust import Trust as Fixture

    with tempfile.TemporaryDirectory() as tmp:
        fx = Fixture(tmp, accounts=["A", "B"])
        store = CountingStore()
        core = Core(store, Trust())
        await core.save(fx.pub("A"), fx.account_jwt("A"))
        bodies = await asyncio.gather(*(core.pack_body(10) for _ in range(10)))
        assert store.packs == 1 and len(set(bodies)) == 1 and fx.pub("A").encode() in bodies[0]
        assert await core.pack_body(10) == bodies[0] and store.packs == 1
        await core.save(fx.pub("B"), fx.account_jwt("B"))  # a change: the next pack is built anew
        assert fx.pub("B").encode() in await core.pack_body(10) and store.packs == 2
        core.forget_all()  # changes behind unknown keys (a folder went away) count too
        await core.pack_body(10)
        assert store.packs == 3
        await core.pack_body(1)  # only the latest pack is kept: a client cycling `max` gains nothing
        await core.pack_body(10)
        assert store.packs == 5
        core.close()


async def test_a_pack_is_streamed_through_the_bulk_lane() -> None:
    """A 2 MB pack at a 4 MiB/s budget takes about half a second to send: meanwhile GETs are
    answered at once, and the body arrives whole, with its length announced."""
    import nkeys

    from nats_account_server.core.pacing import Pacer

    store = MemoryStore()
    for n in range(3000):  # the store returns what it holds: the pack's size is what matters here
        key = nkeys.encode_seed(n.to_bytes(32, "big"), nkeys.PREFIX_BYTE_ACCOUNT)
        store.save(nkeys.from_seed(key).public_key.decode(), "j" * 700)
    core = Core(store, Trust(), max_pack=-1)
    core.bulk = Pacer(rate=4 << 20)
    listener = Listener(App(core, writable=True), "127.0.0.1", 0)
    bound = await listener.start()
    base = f"http://127.0.0.1:{bound.port}"
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            started = time.monotonic()
            async with client.stream("GET", f"{base}/jwt/v1/pack") as pack:
                assert pack.status_code == 200
                length = int(pack.headers["content-length"])
                parts = pack.aiter_bytes()
                first = await anext(parts)
                health = await asyncio.wait_for(client.get(f"{base}/healthz"), 1)
                assert health.status_code == 200
                body = first + b"".join([chunk async for chunk in parts])
            took = time.monotonic() - started
        assert len(first) < length == len(body) > 2_000_000
        assert took >= length / (4 << 20) - 0.1  # it went through the budget, not in one piece
        lines = body.split(b"\n")
        assert len(lines) == 3000 and all(line.endswith(b"|" + b"j" * 700) for line in lines)
    finally:
        await listener.stop()
        core.close()
