"""Faults: a JetStream node down (R3), the whole cluster down and back, an account server killed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
from kv_cluster import JSCluster
from kv_helpers import eventually, get_account, kv_client, post_account, wait_served

from tests.support.ports import free_port
from tests.support.procs import ServerProcess
from tests.support.trust import Trust


async def stream_leader(cluster: JSCluster, bucket: str) -> str:
    async with kv_client(cluster.urls, bucket) as (nc, _):
        info = await nc.jetstream(timeout=5).stream_info(f"KV_{bucket}")
        assert info.cluster is not None and info.cluster.leader
        return info.cluster.leader


async def post_until_accepted(
    http: httpx.AsyncClient, base: str, pub: str, jwt: str, timeout: float
) -> float:
    """POST until 200 (503 allowed meanwhile); returns the seconds it took."""
    start = time.monotonic()

    async def accepted() -> bool:
        r = await post_account(http, base, pub, jwt)
        assert r.status_code in (200, 503), r.text
        return r.status_code == 200

    await eventually(accepted, timeout=timeout, interval=0.2)
    return time.monotonic() - start


async def two_sharing_a(
    kv_server: Callable[..., ServerProcess],
    http: httpx.AsyncClient,
    trust: Trust,
    *,
    via: str = "one",
    **config: object,
) -> tuple[ServerProcess, ServerProcess, int, str]:
    """Instances "one" and "two" on the bucket (`config`: server_config's), account A posted through
    `via` and served by the other: (one, two, the iat used, A's JWT)."""
    one, two = kv_server("one", **config), kv_server("two", **config)
    writer, reader = (one, two) if via == "one" else (two, one)
    now = int(time.time())
    first = trust.account_jwt("A", iat=now)
    assert (await post_account(http, writer.url, trust.pub("A"), first)).status_code == 200
    await wait_served(http, reader.url, trust.pub("A"), first, timeout=2)
    return one, two, now, first


async def test_kv_stream_leader_down_reads_and_writes_continue(
    kv_server: Callable[..., ServerProcess],
    http: httpx.AsyncClient,
    trust: Trust,
    cluster: JSCluster,
    bucket: str,
) -> None:
    one, two, now, first = await two_sharing_a(kv_server, http, trust)
    a, b = trust.pub("A"), trust.pub("B")
    leader = await stream_leader(cluster, bucket)
    node = next(n for n in cluster.nodes if n.name == leader)
    await asyncio.to_thread(node.stop)
    try:
        for server in (one, two):  # reads never wait on JetStream
            r = await get_account(http, server.url, a)
            assert r.status_code == 200 and r.text == first
        second = trust.account_jwt("A", iat=now + 1)
        elapsed = await post_until_accepted(http, one.url, a, second, timeout=15)
        seen = await wait_served(http, two.url, a, second, timeout=10)
        third = trust.account_jwt("A", iat=now + 2)
        assert (await post_account(http, two.url, a, third)).status_code == 200
        seen_back = await wait_served(http, one.url, a, third, timeout=10)
        print(
            f"\nstream leader {leader} stopped: first write accepted after {elapsed:.2f}s, "
            f"seen by the other instance after {seen:.2f}s / {seen_back:.2f}s"
        )
        for i in range(5):  # once failed over, writes through either instance are plain 200s, seen < 1 s
            jwt = trust.account_jwt("B", iat=now + i)
            src, dst = (one, two) if i % 2 == 0 else (two, one)
            r = await post_account(http, src.url, b, jwt)
            assert r.status_code == 200, r.text
            assert await wait_served(http, dst.url, b, jwt, timeout=5) < 1.0
    finally:
        await asyncio.to_thread(node.start_ready)


async def test_kv_instance_killed_others_serve_it_catches_up(
    kv_server: Callable[..., ServerProcess], http: httpx.AsyncClient, trust: Trust
) -> None:
    one, two, now, first = await two_sharing_a(kv_server, http, trust, via="two")
    a, b = trust.pub("A"), trust.pub("B")
    two.kill()
    latest = trust.account_jwt("A", iat=now + 1)
    other = trust.account_jwt("B", iat=now)
    assert (await post_account(http, one.url, a, latest)).status_code == 200
    assert (await post_account(http, one.url, b, other)).status_code == 200
    assert (await get_account(http, one.url, a)).text == latest
    began = time.monotonic()
    two.start()
    base = await asyncio.to_thread(two.wait_ready, 20)
    print(
        f"\nrestarted instance ready (bucket loaded, serving) {time.monotonic() - began:.2f}s after its start"
    )
    assert two.find_lines("loaded 2 JWTs from KV bucket")
    assert (await get_account(http, base, a)).text == latest  # served as soon as it is ready
    assert (await get_account(http, base, b)).text == other


async def test_kv_unreachable_at_startup_exits_1(kv_server: Callable[..., ServerProcess]) -> None:
    proc = kv_server("lost", servers=[f"nats://127.0.0.1:{free_port()}"], connecttimeout_ms=800, ready=False)
    assert await asyncio.to_thread(proc.wait, 15) == 1
    assert proc.find_lines("unable to connect to the JetStream KV servers")
    assert not proc.find_lines("resolver: URL(")


async def test_kv_cluster_down_reads_served_writes_503_then_recovers(
    kv_server: Callable[..., ServerProcess],
    http: httpx.AsyncClient,
    trust: Trust,
    cluster: JSCluster,
) -> None:
    one, two, now, first = await two_sharing_a(kv_server, http, trust, timeout_ms=None)
    a, b = trust.pub("A"), trust.pub("B")
    await asyncio.to_thread(cluster.stop)
    try:
        for server in (one, two):
            r = await get_account(http, server.url, a)
            assert r.status_code == 200 and r.text == first
            assert (await get_account(http, server.url, b)).status_code == 404
        second = trust.account_jwt("A", iat=now + 1)
        start = time.monotonic()
        r = await post_account(http, one.url, a, second)
        assert r.status_code == 503, r.text
        assert "store unavailable" in r.text and "not saved" in r.text
        assert time.monotonic() - start < 5  # the default timeout is longer: no connection, no wait
        assert (await post_account(http, two.url, b, trust.account_jwt("B"))).status_code == 503
        for server in (one, two):  # nothing half-written: still the old JWT, still no B
            assert (await get_account(http, server.url, a)).text == first
            assert (await get_account(http, server.url, b)).status_code == 404
        one.wait_for_line("serving bucket", timeout=5)
    finally:
        await asyncio.to_thread(cluster.start)
    elapsed = await post_until_accepted(http, one.url, a, second, timeout=30)
    print(f"\nfirst write accepted {elapsed:.2f}s after the whole cluster was restarted")
    await wait_served(http, two.url, a, second, timeout=10)  # the other instance's watch resumed too
    third = trust.account_jwt("B", iat=now + 2)
    assert (await post_account(http, two.url, b, third)).status_code == 200
    await wait_served(http, one.url, b, third, timeout=5)
