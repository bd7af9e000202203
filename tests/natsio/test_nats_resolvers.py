"""NATS-based resolvers next to us: a `full` resolver converges with our store in
both directions through the pack/hash sync; a `cache` resolver fetches accounts from us by lookup."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from nats_helpers import client, connects, eventually, post, request_all, wait_line

from tests.support.natsserver import NatsServer
from tests.support.ports import free_port
from tests.support.procs import ServerProcess
from tests.support.trust import Trust

StartServer = Callable[..., ServerProcess]


async def _pack_of(http: httpx.AsyncClient, base: str) -> dict[str, str]:
    """Our local store, via the HTTP pack (never a NATS lookup)."""
    text = (await http.get(f"{base}/jwt/v1/pack")).text
    return dict(line.split("|", 1) for line in text.splitlines() if "|" in line)


async def test_full_resolver_converges_both_ways(
    tmp_path: Path,
    nats_factory: Callable[..., NatsServer],
    account_server: StartServer,
    trust: Trust,
    http: httpx.AsyncClient,
) -> None:
    """JWTs stored on either side appear on the other within a few seconds."""
    full_dir = tmp_path / "full"
    full_dir.mkdir()
    sys_jwt = trust.account_jwt("SYS")
    jwt_b = trust.account_jwt("B", signer="signing_key")
    (full_dir / f"{trust.system_account}.jwt").write_text(sys_jwt)  # the resolver's own store
    (full_dir / f"{trust.pub('B')}.jwt").write_text(jwt_b)

    port = free_port()
    proc = account_server(
        f"nats://127.0.0.1:{port}",
        store=tmp_path / "ours",
        creds=trust.creds("sys"),
        nats_extra="syncinterval: 500",
    )
    jwt_a = trust.account_jwt("A")
    assert (await post(http, proc.url, trust.pub("A"), jwt_a)).status_code == 200  # NATS still down

    conf = trust.nats_config({"type": "full", "dir": str(full_dir), "interval": "1s"})
    server = nats_factory(conf, port=port)
    await wait_line(proc, "connected to NATS for JWT syncing", timeout=15)

    # ours → full resolver (its pack requests, answered by our responder)
    a_file = full_dir / f"{trust.pub('A')}.jwt"
    await eventually(lambda: a_file.exists() and a_file.read_text() == jwt_a, timeout=10)
    # full resolver → ours (our pack requests, merged)
    ours = await eventually(lambda: _pack_of_if(http, proc.url, trust.pub("B")), timeout=10)
    assert ours[trust.pub("B")] == jwt_b and ours[trust.system_account] == sys_jwt

    # byte-identical sets → identical hashes: a pack request with it is answered by one empty message
    digest = 0
    for jwt in (sys_jwt, jwt_a, jwt_b):
        digest ^= int.from_bytes(hashlib.sha256(jwt.encode()).digest(), "big")
    async with client(server.url, user_credentials=str(trust.creds("sys"))) as nc:
        for _ in range(4):  # queue group: either responder may answer; both must agree
            assert await request_all(nc, "$SYS.REQ.CLAIMS.PACK", digest.to_bytes(32, "big")) == [b""]

    # a user of the account that only we had can now log in through the full resolver
    assert await connects(server.url, trust.creds("a"))
    # and a later update POSTed to us reaches the full resolver (notification, then sync agrees)
    newer = trust.account_jwt("A", iat=int(time.time()) + 5)
    assert (await post(http, proc.url, trust.pub("A"), newer)).status_code == 200
    await eventually(lambda: a_file.read_text() == newer, timeout=10)


async def _pack_of_if(http: httpx.AsyncClient, base: str, key: str) -> dict[str, str] | None:
    pack = await _pack_of(http, base)
    return pack if key in pack else None


async def test_cache_resolver_looks_accounts_up_from_us(
    tmp_path: Path,
    nats_factory: Callable[..., NatsServer],
    account_server: StartServer,
    trust: Trust,
    http: httpx.AsyncClient,
) -> None:
    """The system account and other accounts come from our lookup responder."""
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    port = free_port()
    # NATS given by the -nats and -creds flags instead of the config file this time
    flags = ("-nats", f"nats://127.0.0.1:{port}", "-creds", str(trust.creds("sys")))
    proc = account_server(None, args=flags)
    assert (await post(http, proc.url, trust.pub("A"), trust.account_jwt("A"))).status_code == 200
    server = nats_factory(trust.nats_config({"type": "cache", "dir": str(cache_dir)}), port=port)
    await wait_line(proc, "connected to NATS for JWT syncing", timeout=15)
    # nats-server starts on a bootstrap system account and fetches the real one from us
    await asyncio.to_thread(server.wait_for_line, "System account fetched", 15)
    assert await connects(server.url, trust.creds("a"))
    assert not await connects(server.url, trust.creds("b"))  # unknown to us: empty lookup reply
    assert (await post(http, proc.url, trust.pub("B"), trust.account_jwt("B"))).status_code == 200
    assert await connects(server.url, trust.creds("b"))
