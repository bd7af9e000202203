"""What a deletion here does to running nats-servers, per resolver type, against the real binary."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import nats
import pytest
from nats.aio.client import Client
from nats_helpers import connects, post

from tests.support.deletes import allowing_deletes, delete_jwt
from tests.support.natsserver import NatsServer
from tests.support.operator_stack import StartNats, StartServer, start_operator_stack
from tests.support.procs import ServerProcess
from tests.support.trust import Trust


@asynccontextmanager
async def watched(url: str, creds: Path) -> AsyncIterator[tuple[Client, asyncio.Event]]:
    """A user connection that never reconnects, and an event set when the server closes it."""
    closed = asyncio.Event()

    async def on_closed() -> None:
        closed.set()

    async def on_error(_: Exception) -> None:
        return None

    nc = await nats.connect(
        url,
        user_credentials=str(creds),
        allow_reconnect=False,
        connect_timeout=2,
        closed_cb=on_closed,
        disconnected_cb=on_closed,
        error_cb=on_error,
    )
    try:
        yield nc, closed
    finally:
        if not nc.is_closed:
            await nc.close()


async def _closed_within(closed: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(closed.wait(), seconds)
    except TimeoutError:
        return False
    return True


async def _delete_a(http: httpx.AsyncClient, proc: ServerProcess, trust: Trust) -> None:
    resp = await http.request(
        "DELETE", f"{proc.url}/jwt/v1/accounts/{trust.pub('A')}", content=delete_jwt(trust, "A")
    )
    assert resp.status_code == 200 and resp.text == "deleted 1 accounts\n", resp.text


def _dir_resolver(base: Path, trust: Trust, kind: str, **more: object) -> dict[str, object]:
    """A full or cache resolver block; a full resolver starts with the system account in its folder."""
    folder = base / kind
    folder.mkdir()
    if kind == "full":
        (folder / f"{trust.system_account}.jwt").write_text(trust.account_jwt("SYS"))
        more.setdefault("interval", "1s")
    return {"type": kind, "dir": str(folder), **more}


Stack = Callable[..., Awaitable[tuple[Trust, ServerProcess, NatsServer]]]


@pytest.fixture
def stack(
    tmp_path: Path, account_server: StartServer, nats_factory: StartNats, http: httpx.AsyncClient
) -> Stack:
    """`await stack(version, kind, **more)` -> trust, our server, nats-server.

    Our server with a store allowing deletes (syncing every 500 ms), given SYS, A and B, and
    nats-server with a resolver of `kind` ("URL": ours, or a "full" or "cache" one with `more` settings);
    ready once user a connects (a full resolver gets A by its first sync, a cache resolver by lookup).
    """

    async def start(version: int, kind: str, **more: object) -> tuple[Trust, ServerProcess, NatsServer]:
        trust = Trust(tmp_path / f"trust-v{version}", version=version)
        resolver = None if kind == "URL" else _dir_resolver(tmp_path, trust, kind, **more)
        proc, server = await start_operator_stack(
            trust, account_server, nats_factory, http, resolver, **allowing_deletes(tmp_path / "ours")
        )
        for _ in range(50):
            if await connects(server.url, trust.creds("a")):
                return trust, proc, server
            await asyncio.sleep(0.2)
        raise AssertionError("user a never connected")

    return start


@pytest.mark.parametrize("version", [2, 1], ids=["v2", "v1"])
async def test_url_resolver_keeps_a_loaded_account_until_restart(
    version: int, stack: Stack, http: httpx.AsyncClient
) -> None:
    """URL(...): nats-server fetches an account once and keeps it; nothing in the protocol makes it
    forget one (it does not listen to delete requests), so connected users stay and new ones are let
    in until nats-server restarts (or the JWT expires); then the fetch gets our 404 and it refuses."""
    trust, proc, server = await stack(version, "URL")
    async with watched(server.url, trust.creds("a")) as (_, closed):
        await _delete_a(http, proc, trust)
        assert not await _closed_within(closed, 3)
        assert await connects(server.url, trust.creds("a"))
    assert await connects(server.url, trust.creds("b"))
    server.restart()
    assert not await connects(server.url, trust.creds("a"))
    assert await connects(server.url, trust.creds("b"))


async def test_url_resolver_drops_users_at_once_on_an_update_allowing_no_connections(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    """What to do before deleting with URL resolvers: an update with `conn: 0` disconnects the
    account's users on every resolver type, and the delete then keeps them out after restarts."""
    trust, proc, server = await stack(2, "URL")
    async with watched(server.url, trust.creds("a")) as (_, closed):
        closing = trust.account_jwt("A", iat=int(time.time()) + 1, limits={"conn": 0})
        assert (await post(http, proc.url, trust.pub("A"), closing)).status_code == 200
        assert await _closed_within(closed, 5)
    assert not await connects(server.url, trust.creds("a"))
    resp = await http.request(
        "DELETE",
        f"{proc.url}/jwt/v1/accounts/{trust.pub('A')}",
        content=delete_jwt(trust, "A", iat=int(time.time()) + 1),
    )
    assert resp.status_code == 200, resp.text
    server.restart()
    assert not await connects(server.url, trust.creds("a"))


@pytest.mark.parametrize("version", [2, 1], ids=["v2", "v1"])
async def test_full_resolver_allowing_deletes_drops_the_account_at_once(
    version: int, tmp_path: Path, stack: Stack, http: httpx.AsyncClient
) -> None:
    """full with allow_delete: the request we forward on $SYS.REQ.CLAIMS.DELETE deletes its copy,
    its connected users are disconnected, new ones refused, also after a restart; its sync then
    agrees with ours (neither side brings the account back)."""
    trust, proc, server = await stack(version, "full", allow_delete=True)
    copy = tmp_path / "full" / f"{trust.pub('A')}.jwt"
    assert copy.exists()
    async with watched(server.url, trust.creds("a")) as (_, closed):
        await _delete_a(http, proc, trust)
        assert await _closed_within(closed, 5)
    assert not await connects(server.url, trust.creds("a")) and not copy.exists()
    assert (tmp_path / "full" / f"{trust.pub('A')}.jwt.deleted").exists()  # its own soft delete
    assert await connects(server.url, trust.creds("b"))
    server.restart()
    await asyncio.sleep(2.5)  # two sync periods
    assert not await connects(server.url, trust.creds("a"))
    assert (await http.get(f"{proc.url}/jwt/v1/accounts/{trust.pub('A')}")).status_code == 404


@pytest.mark.parametrize("version", [2, 1], ids=["v2", "v1"])
async def test_full_resolver_without_allow_delete_keeps_it_and_cannot_resurrect_it_here(
    version: int, stack: Stack, http: httpx.AsyncClient
) -> None:
    """full without allow_delete refuses the forwarded request (its log says so) and keeps serving
    the account, across restarts; its pack still carries the JWT, which our tombstone keeps out."""
    trust, proc, server = await stack(version, "full")
    async with watched(server.url, trust.creds("a")) as (_, closed):
        await _delete_a(http, proc, trust)
        await asyncio.to_thread(server.wait_for_line, "delete must be enabled in server config", 10)
        assert not await _closed_within(closed, 2)
    await asyncio.sleep(2.5)  # its pack, with A, has been offered to us twice by now
    assert (await http.get(f"{proc.url}/jwt/v1/accounts/{trust.pub('A')}")).status_code == 404
    server.restart()
    assert await connects(server.url, trust.creds("a"))


@pytest.mark.parametrize("version", [2, 1], ids=["v2", "v1"])
async def test_cache_resolver_drops_the_account_at_once(
    version: int, stack: Stack, http: httpx.AsyncClient
) -> None:
    """cache: it handles delete requests too (its store always deletes for good): connected users
    are disconnected; a new connection looks the account up from us, finds none, and is refused."""
    trust, proc, server = await stack(version, "cache")
    async with watched(server.url, trust.creds("a")) as (_, closed):
        await _delete_a(http, proc, trust)
        assert await _closed_within(closed, 5)
    assert not await connects(server.url, trust.creds("a"))
    assert await connects(server.url, trust.creds("b"))
    server.restart()
    assert not await connects(server.url, trust.creds("a"))
