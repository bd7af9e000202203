"""The bucket deleted and re-created under running instances: detected, reported, the view rebuilt."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable

import httpx
from kv_cluster import JSCluster
from kv_helpers import eventually, get_account, kv_client, post_account, wait_served

from tests.support.procs import ServerProcess
from tests.support.trust import Trust


async def readiness(http: httpx.AsyncClient, server: ServerProcess) -> tuple[int, str]:
    r = await http.get(f"{server.url}/readyz")
    return r.status_code, r.text


async def test_kv_bucket_recreated_under_running_instances_is_rebuilt(
    kv_server: Callable[..., ServerProcess],
    http: httpx.AsyncClient,
    trust: Trust,
    cluster: JSCluster,
    bucket: str,
) -> None:
    """One instance with `nats`, one without. The bucket is deleted (readiness says so, ERR logged),
    then re-created holding only a newer B: both instances stop serving A, serve the new B and take
    writes again; a second, quick re-creation (no moment without a bucket) is caught the same way."""
    one = kv_server("one", nats_servers=[cluster.urls[0]])
    two = kv_server("two")
    servers = (one, two)
    trust.add_account("D")
    a, b, c, d = (trust.pub(n) for n in "ABCD")
    now = int(time.time())
    for key, jwt in ((a, trust.account_jwt("A")), (b, trust.account_jwt("B", iat=now))):
        assert (await post_account(http, one.url, key, jwt)).status_code == 200
        await wait_served(http, two.url, key, jwt, timeout=5)
    for server in servers:
        assert (await readiness(http, server))[0] == 200

    async with kv_client(cluster.urls, bucket) as (nc, _):
        js = nc.jetstream(timeout=5)
        await js.delete_key_value(bucket)
        for server in servers:

            async def unready(server: ServerProcess = server) -> bool:
                status, text = await readiness(http, server)
                return status == 503 and f"KV bucket {bucket} does not exist" in text

            await eventually(unready, timeout=10, interval=0.1)
            server.wait_for_line(f"[ERR] KV bucket {bucket} was deleted", timeout=5)
            assert (await get_account(http, server.url, a)).status_code == 200  # the last known contents
        r = await post_account(http, two.url, c, trust.account_jwt("C"))
        assert r.status_code == 503, r.text
        two.wait_for_line(f"(KV bucket {bucket} does not exist: uploads fail)", timeout=5)

        kv = await js.create_key_value(bucket=bucket, replicas=3)
        newer_b = trust.account_jwt("B", iat=now + 1)
        await kv.put(b, newer_b.encode())
    for server in servers:
        server.wait_for_line(f"[ERR] KV bucket {bucket} was re-created", timeout=10)
        await wait_served(http, server.url, b, newer_b, timeout=10)
        assert (await get_account(http, server.url, a)).status_code == 404  # gone with the old bucket
        status, text = await readiness(http, server)
        assert status == 200 and text.startswith("ready\nstore: ok\n"), text
    jwt_c = trust.account_jwt("C")
    assert (await post_account(http, two.url, c, jwt_c)).status_code == 200
    await wait_served(http, one.url, c, jwt_c, timeout=5)

    marks = [server.mark() for server in servers]
    async with kv_client(cluster.urls, bucket) as (nc, _):
        js = nc.jetstream(timeout=5)
        await js.delete_key_value(bucket)
        kv = await js.create_key_value(bucket=bucket, replicas=3)
        jwt_d = trust.account_jwt("D")
        await kv.put(d, jwt_d.encode())
    for server, mark in zip(servers, marks, strict=True):
        server.wait_for_line(f"[ERR] KV bucket {bucket} was re-created", timeout=10, since=mark)
        await wait_served(http, server.url, d, jwt_d, timeout=10)
        for gone in (a, b, c):
            assert (await get_account(http, server.url, gone)).status_code == 404
        assert (await readiness(http, server))[0] == 200


async def test_kv_stream_restarted_empty_is_rebuilt(
    kv_server: Callable[..., ServerProcess],
    http: httpx.AsyncClient,
    trust: Trust,
    cluster: JSCluster,
    bucket: str,
) -> None:
    """An R1 bucket whose node comes back without its data (store folder lost): the stream is the
    same one (same creation time) but its revisions went backwards, which the instance notices and
    logs; it stops serving what the bucket no longer holds and takes writes again."""
    server = kv_server("one", replicas=1)
    a, b = trust.pub("A"), trust.pub("B")
    for key, jwt in ((a, trust.account_jwt("A")), (b, trust.account_jwt("B"))):
        assert (await post_account(http, server.url, key, jwt)).status_code == 200
    async with kv_client(cluster.urls, bucket) as (nc, _):
        info = await nc.jetstream(timeout=5).stream_info(f"KV_{bucket}")
    assert info.cluster is not None and info.cluster.leader
    node = next(n for n in cluster.nodes if n.name == info.cluster.leader)
    await asyncio.to_thread(node.stop)
    try:
        data = cluster.tmp_path / f"{node.name}-data"
        streams = [p for p in data.rglob(f"KV_{bucket}") if p.is_dir() and p.parent.name == "streams"]
        assert streams, f"no stream folder for KV_{bucket} under {data}"
        for folder in streams:
            shutil.rmtree(folder)
    finally:
        await asyncio.to_thread(node.start_ready)
    server.wait_for_line(f"[ERR] KV bucket {bucket} lost data", timeout=20)
    for key in (a, b):
        await eventually(lambda k=key: status_of(http, server, k, 404), timeout=10)
    newer = trust.account_jwt("B", iat=int(time.time()) + 1)
    r = await post_account(http, server.url, b, newer)
    assert r.status_code == 200, r.text
    assert (await get_account(http, server.url, b)).text == newer


async def status_of(http: httpx.AsyncClient, server: ServerProcess, key: str, status: int) -> bool:
    return (await get_account(http, server.url, key)).status_code == status
