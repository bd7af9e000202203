"""An operator-mode nats-server resolving through `resolver: URL(...)` from one KV instance while
updates are POSTed to another (the scale-out deployment of the README)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import nats
import nats.errors
from kv_helpers import eventually, post_account, wait_served

from tests.support.natsserver import NatsServer
from tests.support.ports import free_port
from tests.support.procs import ServerProcess
from tests.support.trust import Trust


async def connect_ok(url: str, creds: Path) -> bool:
    async def quiet(exc: Exception) -> None:
        """The expected authorization violation is not worth a traceback in the log."""

    try:
        nc = await nats.connect(
            url, user_credentials=str(creds), connect_timeout=2, allow_reconnect=False, error_cb=quiet
        )
    except (TimeoutError, nats.errors.Error, OSError):
        return False
    with contextlib.suppress(Exception):
        await nc.close()
    return True


async def payload_limited(url: str, creds: Path, size: int) -> bool:
    """A fresh connection of the account can no longer send `size` bytes (INFO or server error)."""
    seen: list[str] = []

    async def error_cb(exc: Exception) -> None:
        seen.append(str(exc))

    nc = await nats.connect(
        url, user_credentials=str(creds), connect_timeout=2, allow_reconnect=False, error_cb=error_cb
    )
    try:
        if nc.max_payload < size:
            return True
        try:
            await nc.publish("test", b"x" * size)
            await nc.flush(timeout=2)
            await asyncio.sleep(0.2)
        except (TimeoutError, nats.errors.Error, OSError) as exc:
            seen.append(str(exc))
        seen.append(str(nc.last_error or ""))
    finally:
        with contextlib.suppress(Exception):
            await nc.close()
    return any("payload" in e.lower() for e in seen)


async def test_kv_url_resolver_on_one_instance_updates_posted_to_another(
    kv_server: Callable[..., ServerProcess],
    nats_factory: Callable[..., NatsServer],
    http: httpx.AsyncClient,
    trust: Trust,
) -> None:
    port = free_port()
    op_url = f"nats://127.0.0.1:{port}"
    sys_creds = trust.creds("sys")
    # `one` takes the uploads and announces them on the operator server's system account;
    # `two` only serves the nats-server's resolver: it learns about uploads through the KV alone
    one = kv_server("one", extra=f'nats {{ servers: ["{op_url}"], usercredentials: "{sys_creds}" }}')
    two = kv_server("two")
    server = nats_factory(trust.nats_config(f"URL({two.resolver_url})"), port=port)
    await asyncio.to_thread(one.wait_for_line, "connected to NATS for JWT syncing", 15)

    a_creds = trust.creds("a")
    a = trust.pub("A")
    assert not await connect_ok(server.url, a_creds)  # A is in no store yet
    jwt = trust.account_jwt("A", signer="signing_key")
    assert (await post_account(http, one.url, a, jwt)).status_code == 200
    await wait_served(http, two.url, a, jwt, timeout=2)
    assert await connect_ok(server.url, a_creds)  # resolved through `two`
    assert not await payload_limited(server.url, a_creds, 1000)

    # an update POSTed to `one` reaches the running nats-server (one's notification) and `two`
    lower = trust.account_jwt("A", signer="signing_key", iat=int(time.time()) + 1, limits={"payload": 256})
    assert (await post_account(http, one.url, a, lower)).status_code == 200
    await wait_served(http, two.url, a, lower, timeout=2)
    await eventually(lambda: payload_limited(server.url, a_creds, 1000), timeout=10, interval=0.3)
    assert server.running and one.running and two.running
