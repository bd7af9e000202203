"""DELETE /jwt/v1/accounts/<key> with the operator-signed delete request nsc sends: soft and hard
deletes, tombstones against resurrection, every refusal with its reason and nothing deleted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.http.conftest import server_config
from tests.support.deletes import delete_jwt
from tests.support.procs import ServerProcess, start_server
from tests.support.trust import Trust


@dataclass
class Deleting:
    proc: ServerProcess
    trust: Trust
    store: Path
    http: httpx.Client

    def post(self, name: str, jwt: str | None = None) -> httpx.Response:
        key = self.trust.pub(name)
        return self.http.post(f"/jwt/v1/accounts/{key}", content=jwt or self.trust.account_jwt(name))

    def delete(self, name: str, body: str | bytes) -> httpx.Response:
        return self.http.request("DELETE", f"/jwt/v1/accounts/{self.trust.pub(name)}", content=body)

    def get(self, name: str) -> httpx.Response:
        return self.http.get(f"/jwt/v1/accounts/{self.trust.pub(name)}")

    def file(self, name: str, suffix: str = ".jwt") -> Path:
        return self.store / f"{self.trust.pub(name)}{suffix}"


def _start(base: Path, version: int, extra: str) -> Iterator[Deleting]:
    trust = Trust(base / "trust", version=version)
    store = base / "store"
    conf = server_config(trust, store).replace(
        f'store {{ dir: "{store}" }}', f'store {{ dir: "{store}", {extra} }}'
    )
    proc = start_server(config_text=conf, tmp_path=base)
    with httpx.Client(base_url=proc.url, timeout=10) as http:
        try:
            yield Deleting(proc, trust, store, http)
        finally:
            proc.stop()


@pytest.fixture(params=[2, 1], ids=["v2", "v1"])
def soft(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deleting]:
    yield from _start(tmp_path, request.param, "allow_delete: true")


@pytest.fixture(params=[2, 1], ids=["v2", "v1"])
def hard(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deleting]:
    yield from _start(tmp_path, request.param, "allow_delete: true, hard_delete: true")


def test_soft_delete_keeps_the_jwt_aside_and_logs_who(soft: Deleting) -> None:
    t = soft.trust
    jwt_a = t.account_jwt("A")
    assert soft.post("A", jwt_a).status_code == 200 and soft.post("B").status_code == 200
    resp = soft.delete("A", delete_jwt(t, "A"))
    assert resp.status_code == 200 and resp.text == "deleted 1 accounts\n"
    assert soft.get("A").status_code == 404 and soft.get("B").status_code == 200
    assert not soft.file("A").exists() and soft.file("A", ".jwt.deleted").read_text() == jwt_a
    assert soft.file("A", ".tombstone").read_text().strip().isdigit()
    pack = soft.http.get("/jwt/v1/pack").text
    assert t.pub("A") not in pack and t.pub("B") in pack
    listed = soft.http.get("/jwt/v1/list/accounts").json()["accounts"]
    assert [e["key"] for e in listed] == sorted([t.pub("B")])
    line = soft.proc.wait_for_line(f"[INF] account {t.pub('A')[:12]} deleted (soft)")
    assert f"signed by {t.operator.pub[:12]}" in line and "via http from 127.0.0.1:" in line, line


def test_signing_key_may_delete_several_at_once(soft: Deleting) -> None:
    t = soft.trust
    for name in ("A", "B", "C"):
        assert soft.post(name).status_code == 200
    resp = soft.delete("B", delete_jwt(t, "A", "B", signer="signing_key"))
    assert resp.status_code == 200 and resp.text == "deleted 2 accounts\n"
    assert soft.get("A").status_code == 404 and soft.get("B").status_code == 404
    assert soft.get("C").status_code == 200
    soft.proc.wait_for_line(f"signed by {t.operator_signing.pub[:12]}")


def test_hard_delete_removes_the_jwt(hard: Deleting) -> None:
    t = hard.trust
    assert hard.post("A").status_code == 200
    assert hard.delete("A", delete_jwt(t, "A")).status_code == 200
    assert not hard.file("A").exists() and not hard.file("A", ".jwt.deleted").exists()
    assert hard.file("A", ".tombstone").exists() and hard.get("A").status_code == 404
    hard.proc.wait_for_line(f"account {t.pub('A')[:12]} deleted (hard)")


def test_a_copy_of_the_deleted_jwt_stays_out_a_newer_one_comes_back(hard: Deleting) -> None:
    t = hard.trust
    old = t.account_jwt("A", iat=int(time.time()) - 10)
    assert hard.post("A", old).status_code == 200
    assert hard.delete("A", delete_jwt(t, "A")).status_code == 200
    again = hard.post("A", old)  # what a pack merge or a sync peer would bring back
    assert again.status_code == 409 and hard.get("A").status_code == 404
    newer = t.account_jwt("A", iat=int(time.time()) + 2)
    assert hard.post("A", newer).status_code == 200
    assert hard.get("A").text == newer


@pytest.mark.parametrize(
    ("case", "status", "reason"),
    [
        ("garbage", 400, "bad delete request JWT - expected 3 chunks"),
        ("empty", 400, "bad delete request JWT - empty or not UTF-8 text"),
        ("foreign", 400, "not trusted"),
        ("account-signed", 400, "not trusted"),
        ("not self signed", 400, "not self signed"),
        ("bad signature", 400, "signature verification"),
        ("accounts missing", 400, "malformed request: nats.accounts must be a list of account public keys"),
        ("accounts not keys", 400, "malformed request: 'x' is not an account public key"),
        ("no accounts", 400, "malformed request: nats.accounts names no account"),
        ("system account", 400, "not allowed to delete system account"),
        ("url key not named", 400, "does not name the account"),
        ("unknown key", 404, "nothing was deleted"),
        ("expired", 400, "delete request is expired"),
        ("older than the account", 400, "was issued after the request; sign a new request"),
    ],
)
def test_hostile_requests_are_refused_and_delete_nothing(
    soft: Deleting, case: str, status: int, reason: str
) -> None:
    t = soft.trust
    assert soft.post("A").status_code == 200 and soft.post("B").status_code == 200
    now = int(time.time())
    bodies: dict[str, str | bytes] = {
        "garbage": "x",
        "empty": b"\xff\xfe",
        "foreign": delete_jwt(t, "A", signer="foreign"),
        "account-signed": delete_jwt(t, "A", signer="B"),
        "not self signed": delete_jwt(t, "A", sub=t.pub("A")),
        "accounts missing": delete_jwt(t, "A", nats={"account": [t.pub("A")]}),
        "accounts not keys": delete_jwt(t, "A", nats={"accounts": [t.pub("A"), "x"]}),
        "no accounts": delete_jwt(t, nats={"accounts": []}),
        "system account": delete_jwt(t, "A", "SYS"),
        "url key not named": delete_jwt(t, "B"),
        "unknown key": delete_jwt(t, "A", "C"),
        "expired": delete_jwt(t, "A", exp=now - 5),
        "older than the account": delete_jwt(t, "A", iat=now - 3600),
    }
    if case == "bad signature":
        good = delete_jwt(t, "A")
        head, payload, sig = good.split(".")
        other = delete_jwt(t, "B").split(".")[1]
        body: str | bytes = f"{head}.{other}.{sig}"
        del payload
    else:
        body = bodies[case]
    resp = soft.delete("A", body)
    assert resp.status_code == status and reason in resp.text, resp.text
    assert resp.text.count("\n") == 1  # one line
    assert soft.get("A").status_code == 200 and soft.get("B").status_code == 200
    assert soft.file("A").exists() and not soft.file("A", ".tombstone").exists()
    soft.proc.wait_for_line("[WRN] delete request refused: ")


def test_a_hostile_url_key_is_never_a_path(soft: Deleting) -> None:
    t = soft.trust
    assert soft.post("A").status_code == 200
    for tail in ("..%2F..%2Fetc%2Fpasswd", "A" * 56, "%2E%2E"):
        resp = soft.http.request("DELETE", f"/jwt/v1/accounts/{tail}", content=delete_jwt(t, "A"))
        assert resp.status_code in (400, 404), (tail, resp.status_code)
    assert soft.get("A").status_code == 200


def test_delete_is_off_unless_allowed(tmp_path: Path) -> None:
    gen = _start(tmp_path, 2, "shard: false")
    d = next(gen)
    try:
        assert d.post("A").status_code == 200
        resp = d.delete("A", delete_jwt(d.trust, "A"))
        assert resp.status_code == 405 and resp.headers["allow"] == "GET, POST, OPTIONS"
        assert "delete must be enabled in server config (store { allow_delete: true })" in resp.text
        assert d.get("A").status_code == 200
    finally:
        gen.close()


def test_read_only_store_says_where_to_delete(tmp_path: Path) -> None:
    trust = Trust(tmp_path / "trust")
    store = tmp_path / "store"
    store.mkdir()
    (store / f"{trust.pub('A')}.jwt").write_text(trust.account_jwt("A"))
    conf = server_config(trust, store).replace(
        f'store {{ dir: "{store}" }}', f'store {{ dir: "{store}", readonly: true, allow_delete: true }}'
    )
    proc = start_server(config_text=conf, tmp_path=tmp_path)
    try:
        resp = httpx.request(
            "DELETE",
            f"{proc.url}/jwt/v1/accounts/{trust.pub('A')}",
            content=delete_jwt(trust, "A"),
            timeout=10,
        )
        assert resp.status_code == 405 and resp.headers["allow"] == "GET, OPTIONS"
        assert resp.text == (
            "DELETE not allowed: the store is read-only (store { readonly: true } or -ro); send the delete"
            f" request to a writable account server, or remove the account's file from {store}\n"
        )
        assert (store / f"{trust.pub('A')}.jwt").exists()
    finally:
        proc.stop()
