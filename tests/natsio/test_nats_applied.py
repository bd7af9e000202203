"""Which running nats-servers applied an upload, against a cluster of three real nats-servers in
operator mode resolving accounts from us (URL resolver): the `?wait=` report of an upload and
`GET /jwt/v1/accounts/<key>/status`, for v2 and v1 JWTs, with a server that refuses the update."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.aio.client import Client
from nats_helpers import client, collect, eventually, flushed, post, wait_line

from nats_account_server.natsio.applied import Roster, answer_of
from tests.support.natsserver import NatsServer, operator_config
from tests.support.ports import free_port
from tests.support.procs import ServerProcess
from tests.support.trust import Trust

StartServer = Callable[..., ServerProcess]
NAMES = ("n0", "n1", "n2")


def _cluster(
    trust: Trust,
    proc: ServerProcess,
    nats_factory: Callable[..., NatsServer],
    port: int,
    operators: dict[str, Path] | None = None,
) -> list[NatsServer]:
    """Three routed nats-servers; n0 listens on `port` (where our server connects); `operators`
    gives a server another operator JWT file (the same operator, other signing keys)."""
    ports = [port, free_port(), free_port()]
    cports = [free_port() for _ in NAMES]
    servers = []
    for i, name in enumerate(NAMES):
        routes = ", ".join(f"nats://127.0.0.1:{p}" for j, p in enumerate(cports) if j != i)
        extra = (
            f"server_name: {name}\ncluster {{ name: C, listen: 127.0.0.1:{cports[i]}, routes: [{routes}] }}"
        )
        operator = (operators or {}).get(name, trust.operator_jwt_path)
        conf = operator_config(operator, trust.system_account, f"URL({proc.resolver_url})", extra=extra)
        servers.append(nats_factory(conf, port=ports[i], name=name))
    return servers


async def _status(http: httpx.AsyncClient, base: str, key: str, query: str = "") -> dict[str, Any]:
    resp = await http.get(f"{base}/jwt/v1/accounts/{key}/status{query}")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/json"
    body: dict[str, Any] = resp.json()
    return body


async def _routed(http: httpx.AsyncClient, base: str, key: str) -> dict[str, Any] | None:
    """The status once the cluster has formed: every server answered, none missing."""
    status = await _status(http, base, key)
    answered = len(status["servers"]) + len(status["not_loaded"]) + len(status["errors"])
    return status if status["complete"] and answered == 3 else None


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as s:
        yield s


async def _load(
    stack: AsyncExitStack, servers: list[NatsServer], creds: Path, names: tuple[str, ...]
) -> None:
    """Connected users of the account on these servers: each has the account loaded."""
    for server in servers:
        if server.name in names:
            nc: Client = await stack.enter_async_context(client(server.url, user_credentials=str(creds)))
            assert nc.is_connected


def _by_name(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["server"]: e for e in entries}


@pytest.mark.parametrize("version", [2, 1], ids=["v2", "v1"])
async def test_wait_and_status_on_a_cluster_of_three(
    version: int,
    tmp_path: Path,
    nats_factory: Callable[..., NatsServer],
    account_server: StartServer,
    http: httpx.AsyncClient,
    stack: AsyncExitStack,
) -> None:
    trust = Trust(tmp_path / f"trust-v{version}", version=version)
    port = free_port()
    proc = account_server(f"nats://127.0.0.1:{port}", trust=trust, creds=trust.creds("sys"))
    a = trust.pub("A")
    for name in ("SYS", "A", "B"):
        assert (await post(http, proc.url, trust.pub(name), trust.account_jwt(name))).status_code == 200
    servers = _cluster(trust, proc, nats_factory, port)
    await wait_line(proc, "connected to NATS for JWT syncing", timeout=15)
    await _load(stack, servers, trust.creds("a"), ("n0", "n1"))

    # the status: loaded on n0 and n1, both running the stored jti; n2 does not have it
    status = await eventually(lambda: _routed(http, proc.url, a), timeout=15)
    stored = status["jti"]
    assert status["account"] == a and status["up_to_date"] is True
    assert (status["loaded"], status["current"], status["outdated"]) == (2, 2, 0)
    assert sorted(_by_name(status["servers"])) == ["n0", "n1"] and status["not_loaded"] == ["n2"]
    assert all(s["jti"] == stored and s["current"] and s["cluster"] == "C" for s in status["servers"])
    assert _by_name(status["servers"])["n1"]["connections"] == 1

    # an upload that waits: n0 and n1 confirm the new jti, n2 answers that it has not loaded it
    watcher = await stack.enter_async_context(
        client(servers[2].url, user_credentials=str(trust.creds("sys")))
    )
    updates = await collect(watcher, f"$SYS.ACCOUNT.{a}.CLAIMS.UPDATE")
    newer = trust.account_jwt("A", iat=int(time.time()) + 1, limits={"payload": 4096})
    resp = await http.post(f"{proc.url}/jwt/v1/accounts/{a}?wait=5000", content=newer)
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json", resp.text
    report = resp.json()
    assert report["notified"] is True and report["wait_ms"] == 5000 and "reason" not in report
    assert (report["answered"], report["confirmed"], report["not_loaded"]) == (3, 2, 1)
    assert report["refused"] == [] and report["missing"] == [] and report["complete"] is True
    results = {s["server"]: (s["result"], s["message"]) for s in report["servers"]}
    assert results == {
        "n0": ("confirmed", "jwt updated"),
        "n1": ("confirmed", "jwt updated"),
        "n2": ("not_loaded", "jwt update skipped"),
    }
    assert report["jti"] != stored
    # still exactly one notification, the JWT as its payload (now with a reply subject)
    await flushed(watcher)
    assert [m.data for m in await updates.wait_for(1)] == [newer.encode()]
    line = await wait_line(proc, "applied by 2 of 3 nats-servers")
    assert "[INF]" in line and "(1 without the account loaded)" in line

    status = await _status(http, proc.url, a)
    assert status["jti"] == report["jti"] and status["up_to_date"] is True
    assert {s["jti"] for s in status["servers"]} == {report["jti"]}

    # without the parameter the upload answers as it always did: 200, empty, one notification
    newest = trust.account_jwt("A", iat=int(time.time()) + 2)
    resp = await post(http, proc.url, a, newest)
    assert (resp.status_code, resp.content) == (200, b"")
    assert [m.data for m in await updates.wait_for(2)][1] == newest.encode()
    status = await eventually(lambda: _current(http, proc.url, a), timeout=10)
    assert status["loaded"] == 2

    # an account no server has loaded: every server says so, and the status is still up to date
    b = await _status(http, proc.url, trust.pub("B"))
    assert b["loaded"] == 0 and sorted(b["not_loaded"]) == list(NAMES) and b["up_to_date"] is True


async def _current(http: httpx.AsyncClient, base: str, key: str) -> dict[str, Any] | None:
    status = await _status(http, base, key)
    return status if status["up_to_date"] and status["current"] == status["loaded"] else None


async def test_a_refusing_server_is_reported_and_shows_the_old_jti(
    tmp_path: Path,
    nats_factory: Callable[..., NatsServer],
    account_server: StartServer,
    trust: Trust,
    http: httpx.AsyncClient,
    stack: AsyncExitStack,
) -> None:
    """n2 trusts the operator without its signing key: it refuses an update we accept (signed with
    that key) and keeps running the version signed by the operator itself."""
    stale = tmp_path / "operator-without-signing-key.jwt"
    stale.write_text(trust.make_operator_jwt(signing_keys=None))
    port = free_port()
    proc = account_server(f"nats://127.0.0.1:{port}", creds=trust.creds("sys"))
    a = trust.pub("A")
    for name in ("SYS", "A"):
        assert (await post(http, proc.url, trust.pub(name), trust.account_jwt(name))).status_code == 200
    servers = _cluster(trust, proc, nats_factory, port, operators={"n2": stale})
    await wait_line(proc, "connected to NATS for JWT syncing", timeout=15)
    await _load(stack, servers, trust.creds("a"), NAMES)
    before = (await eventually(lambda: _routed(http, proc.url, a), timeout=15))["jti"]

    signed_by_key = trust.account_jwt("A", signer="signing_key", iat=int(time.time()) + 1)
    resp = await http.post(f"{proc.url}/jwt/v1/accounts/{a}?wait=5000", content=signed_by_key)
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert (report["answered"], report["confirmed"], report["not_loaded"]) == (3, 2, 0)
    assert [r["server"] for r in report["refused"]] == ["n2"]
    assert report["refused"][0]["reason"].startswith("jwt update resulted in error")
    assert report["complete"] is True
    line = await wait_line(proc, "applied by 2 of 3 nats-servers")
    assert "[WRN]" in line and "n2 refused it: jwt update resulted in error" in line

    status = await _status(http, proc.url, a)
    assert status["jti"] == report["jti"] != before
    assert status["up_to_date"] is False and (status["current"], status["outdated"]) == (2, 1)
    servers_by_name = _by_name(status["servers"])
    assert servers_by_name["n2"]["jti"] == before and servers_by_name["n2"]["current"] is False
    assert servers_by_name["n0"]["current"] and servers_by_name["n1"]["current"]


async def test_a_server_that_does_not_answer_is_missing(
    tmp_path: Path,
    nats_factory: Callable[..., NatsServer],
    account_server: StartServer,
    trust: Trust,
    http: httpx.AsyncClient,
    stack: AsyncExitStack,
) -> None:
    """n2 is frozen (SIGSTOP): its peers still list it, so the wait runs to its end and names it;
    thawed, it applies the update it had queued and the status is up to date again."""
    port = free_port()
    proc = account_server(f"nats://127.0.0.1:{port}", creds=trust.creds("sys"))
    a = trust.pub("A")
    for name in ("SYS", "A"):
        assert (await post(http, proc.url, trust.pub(name), trust.account_jwt(name))).status_code == 200
    servers = _cluster(trust, proc, nats_factory, port)
    await wait_line(proc, "connected to NATS for JWT syncing", timeout=15)
    await _load(stack, servers, trust.creds("a"), NAMES)
    await eventually(lambda: _routed(http, proc.url, a), timeout=15)

    servers[2].pause()
    try:
        newer = trust.account_jwt("A", iat=int(time.time()) + 1)
        resp = await http.post(f"{proc.url}/jwt/v1/accounts/{a}?wait=1500", content=newer)
        report = resp.json()
        assert (report["answered"], report["confirmed"]) == (2, 2)
        assert report["missing"] == ["n2"] and report["complete"] is False
        line = await wait_line(proc, "applied by 2 of 2 nats-servers")
        assert "[WRN]" in line and line.endswith("no answer from n2")
        status = await _status(http, proc.url, a, "?wait=300")
        assert status["missing"] == ["n2"] and status["up_to_date"] is False
    finally:
        servers[2].resume()
    status = await eventually(lambda: _current(http, proc.url, a), timeout=10)
    assert status["loaded"] == 3 and status["jti"] == report["jti"]


async def test_status_and_wait_when_nats_is_not_reachable(
    account_server: StartServer, trust: Trust, http: httpx.AsyncClient
) -> None:
    """NATS configured but down: the status is a 503 with the reason, an upload that waits is stored
    and reports that nothing was sent."""
    proc = account_server(f"nats://127.0.0.1:{free_port()}", creds=trust.creds("sys"))
    a = trust.pub("A")
    resp = await http.post(f"{proc.url}/jwt/v1/accounts/{a}?wait=3000", content=trust.account_jwt("A"))
    assert resp.status_code == 200
    report = resp.json()
    assert report["notified"] is False and report["reason"].startswith("not connected to NATS yet")
    status = await http.get(f"{proc.url}/jwt/v1/accounts/{a}/status")
    assert status.status_code == 503
    assert status.text.startswith("cannot ask the nats-servers: not connected to NATS yet")
    assert status.text.count("\n") == 1


# ------------------------------------------------------- the roster and the answers, on reply shapes


def _statsz(name: str, cluster: str, routes: list[str], gateways: tuple[str, ...] = ()) -> dict[str, Any]:
    """A ping answer as nats-server 2.15 sends it (a route peer appears once per pooled route)."""
    return {
        "server": {"name": name, "cluster": cluster, "id": "N" + name.upper(), "ver": "2.15.1"},
        "statsz": {
            "routes": [{"rid": i, "name": peer} for i, peer in enumerate(routes * 3)],
            "gateways": [{"gwid": 1, "name": gw} for gw in gateways],
        },
    }


def test_roster_knows_route_peers_and_waits_for_each_gateway() -> None:
    roster = Roster()
    assert not roster.settled and roster.known == set()
    roster.add(_statsz("n0", "C", ["n1", "n2"]))
    assert roster.settled and roster.known == {"n0", "n1", "n2"}
    roster.add(_statsz("n1", "C", ["n0", "n2"], gateways=("EAST",)))
    assert not roster.settled  # a gateway named, nobody of that cluster heard yet
    roster.add(_statsz("e0", "EAST", ["e1"], gateways=("C",)))
    assert roster.settled and roster.known == {"n0", "n1", "n2", "e0", "e1"}
    for junk in ({}, {"server": "x"}, {"server": {"name": ""}, "statsz": {}}, {"server": {"name": "x"}}):
        roster.add(junk)
    assert roster.known == {"n0", "n1", "n2", "e0", "e1"}


def test_answers_of_nats_servers_only() -> None:
    server = {"name": "n0", "id": "NX", "cluster": "C", "ver": "2.15.1"}
    ok = answer_of({"server": server, "data": {"code": 200, "message": "jwt updated"}})
    assert ok is not None and (ok.name, ok.id, ok.cluster, ok.version, ok.error) == (
        "n0",
        "NX",
        "C",
        "2.15.1",
        "",
    )
    refused = answer_of(
        {"server": server, "error": {"code": 500, "description": "jwt update resulted in error - x"}}
    )
    assert refused is not None and refused.error == "jwt update resulted in error - x"
    bare = answer_of({"server": server, "error": {"code": 500}})
    assert bare is not None and bare.error == "error 500"
    sibling = {"name": "nats-account-server", "id": "NY"}
    assert answer_of({"server": sibling, "data": {"message": "Updated jwt"}}) is None
    assert answer_of({"data": {}}) is None and answer_of({"server": {"name": ""}}) is None
