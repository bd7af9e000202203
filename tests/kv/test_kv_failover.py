"""Stream leader failover under a stream of POSTs (crash and graceful stop), and the watch consumers
that failovers leave behind."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import nats.errors
import pytest
from kv_cluster import JSCluster
from kv_helpers import eventually, get_account, kv_client, kv_contents, post_account, wait_served

from tests.support.natsserver import NatsServer
from tests.support.procs import ServerProcess
from tests.support.trust import Trust

WRITERS = 4  # concurrent POST loops, each through both instances in turn
AFTER_RECOVERY = 1.0  # seconds the POSTs go on once writes are accepted again
_names = itertools.count()


@dataclass
class Post:
    key: str
    jwt: str
    via: ServerProcess
    sent: float
    answered: float = 0.0
    status: int = 0


async def stream_info_of(cluster: JSCluster, bucket: str) -> tuple[str, int]:
    """(the stream leader's name, the stream's consumer count)."""
    async with kv_client(cluster.urls, bucket) as (nc, _):
        info = await nc.jetstream(timeout=5).stream_info(f"KV_{bucket}")
        assert info.cluster is not None and info.cluster.leader
        return info.cluster.leader, info.state.consumer_count


def node_named(cluster: JSCluster, name: str) -> NatsServer:
    return next(n for n in cluster.nodes if n.name == name)


async def post_stream(
    http: httpx.AsyncClient, trust: Trust, servers: list[ServerProcess], fault: Callable[[], None]
) -> tuple[list[Post], float]:
    """POSTs of new accounts from WRITERS loops; `fault()` runs after 0.5 s in a thread. Ends
    AFTER_RECOVERY s after the first POST sent after the fault is accepted; (posts, fault time)."""
    posts: list[Post] = []
    faulted = asyncio.Event()
    fault_at = 0.0
    recovered_at: list[float] = []

    async def writer(n: int) -> None:
        for i in itertools.count():
            if recovered_at and time.monotonic() > recovered_at[0] + AFTER_RECOVERY:
                return
            name = f"F{next(_names)}"
            trust.add_account(name)
            post = Post(trust.pub(name), trust.account_jwt(name), servers[(n + i) % len(servers)], 0.0)
            post.sent = time.monotonic()
            posts.append(post)
            post.status = (await post_account(http, post.via.url, post.key, post.jwt)).status_code
            post.answered = time.monotonic()
            if post.status == 200 and faulted.is_set() and post.sent > fault_at and not recovered_at:
                recovered_at.append(post.answered)
            await asyncio.sleep(0.01)

    async def inject() -> None:
        nonlocal fault_at
        await asyncio.sleep(0.5)
        fault_at = time.monotonic()
        faulted.set()
        await asyncio.to_thread(fault)

    await asyncio.wait_for(asyncio.gather(inject(), *(writer(n) for n in range(WRITERS))), 60)
    return posts, fault_at


def report(what: str, posts: list[Post], fault_at: float) -> str:
    """Failed POSTs, the outage (fault -> first accepted answer of a POST sent after it) and the
    slowest POST."""
    failed = [p for p in posts if p.status != 200]
    first = min(p.answered for p in posts if p.status == 200 and p.sent > fault_at)
    slowest = max(p.answered - p.sent for p in posts)
    statuses = sorted({p.status for p in failed})
    return (
        f"\n{what}: {len(posts)} POSTs, {len(failed)} failed {statuses}, writes accepted again "
        f"{first - fault_at:.2f}s after the fault, slowest POST {slowest:.2f}s"
    )


async def check_nothing_lost(
    http: httpx.AsyncClient, cluster: JSCluster, bucket: str, servers: list[ServerProcess], posts: list[Post]
) -> None:
    """Every accepted JWT is in the bucket and served by every instance."""
    accepted = {p.key: p.jwt for p in posts if p.status == 200}
    stored: dict[str, str] = {}
    for attempt in range(10):  # right after a crash, a new client's watch may time out once or twice
        try:
            async with kv_client(cluster.urls, bucket) as (_, kv):
                stored = await kv_contents(kv)
            break
        except (nats.errors.Error, TimeoutError):
            if attempt == 9:
                raise
            await asyncio.sleep(1)
    missing = [k for k, jwt in accepted.items() if stored.get(k) != jwt]
    assert not missing, f"{len(missing)} accepted JWTs are not in the bucket"
    for server in servers:
        for key, jwt in accepted.items():
            await wait_served(http, server.url, key, jwt, timeout=5)


@pytest.mark.parametrize("fault", ["crash", "graceful stop"])
async def test_kv_stream_leader_failover_loses_no_accepted_write(
    kv_server: Callable[..., ServerProcess],
    http: httpx.AsyncClient,
    trust: Trust,
    cluster: JSCluster,
    bucket: str,
    fault: str,
) -> None:
    """The stream leader is SIGKILLed (or stopped) under a stream of POSTs to two instances with the
    default write timeout: every POST answered 200 is stored and served; the refused ones (503, never
    another status) and the outage are printed."""
    servers = [kv_server("one", timeout_ms=None), kv_server("two", timeout_ms=None)]
    warm = trust.account_jwt("A")
    assert (await post_account(http, servers[0].url, trust.pub("A"), warm)).status_code == 200
    leader, _ = await stream_info_of(cluster, bucket)
    node = node_named(cluster, leader)
    try:
        posts, fault_at = await post_stream(
            http, trust, servers, node.kill if fault == "crash" else lambda: node.stop(timeout=10)
        )
        print(report(f"stream leader {leader}: {fault}", posts, fault_at))
        assert all(p.status in (200, 503) for p in posts), sorted({p.status for p in posts})
        await check_nothing_lost(http, cluster, bucket, servers, posts)
    finally:
        await asyncio.to_thread(node.start_ready)
    for server in servers:  # the same bucket all along: a failover is no re-created bucket
        assert not any(server.find_lines(f"KV bucket {bucket} {what}") for what in ("was", "lost data"))


async def test_kv_watch_consumers_stay_one_per_instance_after_failovers(
    kv_server: Callable[..., ServerProcess],
    http: httpx.AsyncClient,
    trust: Trust,
    cluster: JSCluster,
    bucket: str,
) -> None:
    """Every node in turn is crashed and restarted under three instances: the replaced watches'
    consumers are deleted or expire, so the stream settles at one consumer per instance, and each
    instance still sees the others' writes."""
    servers = [kv_server(name) for name in ("one", "two", "three")]

    async def settled() -> bool:
        try:
            return (await stream_info_of(cluster, bucket))[1] == len(servers)
        except (nats.errors.Error, TimeoutError, AssertionError):  # no stream leader at the moment
            return False

    await eventually(settled, timeout=15, interval=0.2)
    initial = len(servers)
    a = trust.pub("A")
    now = int(time.time())
    for round_, node in enumerate(cluster.nodes):
        await asyncio.to_thread(node.kill)
        await asyncio.sleep(1.0)  # missed heartbeats: the watches on that node are replaced
        await asyncio.to_thread(node.start_ready)
        await cluster.wait_jetstream()
        jwt = trust.account_jwt("A", iat=now + round_)
        src = servers[round_ % len(servers)]
        async with asyncio.timeout(30):
            while (await post_account(http, src.url, a, jwt)).status_code != 200:
                await asyncio.sleep(0.1)
        for server in servers:
            await wait_served(http, server.url, a, jwt, timeout=10)
    after = (await eventually(lambda: stream_info_of(cluster, bucket), timeout=15))[1]
    began = time.monotonic()
    try:
        await eventually(settled, timeout=30, interval=0.5)
    except AssertionError:
        async with kv_client(cluster.urls, bucket) as (nc, _):
            left = await nc.jetstream(timeout=5).consumers_info(f"KV_{bucket}")
        shown = [(c.name, c.config.deliver_subject, c.push_bound) for c in left]
        raise AssertionError(f"{len(left)} consumers left for {len(servers)} instances: {shown}") from None
    print(
        f"\nwatch consumers: {initial} at start, {after} right after {len(cluster.nodes)} crashes, "
        f"{len(servers)} again {time.monotonic() - began:.1f}s later"
    )
    r = await get_account(http, servers[0].url, a)
    assert r.status_code == 200
