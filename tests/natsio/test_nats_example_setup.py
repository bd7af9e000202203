"""The seed's Example Setup end to end, with a real operator-mode nats-server.

Operator with a signing key, accounts SYS/A/B/C pushed to us over HTTP the way `nsc push` does,
nats-server with `operator:` + `resolver: URL(<our printed URL>)`, our server connected with a
system-account user's `.creds`. Run for v2 and v1 JWTs (nats-server 2.x accepts both).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import nats.errors
import pytest
from nats_helpers import client, collect, connects, eventually, flushed, post

from tests.support.operator_stack import StartNats, StartServer, start_operator_stack
from tests.support.trust import Trust, format_creds


def _restricted_creds(trust: Trust, user: str, allow: list[str]) -> Path:
    """User creds allowed to publish and subscribe only on `allow` (`sub` is also a standard claim
    name, so the permissions are set on the claims directly)."""
    claims = trust.user_claims(user)
    claims["nats"]["pub"] = {"allow": allow}
    claims["nats"]["sub"] = {"allow": allow}
    jwt = trust.sign(claims, trust.users[user].account)
    path = trust.dir / "creds" / f"{user}-restricted.creds"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(format_creds(jwt, trust.users[user].keys.seed))
    return path


class Errors:
    """Async errors of a nats-py connection (permission violations arrive here)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def cb(self, exc: Exception) -> None:
        self.seen.append(str(exc))


async def _payload_limit_applied(url: str, creds: Path, size: int) -> bool:
    """A fresh connection of the account can no longer send `size` bytes (INFO or server error)."""
    errors = Errors()
    async with client(url, user_credentials=str(creds), error_cb=errors.cb) as nc:
        if nc.max_payload < size:
            return True
        try:
            await nc.publish("test", b"x" * size)
            await nc.flush(timeout=2)
            await asyncio.sleep(0.2)
        except (TimeoutError, nats.errors.Error, OSError) as exc:
            errors.seen.append(str(exc))
        # nats-py keeps non-permission protocol errors in last_error and closes the connection
        errors.seen.append(str(nc.last_error or ""))
    return any("payload" in e.lower() for e in errors.seen)


@pytest.mark.parametrize("version", [2, 1], ids=["v2", "v1"])
async def test_example_setup(
    version: int,
    tmp_path: Path,
    nats_factory: StartNats,
    account_server: StartServer,
    http: httpx.AsyncClient,
) -> None:
    trust = Trust(tmp_path / f"trust-v{version}", version=version)
    trust.add_user("a2", "A")
    sys_creds = trust.creds("sys")

    # 1. the account server first (NATS is not up yet: it keeps retrying), then `nsc push`;
    # 2. nats-server resolving accounts from the URL we printed
    proc, server = await start_operator_stack(
        trust,
        account_server,
        nats_factory,
        http,
        accounts=("SYS", "A", "B", "C"),
        signer="signing_key",
        creds=sys_creds,
        system_account=False,
    )

    a_creds = _restricted_creds(trust, "a", allow=["test", "_INBOX.>"])
    a2_creds = trust.creds("a2")

    # 3. the system user sees system events on `>`
    async with client(server.url, user_credentials=str(sys_creds)) as sys_nc:
        events = await collect(sys_nc, ">")

        # 4. subscribing to `foo` without permission → permissions violation
        errors = Errors()
        async with client(server.url, user_credentials=str(a_creds), error_cb=errors.cb) as nc_a:
            await nc_a.subscribe("foo")
            await nc_a.flush(timeout=5)
            await eventually(lambda: any("permissions violation" in e.lower() for e in errors.seen))

            # 5. pub/sub on `test` inside account A works
            async with client(server.url, user_credentials=str(a2_creds)) as nc_a2:
                got = await collect(nc_a2, "test")
                await nc_a.publish("test", b"hello")
                await flushed(nc_a)
                assert (await got.wait_for(1))[0].data == b"hello"

        await eventually(lambda: any(m.subject.startswith("$SYS.ACCOUNT.") for m in events.msgs))
        assert any(m.subject == f"$SYS.ACCOUNT.{trust.pub('A')}.CONNECT" for m in events.msgs)

    # 6. an updated JWT POSTed to us reaches the running nats-server through our notification
    assert not await _payload_limit_applied(server.url, a2_creds, 1000)
    # a later iat: the jti only hashes the standard claims, so a same-second JWT would look identical
    lower = trust.account_jwt("A", signer="signing_key", iat=int(time.time()) + 1, limits={"payload": 256})
    resp = await post(http, proc.url, trust.pub("A"), lower)
    assert resp.status_code == 200, resp.text
    await eventually(lambda: _payload_limit_applied(server.url, a2_creds, 1000), timeout=10, interval=0.3)
    assert server.running and proc.running


async def test_url_resolver_resolves_pushed_account(
    tmp_path: Path,
    nats_factory: StartNats,
    account_server: StartServer,
    trust: Trust,
    http: httpx.AsyncClient,
) -> None:
    """An account pushed after nats-server started is resolved on the user's first connect."""
    proc = account_server(None)
    assert (await post(http, proc.url, trust.system_account, trust.account_jwt("SYS"))).status_code == 200
    server = nats_factory(trust.nats_config(f"URL({proc.resolver_url})"))
    b_creds = trust.creds("b")
    assert not await connects(server.url, b_creds)
    assert (await post(http, proc.url, trust.pub("B"), trust.account_jwt("B"))).status_code == 200
    assert await connects(server.url, b_creds)
