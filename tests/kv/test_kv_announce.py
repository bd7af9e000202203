"""Announcements of three instances on one bucket leave a running nats-server on the newest JWT.

Two instances accept versions of one account close together (the older one is answered 200 when it
was stored first); their `CLAIMS.UPDATE` messages can reach the nats-server in either order, and
nats-server applies whatever arrives last. The instance that announced the older version sees the
newer one arrive through the bucket and announces again, so every round ends on the newest.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable

import httpx
import nats
import pytest
from kv_helpers import post_account, wait_served
from nats.aio.client import Client

from nats_account_server.jwt import peek_claims
from tests.support.natsserver import NatsServer
from tests.support.ports import free_port
from tests.support.procs import ServerProcess
from tests.support.trust import Trust

ROUNDS = 200
SETTLE = 3.0  # seconds a round may take to reach the nats-server


async def running_jti(nc: Client, account: str) -> str:
    """The jti of the account JWT the nats-server runs (asked over its system account)."""
    info = await nc.request(f"$SYS.REQ.ACCOUNT.{account}.INFO", b"", timeout=2)
    data = json.loads(info.data).get("data") or {}
    claim = data.get("decoded_jwt") or {}
    return str(claim.get("jti", ""))


@pytest.mark.parametrize("version", [2, 1])
async def test_concurrent_conflicting_updates_end_on_the_newest_jwt(
    kv_server: Callable[..., ServerProcess],
    nats_factory: Callable[..., NatsServer],
    http: httpx.AsyncClient,
    trust: Trust,
    trust_v1: Trust,
    version: int,
) -> None:
    keys = trust if version == 2 else trust_v1
    port = free_port()
    op_url = f"nats://127.0.0.1:{port}"
    nats_block = f'nats {{ servers: ["{op_url}"], usercredentials: "{keys.creds("sys")}" }}'
    instances = [kv_server(name, trust=keys, extra=nats_block) for name in ("one", "two", "three")]
    server = nats_factory(keys.nats_config(f"URL({instances[0].resolver_url})"), port=port)
    for instance in instances:
        await asyncio.to_thread(instance.wait_for_line, "connected to NATS for JWT syncing", 15)

    a = keys.pub("A")
    base = int(time.time())
    first = keys.account_jwt("A", signer="signing_key", iat=base)
    assert (await post_account(http, instances[0].url, a, first)).status_code == 200
    user = await nats.connect(server.url, user_credentials=str(keys.creds("a")), connect_timeout=2)
    system = await nats.connect(server.url, user_credentials=str(keys.creds("sys")), connect_timeout=2)
    rng = random.Random(7)
    late: list[int] = []
    try:  # the user's connection keeps A loaded in the nats-server, so every update applies
        for round_ in range(ROUNDS):
            older_at, newer_at = rng.sample(instances, 2)
            iat = base + 2 * round_ + 2
            older = keys.account_jwt("A", signer="signing_key", iat=iat)
            newer = keys.account_jwt("A", signer="signing_key", iat=iat + 1)
            answers = await asyncio.gather(
                post_account(http, older_at.url, a, older), post_account(http, newer_at.url, a, newer)
            )
            assert answers[1].status_code == 200, answers[1].text
            assert answers[0].status_code in (200, 409), answers[0].text
            newest = peek_claims(newer).jti
            for instance in instances:
                await wait_served(http, instance.url, a, newer, timeout=5)
            deadline = time.monotonic() + SETTLE
            while (jti := await running_jti(system, a)) != newest:
                if time.monotonic() > deadline:
                    late.append(round_)
                    break
                await asyncio.sleep(0.01)
        assert not late, f"the nats-server was left on an older JWT after rounds {late} of {ROUNDS}"
        assert jti == newest
    finally:
        await user.close()
        await system.close()
    assert server.running and all(i.running for i in instances)
