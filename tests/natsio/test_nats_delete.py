"""$SYS.REQ.CLAIMS.DELETE as nsc sends it (`nsc push --prune` / `-R`), answered by us and by a real
nats-server full resolver side by side: same request accepted or refused alike, same reply format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats_helpers import client, eventually, post, request_all, wait_line

from tests.support.deletes import allowing_deletes, delete_jwt
from tests.support.natsserver import NatsServer
from tests.support.operator_stack import StartNats, StartServer, start_operator_stack
from tests.support.trust import Trust

SUBJECT = "$SYS.REQ.CLAIMS.DELETE"


def _by_server(replies: list[bytes]) -> dict[str, dict[str, Any]]:
    """Replies keyed by who sent them: "ours" or "nats-server"."""
    out = {}
    for raw in replies:
        body = json.loads(raw)
        who = "ours" if body["server"].get("name") == "nats-account-server" else "nats-server"
        out[who] = body
    return out


@pytest.mark.parametrize("version", [2, 1], ids=["v2", "v1"])
async def test_we_answer_as_the_full_resolver_does(
    version: int,
    tmp_path: Path,
    nats_factory: StartNats,
    account_server: StartServer,
    http: httpx.AsyncClient,
) -> None:
    trust = Trust(tmp_path / "trust", version=version)
    full = tmp_path / "full"
    full.mkdir()
    (full / f"{trust.system_account}.jwt").write_text(trust.account_jwt("SYS"))
    ours = tmp_path / "ours"
    resolver = {"type": "full", "dir": str(full), "interval": "1s", "allow_delete": True}
    proc, server = await start_operator_stack(
        trust, account_server, nats_factory, http, resolver, accounts=("A", "B"), **allowing_deletes(ours)
    )
    await eventually(lambda: (full / f"{trust.pub('A')}.jwt").exists(), timeout=10)

    async with client(server.url, user_credentials=str(trust.creds("sys"))) as nc:

        async def ask(body: str) -> dict[str, dict[str, Any]]:
            replies = await request_all(nc, SUBJECT, body.encode(), until_empty=False, timeout=2)
            answered = _by_server(replies)
            assert set(answered) == {"ours", "nats-server"}, replies
            return answered

        foreign = delete_jwt(trust, "A", signer="foreign")
        refusals = {
            "not trusted": foreign,
            "not self signed": delete_jwt(trust, "A", sub=trust.pub("A")),
            "not allowed to delete system account": delete_jwt(trust, "SYS"),
        }
        for reason, body in refusals.items():
            answered = await ask(body)
            for who, reply in answered.items():
                assert "data" not in reply, (who, reply)
                assert reply["error"]["code"] == 500
                assert reply["error"]["description"].endswith(f" failed - {reason}"), (who, reply)
            assert answered["ours"]["error"] == answered["nats-server"]["error"]
        malformed = await ask(delete_jwt(trust, nats={"accounts": "A"}))
        assert all("malformed request" in r["error"]["description"] for r in malformed.values())
        assert (await http.get(f"{proc.url}/jwt/v1/accounts/{trust.pub('A')}")).status_code == 200

        answered = await ask(delete_jwt(trust, "A", signer="signing_key"))
        for who, reply in answered.items():
            assert reply["data"] == {"code": 200, "message": "deleted 1 accounts"}, (who, reply)
    assert (await http.get(f"{proc.url}/jwt/v1/accounts/{trust.pub('A')}")).status_code == 404
    assert not (full / f"{trust.pub('A')}.jwt").exists()
    line = await wait_line(proc, f"account {trust.pub('A')[:12]} deleted (soft)")
    assert f"signed by {trust.operator_signing.pub[:12]}, via nats on {SUBJECT}" in line, line
    assert (await http.get(f"{proc.url}/jwt/v1/accounts/{trust.pub('B')}")).status_code == 200


async def test_an_http_delete_is_forwarded_once_and_a_repeat_is_not_applied_twice(
    tmp_path: Path,
    plain_nats: NatsServer,
    account_server: StartServer,
    trust: Trust,
    http: httpx.AsyncClient,
) -> None:
    """An HTTP delete is forwarded on $SYS.REQ.CLAIMS.DELETE (no reply subject: nothing to wait for)
    and never comes back to us (our connection has no echo); the same request again is answered as
    applied already, not refused as naming unknown accounts."""
    ours = tmp_path / "ours"
    proc = account_server(plain_nats.url, extra=f'store {{ dir: "{ours}", allow_delete: true }}')
    await wait_line(proc, "connected to NATS for JWT syncing", timeout=15)
    assert (await post(http, proc.url, trust.pub("A"), trust.account_jwt("A"))).status_code == 200
    url = f"{proc.url}/jwt/v1/accounts/{trust.pub('A')}"
    async with client(plain_nats.url) as nc:
        seen = await nc.subscribe(SUBJECT)
        await nc.flush()
        request = delete_jwt(trust, "A")
        assert (await http.request("DELETE", url, content=request)).status_code == 200
        forwarded = await seen.next_msg(timeout=5)
        assert forwarded.data.decode() == request and not forwarded.reply
        again = await http.request("DELETE", url, content=request)
        assert again.status_code == 200 and "applied already" in again.text
    assert "delete request refused" not in proc.stderr_text()
