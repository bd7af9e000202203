"""Account lookups over NATS: a miss ends once every resolver has answered, a resolver that has
the account is still waited for, and one that joins later is counted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import nats
from nats.aio.msg import Msg

from tests.support.natsserver import NatsServer
from tests.support.polling import eventually
from tests.support.procs import ServerProcess
from tests.support.trust import Trust

TIMEOUT_MS = 5000  # the lookup timeout: a miss that waited for it would take 5 s


def get(proc: ServerProcess, key: str) -> tuple[int, str, float]:
    started = time.monotonic()
    resp = httpx.get(f"{proc.url}/jwt/v1/accounts/{key}", timeout=20)
    return resp.status_code, resp.text, time.monotonic() - started


async def test_a_miss_ends_when_every_resolver_has_answered(
    plain_nats: NatsServer, account_server: Callable[..., ServerProcess], trust: Trust, tmp_path
) -> None:
    extra = f"signrequesttimeout: {TIMEOUT_MS}"
    # two sibling instances: each answers every lookup of ours, empty when it lacks the account
    for name in ("one", "two"):
        account_server(plain_nats.url, name=f"{name}.conf", store=tmp_path / name, extra=extra)
    ours = account_server(plain_nats.url, name="ours.conf", store=tmp_path / "ours", extra=extra)
    ours.wait_for_line("account lookups are answered by 2 resolvers", 15)  # not by itself
    status, _, took = await asyncio.to_thread(get, ours, trust.pub("A"))
    assert status == 404 and took < TIMEOUT_MS / 1000 / 2, took

    # a slower resolver that has account C (e.g. a nats-server full resolver) joins
    key, jwt = trust.pub("C"), trust.account_jwt("C")
    nc = await nats.connect(plain_nats.url)

    async def answer(msg: Msg) -> None:
        await asyncio.sleep(0.3)
        await msg.respond(jwt.encode() if f".{key}." in msg.subject else b"")

    await nc.subscribe("$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP", cb=answer)
    await nc.flush()
    try:
        # the first lookup after it joined may end before its answer; its count learns of it
        async def found() -> bool:
            status, text, _ = await asyncio.to_thread(get, ours, key)
            return status == 200 and text == jwt

        await eventually(found, timeout=20, interval=0.5)
        status, text, took = await asyncio.to_thread(get, ours, key)  # not cached: asked again
        assert status == 200 and text == jwt
        status, _, took = await asyncio.to_thread(get, ours, trust.pub("B"))
        assert status == 404 and 0.3 <= took < TIMEOUT_MS / 1000 / 2, took  # all three heard
    finally:
        await nc.close()
