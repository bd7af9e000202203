"""KVStore in-process against the real 3-node JetStream cluster (and one standalone node for faults)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from kv_cluster import JSCluster
from kv_helpers import eventually, kv_client, kv_contents

from nats_account_server.config import KVSettings
from nats_account_server.core.kinds import Kind
from nats_account_server.core.service import Core
from nats_account_server.core.trust import load_trust
from nats_account_server.core.verdict import Saved
from nats_account_server.jwt import activation_hash, decode_account
from nats_account_server.jwt.encode import new_keypair
from nats_account_server.stores import StoreError, StoreUnavailable
from nats_account_server.stores.kv import KVStore
from tests.support.natsserver import NatsServer
from tests.support.ports import free_port
from tests.support.procs import ServerProcess
from tests.support.trust import Trust

Changes = list[tuple[str, str]]
OpenStore = Callable[..., Awaitable[KVStore]]


@pytest.fixture
async def open_store(cluster: JSCluster, bucket: str) -> AsyncIterator[OpenStore]:
    """`await open_store(**KVSettings overrides)` -> a started KVStore (closed at teardown)."""
    stores: list[KVStore] = []

    async def _open(**overrides: object) -> KVStore:
        settings = KVSettings(bucket=bucket, replicas=3, servers=list(cluster.urls), timeout=2000)
        for name, value in overrides.items():
            setattr(settings, name, value)
        store = KVStore(settings)
        stores.append(store)
        await store.start()
        return store

    yield _open
    for store in stores:
        await store.stop()


def recorder(store: KVStore) -> Changes:
    changes: Changes = []
    store.on_remote_change = lambda key, jwt: changes.append((key, jwt))
    return changes


async def test_kv_bucket_created_then_reused(
    open_store: OpenStore, cluster: JSCluster, bucket: str, trust: Trust
) -> None:
    first = await open_store(history=3)
    await first.save_async(trust.pub("A"), trust.account_jwt("A"))
    async with kv_client(cluster.urls, bucket) as (_, kv):
        status = await kv.status()
        assert status.stream_info.config.num_replicas == 3
        assert status.history == 3
    second = await open_store(replicas=1, history=1)  # reused as is, not recreated
    assert second.pack() == first.pack() and len(second.pack()) == 1  # loaded at start
    async with kv_client(cluster.urls, bucket) as (_, kv):
        assert (await kv.status()).stream_info.config.num_replicas == 3


async def test_kv_keys_are_verbatim_and_pack_is_bucket(
    open_store: OpenStore, cluster: JSCluster, bucket: str, trust: Trust
) -> None:
    store = await open_store()
    a, b = trust.pub("A"), trust.pub("B")
    act = trust.activation_jwt("A", "B", "foo.>")
    act_key = activation_hash(a, b, "foo.>")
    assert act_key.endswith("====")
    await store.save_async(a, trust.account_jwt("A"))
    await store.save_async(act_key, act)
    assert store.load(act_key) == act
    async with kv_client(cluster.urls, bucket) as (_, kv):
        assert (await kv.get(act_key)).value == act.encode()  # `=` is a valid KV key character
        contents = await kv_contents(kv)
    assert dict(store.pack()) == contents
    assert store.account_keys() == [a]
    assert store.pack(1) and len(store.pack(1)) == 1 and store.pack(0) == []
    assert store.load("../../etc/passwd") is None
    with pytest.raises(StoreError):
        await store.save_async("not-a-key", "x")


async def test_kv_remote_write_reaches_view_and_hook(open_store: OpenStore, trust: Trust) -> None:
    one = await open_store()
    two = await open_store()
    seen = recorder(two)
    a, jwt = trust.pub("A"), trust.account_jwt("A")
    start = time.monotonic()
    await one.save_async(a, jwt)
    await eventually(lambda: two.load(a) == jwt, timeout=1.0, interval=0.002)
    print(f"remote write visible after {(time.monotonic() - start) * 1000:.1f}ms")
    assert seen == [(a, jwt)]


async def test_kv_compare_and_set_keeps_newest_iat(
    open_store: OpenStore, cluster: JSCluster, bucket: str, trust: Trust
) -> None:
    """A writer with a stale view loses the race, re-reads and re-applies the newer-iat rule."""
    one = await open_store()
    two = await open_store()
    core_one = Core(one, load_trust(str(trust.operator_jwt_path), ""))
    core_two = Core(two, load_trust(str(trust.operator_jwt_path), ""))
    a = trust.pub("A")
    now = int(time.time())
    old, new, newest = (decode_account(trust.account_jwt("A", iat=now + d)) for d in (-20, -10, 0))
    assert await core_two.save_if_newer(Kind.ACCOUNT, a, old) is Saved.SAVED
    await eventually(lambda: one.load(a) == old.raw)
    assert two._watch is not None
    await two._watch.stop()  # two's view now stays stale: it still believes `old` is current
    assert await core_one.save_if_newer(Kind.ACCOUNT, a, newest) is Saved.SAVED
    assert two.load(a) == old.raw
    # `new` beats what two's view holds but not what the KV holds: the conflict path must say OLDER
    assert await core_two.save_if_newer(Kind.ACCOUNT, a, new) is Saved.OLDER
    assert await core_two.save_if_newer(Kind.ACCOUNT, a, newest) is Saved.UNCHANGED
    async with kv_client(cluster.urls, bucket) as (_, kv):
        assert (await kv.get(a)).value == newest.raw.encode()


async def test_kv_deleted_key_leaves_view_and_can_be_written_again(
    open_store: OpenStore, cluster: JSCluster, bucket: str, trust: Trust
) -> None:
    store = await open_store()
    seen = recorder(store)
    a, jwt = trust.pub("A"), trust.account_jwt("A")
    await store.save_async(a, jwt)
    async with kv_client(cluster.urls, bucket) as (_, kv):
        await kv.delete(a)
        await eventually(lambda: store.load(a) is None)
        assert (a, "") in seen
        await store.save_async(a, jwt)  # over the tombstone
        assert (await kv.get(a)).value == jwt.encode()
    assert store.load(a) == jwt


async def test_kv_unreachable_at_startup_fails_within_connecttimeout(tmp_path: Path) -> None:
    store = KVStore(KVSettings(bucket="x", servers=[f"nats://127.0.0.1:{free_port()}"], connecttimeout=600))
    start = time.monotonic()
    with pytest.raises(StoreUnavailable, match="unable to connect to the JetStream KV servers"):
        await store.start()
    assert time.monotonic() - start < 3
    await store.stop()


async def test_kv_single_node_down_then_back(
    nats_factory: Callable[..., NatsServer], tmp_path: Path, trust: Trust
) -> None:
    """R1 bucket on a standalone node: writes 503 while it is down, reads served, recovery in place."""
    store_dir = tmp_path / "js"
    node = nats_factory(f'jetstream {{ store_dir: "{store_dir}" }}\n')
    store = KVStore(KVSettings(bucket="solo", servers=[node.url], timeout=800, reconnectwait=50))
    try:
        await store.start()
        a, b = trust.pub("A"), trust.pub("B")
        jwt_a, jwt_b = trust.account_jwt("A"), trust.account_jwt("B")
        await store.save_async(a, jwt_a)
        await asyncio.to_thread(node.stop)
        start = time.monotonic()
        with pytest.raises(StoreUnavailable, match="unavailable"):
            await store.save_async(b, jwt_b)
        assert time.monotonic() - start < 2
        assert store.load(a) == jwt_a and store.load(b) is None
        await asyncio.to_thread(node.start_ready)

        async def saved() -> bool:
            with contextlib.suppress(StoreUnavailable):
                await store.save_async(b, jwt_b)
                return True
            return False

        await eventually(saved, timeout=15, interval=0.2)
        assert store.load(b) == jwt_b
    finally:
        await store.stop()


def kv_user_permissions(bucket: str, without: tuple[str, ...] = ()) -> str:
    """The least a KV user needs (README "The KV account"), less the subjects containing any of
    `without`; `STREAM.CREATE` may be dropped for a pre-made bucket."""
    stream = f"KV_{bucket}"
    publish = [
        f"$KV.{bucket}.>",
        f"$JS.API.STREAM.INFO.{stream}",
        f"$JS.API.STREAM.CREATE.{stream}",
        f"$JS.API.STREAM.MSG.GET.{stream}",
        f"$JS.API.CONSUMER.CREATE.{stream}",
        f"$JS.API.CONSUMER.CREATE.{stream}.>",
        f"$JS.API.CONSUMER.INFO.{stream}.*",
        f"$JS.API.CONSUMER.DELETE.{stream}.*",
        f"$JS.API.CONSUMER.LIST.{stream}",
        f"$JS.FC.{stream}.>",
    ]
    allow = ", ".join(f'"{s}"' for s in publish if not any(w in s for w in without))
    return f'publish: {{ allow: [{allow}] }}, subscribe: {{ allow: ["_INBOX.>"] }}'


async def test_kv_works_with_least_privilege_user(
    nats_factory: Callable[..., NatsServer], tmp_path: Path, trust: Trust
) -> None:
    bucket = "jwts"
    node = nats_factory(
        f'jetstream {{ store_dir: "{tmp_path / "js-auth"}" }}\n'
        "accounts {\n  JWTS {\n    jetstream: enabled\n"
        f"    users: [ {{ user: kv, password: s3cret, permissions: {{ {kv_user_permissions(bucket)} }} }} ]\n"
        "  }\n}\n"
    )
    url = f"nats://kv:s3cret@127.0.0.1:{node.port}"
    one = KVStore(KVSettings(bucket=bucket, servers=[url], connecttimeout=3000))
    two = KVStore(KVSettings(bucket=bucket, servers=[url], connecttimeout=3000))
    try:
        await one.start()
        await two.start()
        seen = recorder(two)
        a, jwt = trust.pub("A"), trust.account_jwt("A")
        await one.save_async(a, jwt)
        await eventually(lambda: two.load(a) == jwt, timeout=2)
        assert seen == [(a, jwt)]
        assert two._watch is not None
        await two._watch.stop()  # stale view: the next write takes the conflict (re-read) path
        newer, newest = (trust.account_jwt("A", iat=int(time.time()) + d) for d in (1, 2))
        await one.save_async(a, newer)
        await two.save_async(a, newest)
        assert two.load(a) == newest
        await eventually(lambda: one.load(a) == newest, timeout=2)
    finally:
        await one.stop()
        await two.stop()


async def test_kv_user_without_stream_create_is_told_at_once(
    nats_factory: Callable[..., NatsServer],
    kv_server: Callable[..., ServerProcess],
    tmp_path: Path,
) -> None:
    """No bucket and no `STREAM.CREATE` permission: the server exits 1 naming the subject and the
    permission (the permissions violation nats-server reports), not after a timeout."""
    bucket = "jwts"
    perms = kv_user_permissions(bucket, without=("STREAM.CREATE",))
    node = nats_factory(
        f'jetstream {{ store_dir: "{tmp_path / "js-denied"}" }}\n'
        "accounts {\n  JWTS {\n    jetstream: enabled\n"
        f"    users: [ {{ user: kv, password: s3cret, permissions: {{ {perms} }} }} ]\n"
        "  }\n}\n"
    )
    url = f"nats://kv:s3cret@127.0.0.1:{node.port}"
    began = time.monotonic()
    proc = kv_server("denied", servers=[url], bucket=bucket, connecttimeout_ms=10000, ready=False)
    assert await asyncio.to_thread(proc.wait, 30) == 1
    print(f"\nexit 1 after {time.monotonic() - began:.2f}s for a user without STREAM.CREATE")
    subject = f"$JS.API.STREAM.CREATE.KV_{bucket}"
    lines = proc.find_lines(f'may not publish to "{subject}"')
    assert lines and f"publish permission for {subject}" in lines[-1], proc.describe(40)
    assert "create the bucket beforehand" in lines[-1]
    assert not proc.find_lines("nats: timeout")


async def test_kv_start_loads_a_big_bucket_before_serving(
    open_store: OpenStore, cluster: JSCluster, bucket: str
) -> None:
    """Startup returns only once every key present is in the view (nothing served half-loaded)."""
    first = await open_store(replicas=1)
    keys = [new_keypair("A")[1] for _ in range(1000)]
    async with kv_client(cluster.urls, bucket) as (_, kv):
        for start in range(0, len(keys), 100):
            await asyncio.gather(*(kv.put(k, f"jwt-{k}".encode()) for k in keys[start : start + 100]))
    await eventually(lambda: len(first.pack()) == len(keys), timeout=5)
    began = time.monotonic()
    second = await open_store()
    elapsed = time.monotonic() - began
    print(f"\nloaded {len(keys)} JWTs at startup in {elapsed * 1000:.0f}ms")
    assert len(second.pack()) == len(keys)
    assert all(second.load(k) == f"jwt-{k}" for k in keys)
    assert second.account_keys() == sorted(keys)


async def test_kv_entries_written_by_others_pass_the_acceptance_rule(
    open_store: OpenStore, cluster: JSCluster, bucket: str, trust: Trust
) -> None:
    """Anyone with rights on the bucket can write it: a foreign, forged or misfiled entry is not served
    (kept as a removal, so the next write's revision is right), a valid one is, an expired one too."""
    from nats_account_server.core.acceptance import vetting

    store = await open_store()  # without the rule
    vetted = KVStore(
        KVSettings(bucket=bucket, replicas=3, servers=list(cluster.urls), timeout=2000),
        vet=vetting(load_trust(str(trust.operator_jwt_path), "")),
    )
    await vetted.start()
    try:
        a, b, c = trust.pub("A"), trust.pub("B"), trust.pub("C")
        good, expired = trust.account_jwt("A"), trust.account_jwt("C", exp=int(time.time()) - 60)
        forged = trust.account_jwt("B", signer="B")  # self-signed: not the operator
        async with kv_client(cluster.urls, bucket) as (_, kv):
            await kv.put(a, good.encode())
            await kv.put(b, forged.encode())
            await kv.put(c, expired.encode())
            misfiled = new_keypair("A")[1]
            await kv.put(misfiled, good.encode())  # A's JWT under another key
        await eventually(lambda: vetted.view.revision_of(misfiled)[0] > 0, timeout=5)
        assert vetted.load(a) == good and vetted.load(c) == expired
        assert vetted.load(b) is None and vetted.load(misfiled) is None
        assert {k for k, _ in vetted.pack()} == {a, c}
        assert store.load(b) == forged  # a store without the rule keeps what the bucket holds
    finally:
        await vetted.stop()
