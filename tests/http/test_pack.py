"""GET /jwt/v1/pack against real server processes.

Each test starts its own server so line counts are exact.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from nats_account_server.jwt import activation_hash
from tests.support.procs import ServerProcess, start_server
from tests.support.trust import Trust


@pytest.fixture(params=[2, 1], ids=["v2", "v1"])
def trust(request: pytest.FixtureRequest, tmp_path: Path) -> Trust:
    return Trust(tmp_path / "trust", version=request.param)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, trust_env=False) as c:
        yield c


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    procs: list[ServerProcess] = []
    yield procs
    for proc in procs:
        proc.stop(timeout=5)


def start(
    servers: list[ServerProcess], tmp_path: Path, trust: Trust, extra: str = "", *args: str
) -> ServerProcess:
    work = tmp_path / f"srv{len(servers)}"
    work.mkdir()
    config = f'operatorjwtpath: "{trust.operator_jwt_path}"\nlogging {{ colors: false }}\n{extra}\n'
    proc = start_server(*args, config_text=config, tmp_path=work)
    servers.append(proc)
    return proc


def upload(client: httpx.Client, proc: ServerProcess, trust: Trust, count: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for _ in range(count):
        name = f"P{len(trust.accounts)}"
        trust.add_account(name)
        jwt = trust.account_jwt(name)
        resp = client.post(f"{proc.url}/jwt/v1/accounts/{trust.pub(name)}", content=jwt)
        assert resp.status_code == 200, resp.text
        out[trust.pub(name)] = jwt
    return out


def pack(client: httpx.Client, proc: ServerProcess, query: str = "") -> httpx.Response:
    return client.get(f"{proc.url}/jwt/v1/pack{query}")


def lines_of(resp: httpx.Response) -> list[str]:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    assert not resp.text.endswith("\n")
    return resp.text.split("\n") if resp.text else []


@pytest.mark.parametrize("store", ["memory", "dir", "sharded"])
def test_pack_lists_every_upload(
    store: str, trust: Trust, tmp_path: Path, client: httpx.Client, servers: list[ServerProcess]
) -> None:
    """107: N uploads -> N lines `<pubkey>|<jwt>`, whatever the store layout."""
    extra = {
        "memory": "",
        "dir": f'store {{ dir: "{tmp_path / "d"}" }}',
        "sharded": f'store {{ dir: "{tmp_path / "s"}", shard: true }}',
    }[store]
    proc = start(servers, tmp_path, trust, extra)
    assert pack(client, proc).content == b""  # empty store -> empty body
    uploads = upload(client, proc, trust, 5)
    assert sorted(lines_of(pack(client, proc))) == sorted(f"{k}|{v}" for k, v in uploads.items())


def test_pack_max(trust: Trust, tmp_path: Path, client: httpx.Client, servers: list[ServerProcess]) -> None:
    """108: ?max=2 gives exactly 2 of the uploads; a non-integer max is 400."""
    proc = start(servers, tmp_path, trust)
    uploads = upload(client, proc, trust, 4)
    expected = {f"{k}|{v}" for k, v in uploads.items()}
    cases = (("?max=2", 2), ("?max=%2B3", 3), ("?max=0", 0), ("?max=4&max=1", 4), ("?max=100", 4))
    for query, count in cases:
        got = lines_of(pack(client, proc, query))
        assert len(got) == count and set(got) <= expected, query
    for value in ("foo", "", " 2", "2.0", "1_0", "0x2"):
        resp = pack(client, proc, f"?max={value}")
        assert resp.status_code == 400 and resp.text == f'bad max parameter "{value}"\n', value
        assert resp.headers["content-type"].startswith("text/plain")


def test_pack_limit_of_the_server(
    trust: Trust, tmp_path: Path, client: httpx.Client, servers: list[ServerProcess]
) -> None:
    """109: above `maxreplicationpack` is 400; absent or negative max mean the server's limit."""
    proc = start(servers, tmp_path, trust, "maxreplicationpack: 3")
    upload(client, proc, trust, 5)
    resp = pack(client, proc, "?max=4")
    assert resp.status_code == 400
    assert resp.text == 'bad max parameter "4", no more than 3 are allowed\n'
    for query in ("", "?max=3", "?max=-1"):
        assert len(lines_of(pack(client, proc, query))) == 3, query
    unlimited = start(servers, tmp_path, trust, "maxreplicationpack: -1")
    upload(client, unlimited, trust, 3)
    for query in ("", "?max=-1", "?max=50000"):
        assert len(lines_of(pack(client, unlimited, query))) == 3, query
    none = start(servers, tmp_path, trust, "maxreplicationpack: 0")
    upload(client, none, trust, 2)
    assert lines_of(pack(client, none)) == []
    assert pack(client, none, "?max=1").status_code == 400


def test_pack_on_nsc_store_is_404(
    trust: Trust, tmp_path: Path, client: httpx.Client, servers: list[ServerProcess]
) -> None:
    """110: the nsc store has no pack, so the route is absent."""
    op = tmp_path / "nsc" / "OP"
    (op / "accounts" / "A").mkdir(parents=True)
    (op / ".nsc").write_text(json.dumps({"name": "OP", "kind": "operator", "version": "1"}))
    (op / "OP.jwt").write_text(trust.operator_jwt)
    (op / "accounts" / "A" / "A.jwt").write_text(trust.account_jwt("A"))
    proc = start(servers, tmp_path, trust, "", "-nsc", str(op))
    assert client.get(f"{proc.url}/jwt/v1/accounts/{trust.pub('A')}").status_code == 200
    resp = pack(client, proc)
    assert resp.status_code == 404 and resp.text == "404 page not found\n"


def test_pack_includes_activations_and_expired_jwts(
    trust: Trust, tmp_path: Path, client: httpx.Client, servers: list[ServerProcess]
) -> None:
    """5.10: everything a replica needs, expired included; stray files are skipped."""
    store = tmp_path / "store"
    proc = start(servers, tmp_path, trust, f'store {{ dir: "{store}" }}')
    now = int(time.time())
    expired = trust.account_jwt("A", iat=now - 100, exp=now - 10)
    (store / f"{trust.pub('A')}.jwt").write_text(expired)
    (store / "not-a-key.jwt").write_text("junk")
    act = trust.activation_jwt("A", "B", "stream.>")
    assert client.post(f"{proc.url}/jwt/v1/activations", content=act).status_code == 200
    key = activation_hash(trust.pub("A"), trust.pub("B"), "stream.>")
    assert sorted(lines_of(pack(client, proc))) == sorted([f"{trust.pub('A')}|{expired}", f"{key}|{act}"])
