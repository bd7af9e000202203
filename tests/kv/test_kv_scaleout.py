"""Several account-server processes on one JetStream KV bucket (3-node cluster, R3)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import nats
from kv_cluster import JSCluster
from kv_helpers import get_account, kv_client, kv_contents, post_account, summary, wait_served
from nats.aio.msg import Msg

from tests.support.procs import ServerProcess
from tests.support.trust import Trust

UPDATES = 50


async def test_kv_propagation_between_instances(
    kv_server: Callable[..., ServerProcess], http: httpx.AsyncClient, trust: Trust
) -> None:
    """POST to one instance, GET from the other: each update visible within 1 s (p50/p99 printed)."""
    one, two = kv_server("one"), kv_server("two")
    a = trust.pub("A")
    now = int(time.time())
    samples: list[float] = []
    for i in range(UPDATES):
        jwt = trust.account_jwt("A", iat=now + i)  # strictly newer each time
        src, dst = (one, two) if i % 2 == 0 else (two, one)
        r = await post_account(http, src.url, a, jwt)
        assert r.status_code == 200, r.text
        samples.append(await wait_served(http, dst.url, a, jwt, timeout=5))
    print(f"\ncross-instance propagation (POST answered -> GET on the other instance): {summary(samples)}")
    assert max(samples) < 1.0, summary(samples)


async def test_kv_concurrent_conflicting_posts_newest_iat_wins(
    kv_server: Callable[..., ServerProcess],
    http: httpx.AsyncClient,
    trust: Trust,
    cluster: JSCluster,
    bucket: str,
) -> None:
    """Two instances accept updates of one account at the same moment: the newest iat is stored everywhere."""
    one, two = kv_server("one"), kv_server("two")
    a = trust.pub("A")
    base = int(time.time())
    for rnd in range(8):
        older = trust.account_jwt("A", iat=base + 10 * rnd)
        newer = trust.account_jwt("A", iat=base + 10 * rnd + 5)
        pair = [(one, older), (two, newer)] if rnd % 2 == 0 else [(one, newer), (two, older)]
        answers = await asyncio.gather(*(post_account(http, s.url, a, j) for s, j in pair))
        by_jwt = {j: r for (_, j), r in zip(pair, answers, strict=True)}
        assert by_jwt[newer].status_code == 200, by_jwt[newer].text
        assert by_jwt[older].status_code in (200, 409), by_jwt[older].text
        for server in (one, two):
            await wait_served(http, server.url, a, newer, timeout=2)
        async with kv_client(cluster.urls, bucket) as (_, kv):
            assert (await kv.get(a)).value == newer.encode(), f"round {rnd}"
    # an older JWT is refused afterwards, by either instance
    r = await post_account(http, two.url, a, trust.account_jwt("A", iat=base))
    assert r.status_code == 409


async def test_kv_pack_is_bucket_contents(
    kv_server: Callable[..., ServerProcess],
    http: httpx.AsyncClient,
    trust: Trust,
    cluster: JSCluster,
    bucket: str,
) -> None:
    one, two = kv_server("one"), kv_server("two")
    for name in ("A", "B", "C"):
        assert (
            await post_account(http, one.url, trust.pub(name), trust.account_jwt(name))
        ).status_code == 200
    act = trust.activation_jwt("A", "B", "svc.>", kind="service")
    assert (await http.post(f"{one.url}/jwt/v1/activations", content=act)).status_code == 200
    async with kv_client(cluster.urls, bucket) as (_, kv):
        expected = await kv_contents(kv)
    assert len(expected) == 4

    async def pack_of(server: ServerProcess) -> dict[str, str]:
        r = await http.get(f"{server.url}/jwt/v1/pack")
        assert r.status_code == 200
        return dict(line.split("|", 1) for line in r.text.split("\n") if line)

    for server in (one, two):
        for _ in range(100):
            if await pack_of(server) == expected:
                break
            await asyncio.sleep(0.02)
        assert await pack_of(server) == expected


async def test_kv_one_notification_per_accepted_update_and_the_newest_again(
    kv_server: Callable[..., ServerProcess], http: httpx.AsyncClient, trust: Trust, cluster: JSCluster
) -> None:
    """Both instances have a NATS connection; the accepting one announces each update, and an
    instance that announced the account lately announces the newer version it learns of again (so
    the last announcement is the newest, whatever order they arrive in): versions are announced in
    the order they were accepted, nothing else is sent."""
    one = kv_server("one", nats_servers=[cluster.urls[0]])
    two = kv_server("two", nats_servers=[cluster.urls[1]])
    for proc in (one, two):
        proc.wait_for_line("connected to NATS for JWT syncing", timeout=10)
    nc = await nats.connect(cluster.urls[2], connect_timeout=2)
    got: list[Msg] = []

    async def on_msg(msg: Msg) -> None:
        got.append(msg)

    try:
        await nc.subscribe("$SYS.ACCOUNT.>", cb=on_msg)
        await nc.flush()
        await asyncio.sleep(0.2)  # subscription interest propagated through the cluster
        a = trust.pub("A")
        now = int(time.time())
        jwts = [trust.account_jwt("A", iat=now + i) for i in range(3)]
        for i, jwt in enumerate(jwts):
            src, dst = (one, two) if i % 2 == 0 else (two, one)
            assert (await post_account(http, src.url, a, jwt)).status_code == 200
            await wait_served(http, dst.url, a, jwt, timeout=2)
        await asyncio.sleep(1.0)  # give any duplicate time to show up
        sent = [bytes(m.data).decode() for m in got]
        assert [jwt for i, jwt in enumerate(sent) if i == 0 or sent[i - 1] != jwt] == jwts
        assert all(m.subject == f"$SYS.ACCOUNT.{a}.CLAIMS.UPDATE" for m in got)
        r = await get_account(http, two.url, a)
        assert r.status_code == 200 and r.text == jwts[-1]
    finally:
        await nc.close()
