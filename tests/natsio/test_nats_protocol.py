"""Our server on a plain nats-server: notifications, lookup/pack/update responders, GET fallback,
signing service."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from nats.aio.msg import Msg
from nats_helpers import client, collect, eventually, flushed, post, request_all, wait_line

from tests.support.natsserver import NatsServer
from tests.support.procs import ServerProcess
from tests.support.trust import Trust

StartServer = Callable[..., ServerProcess]
SYNC_READY = "connected to NATS for JWT syncing"


async def synced(account_server: StartServer, *args: Any, **kwargs: Any) -> ServerProcess:
    """An account server started with these arguments, once it is connected to NATS for syncing."""
    proc = account_server(*args, **kwargs)
    await wait_line(proc, SYNC_READY)
    return proc


async def stored(proc: ServerProcess, trust: Trust, http: httpx.AsyncClient, name: str = "A") -> str:
    """POST a fresh account JWT for `name` (must get 200) and return it."""
    jwt = trust.account_jwt(name)
    assert (await post(http, proc.url, trust.pub(name), jwt)).status_code == 200
    return jwt


async def test_post_publishes_exactly_one_notification(
    plain_nats: NatsServer, account_server: StartServer, trust: Trust, http: httpx.AsyncClient
) -> None:
    """One `$SYS.ACCOUNT.<sub>.CLAIMS.UPDATE` per POST, payload = the JWT."""
    proc = await synced(account_server, plain_nats.url)
    jwt = trust.account_jwt("A")
    async with client(plain_nats.url) as nc:
        col = await collect(nc, "$SYS.ACCOUNT.>")
        resp = await post(http, proc.url, trust.pub("A"), jwt)
        assert resp.status_code == 200, resp.text
        msgs = await col.wait_for(1)
        await asyncio.sleep(0.5)
        assert len(col.msgs) == 1
        assert msgs[0].subject == f"$SYS.ACCOUNT.{trust.pub('A')}.CLAIMS.UPDATE"
        assert msgs[0].data.decode() == jwt and not msgs[0].reply


async def test_get_notify_publishes(
    plain_nats: NatsServer, account_server: StartServer, trust: Trust, http: httpx.AsyncClient
) -> None:
    """`?notify=true` publishes the stored JWT and answers 200 (also without NATS)."""
    proc = await synced(account_server, plain_nats.url)
    jwt = await stored(proc, trust, http)
    async with client(plain_nats.url) as nc:
        col = await collect(nc, f"$SYS.ACCOUNT.{trust.pub('A')}.CLAIMS.UPDATE")
        resp = await http.get(f"{proc.url}/jwt/v1/accounts/{trust.pub('A')}?notify=true")
        assert resp.status_code == 200 and resp.text == jwt
        msgs = await col.wait_for(1)
        assert msgs[0].data.decode() == jwt
    proc.stop()
    lonely = account_server(None, name="no-nats.conf")
    assert (await post(http, lonely.url, trust.pub("A"), jwt)).status_code == 200
    resp = await http.get(f"{lonely.url}/jwt/v1/accounts/{trust.pub('A')}?notify=true")
    assert resp.status_code == 200
    await wait_line(lonely, "skipping notification for")


async def test_lookup_responder(
    plain_nats: NatsServer, account_server: StartServer, trust: Trust, http: httpx.AsyncClient
) -> None:
    """Lookups answered from the local store; unknown accounts get an empty reply."""
    proc = await synced(account_server, plain_nats.url)
    jwt = await stored(proc, trust, http)
    async with client(plain_nats.url) as nc:
        found = await nc.request(f"$SYS.REQ.ACCOUNT.{trust.pub('A')}.CLAIMS.LOOKUP", b"", timeout=5)
        assert found.data.decode() == jwt
        absent = await nc.request(f"$SYS.REQ.ACCOUNT.{trust.pub('B')}.CLAIMS.LOOKUP", b"", timeout=5)
        assert absent.data == b""
        # the configured system account is local configuration, so it is answered too
        sys_reply = await nc.request(f"$SYS.REQ.ACCOUNT.{trust.system_account}.CLAIMS.LOOKUP", b"", timeout=5)
        assert sys_reply.data.decode() == trust.system_account_jwt_path.read_text().strip()


async def test_pack_responder(
    plain_nats: NatsServer, account_server: StartServer, trust: Trust, http: httpx.AsyncClient
) -> None:
    """Empty payload → every JWT then an end marker; our hash → one empty message."""
    proc = await synced(account_server, plain_nats.url)
    jwt_a = await stored(proc, trust, http)
    async with client(plain_nats.url) as nc:
        replies = await request_all(nc, "$SYS.REQ.CLAIMS.PACK", b"")
        assert replies == [f"{trust.pub('A')}|{jwt_a}".encode(), b""]
        same = await request_all(nc, "$SYS.REQ.CLAIMS.PACK", hashlib.sha256(jwt_a.encode()).digest())
        assert same == [b""]
        jwt_b = trust.account_jwt("B")
        assert (await post(http, proc.url, trust.pub("B"), jwt_b)).status_code == 200
        both = hashlib.sha256(jwt_a.encode()).digest()
        both = bytes(x ^ y for x, y in zip(both, hashlib.sha256(jwt_b.encode()).digest(), strict=True))
        assert await request_all(nc, "$SYS.REQ.CLAIMS.PACK", both) == [b""]
        stale = await request_all(nc, "$SYS.REQ.CLAIMS.PACK", hashlib.sha256(jwt_a.encode()).digest())
        assert sorted(stale[:-1]) == sorted(
            [f"{trust.pub('A')}|{jwt_a}".encode(), f"{trust.pub('B')}|{jwt_b}".encode()]
        )
        assert stale[-1] == b""


async def test_pack_hash_of_preexisting_store(
    plain_nats: NatsServer, account_server: StartServer, trust: Trust, tmp_path: Path, http: httpx.AsyncClient
) -> None:
    """The initial hash is computed from what is already on disk (and expired JWTs are left out)."""
    store = tmp_path / "store"
    first = account_server(None, store=store, name="fill.conf")
    jwt_a = trust.account_jwt("A")
    assert (await post(http, first.url, trust.pub("A"), jwt_a)).status_code == 200
    first.stop()
    (store / f"{trust.pub('B')}.jwt").write_text(trust.account_jwt("B", exp=1000))
    proc = await synced(account_server, plain_nats.url, store=store)
    await wait_line(proc, "store hash for JWT syncing computed over 1 accounts")
    async with client(plain_nats.url) as nc:
        assert await request_all(nc, "$SYS.REQ.CLAIMS.PACK", hashlib.sha256(jwt_a.encode()).digest()) == [b""]


async def test_update_requests(
    plain_nats: NatsServer, account_server: StartServer, trust: Trust, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    """JSON replies, trust checks, nothing re-published, `$SYS.REQ.CLAIMS.UPDATE`."""
    proc = await synced(account_server, plain_nats.url)
    a, b, c = trust.pub("A"), trust.pub("B"), trust.pub("C")
    async with client(plain_nats.url) as watcher, client(plain_nats.url) as nc:
        published = await collect(watcher, "$SYS.ACCOUNT.>")

        async def update(subject: str, jwt: str) -> dict[str, Any]:
            msg = await nc.request(subject, jwt.encode(), timeout=5)
            return json.loads(msg.data)

        ok = await update(f"$SYS.REQ.ACCOUNT.{a}.CLAIMS.UPDATE", trust.account_jwt("A", signer="signing_key"))
        assert ok["data"] == {"account": a, "code": 200, "message": "Updated jwt"}
        server = ok["server"]
        assert server["name"] == "nats-account-server" and server["id"].startswith("N") and server["seq"] >= 1
        assert server["time"] and server["ver"]

        untrusted = Trust(tmp_path / "other", version=2)  # another operator, same names
        bad_issuer = await update(
            f"$SYS.REQ.ACCOUNT.{untrusted.pub('A')}.CLAIMS.UPDATE", untrusted.account_jwt("A")
        )
        assert bad_issuer["error"]["code"] == 500 and "untrusted" in bad_issuer["error"]["description"]
        assert bad_issuer["server"]["seq"] == server["seq"] + 1

        mismatch = await update(f"$SYS.REQ.ACCOUNT.{b}.CLAIMS.UPDATE", trust.account_jwt("C"))
        assert mismatch["error"]["code"] == 500 and mismatch["error"]["account"] == c

        garbage = await update(f"$SYS.REQ.ACCOUNT.{b}.CLAIMS.UPDATE", "not a jwt")
        assert garbage["error"]["code"] == 500

        expired = await update(f"$SYS.REQ.ACCOUNT.{b}.CLAIMS.UPDATE", trust.account_jwt("B", exp=1000))
        assert expired["error"]["code"] == 500 and "expired" in expired["error"]["description"]

        via_nsc = await update("$SYS.REQ.CLAIMS.UPDATE", trust.account_jwt("C"))
        assert via_nsc["data"]["code"] == 200 and via_nsc["data"]["account"] == c

        # the old subject with no reply subject is applied silently
        jwt_b = trust.account_jwt("B")
        await nc.publish(f"$SYS.ACCOUNT.{b}.CLAIMS.UPDATE", jwt_b.encode())
        await flushed(nc)

        async def is_stored(key: str) -> bool:
            resp = await http.get(f"{proc.url}/jwt/v1/pack")
            return key in resp.text

        await eventually(lambda: is_stored(b))
        pack = (await http.get(f"{proc.url}/jwt/v1/pack")).text
        assert a in pack and c in pack and untrusted.pub("A") not in pack
        # only our own test publication shows up: the server re-published nothing
        await asyncio.sleep(0.5)
        assert [m.subject for m in published.msgs] == [f"$SYS.ACCOUNT.{b}.CLAIMS.UPDATE"]

        # an older JWT is not stored but still answered with success (newer-wins)
        older = trust.account_jwt("A", iat=1_600_000_000)
        kept = await update(f"$SYS.REQ.ACCOUNT.{a}.CLAIMS.UPDATE", older)
        assert kept["data"]["code"] == 200
        current = await http.get(f"{proc.url}/jwt/v1/accounts/{a}")
        assert current.text != older


async def test_list_and_delete(
    plain_nats: NatsServer, account_server: StartServer, trust: Trust, http: httpx.AsyncClient
) -> None:
    proc = await synced(account_server, plain_nats.url)
    assert (await post(http, proc.url, trust.pub("A"), trust.account_jwt("A"))).status_code == 200
    async with client(plain_nats.url) as nc:
        listed = json.loads((await nc.request("$SYS.REQ.CLAIMS.LIST", b"", timeout=5)).data)
        assert listed["data"] == [trust.pub("A")] and listed["server"]["name"] == "nats-account-server"
        deleted = json.loads((await nc.request("$SYS.REQ.CLAIMS.DELETE", b"x", timeout=5)).data)
        # the full resolver's error format and text (deletion is off unless allowed)
        assert deleted["error"] == {
            "code": 500,
            "description": (
                "delete accounts request by  failed - delete must be enabled in server config"
                " (store { allow_delete: true })"
            ),
        }
        assert deleted["server"]["name"] == "nats-account-server" and "data" not in deleted
    assert (await http.get(f"{proc.url}/jwt/v1/accounts/{trust.pub('A')}")).status_code == 200


async def test_get_falls_back_to_nats_lookup(
    plain_nats: NatsServer, account_server: StartServer, trust: Trust, http: httpx.AsyncClient
) -> None:
    """A miss asks the NATS resolvers; empty answers are skipped; once stored, no lookup."""
    proc = await synced(account_server, plain_nats.url)
    b = trust.pub("B")
    jwt_b = trust.account_jwt("B")
    asked: list[str] = []
    async with client(plain_nats.url) as absent_peer, client(plain_nats.url) as peer:

        async def say_absent(msg: Msg) -> None:
            await msg.respond(b"")

        async def answer(msg: Msg) -> None:
            asked.append(msg.subject)
            await asyncio.sleep(0.1)  # the empty answer arrives first and must be ignored
            await msg.respond(jwt_b.encode())

        await absent_peer.subscribe("$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP", cb=say_absent)
        await peer.subscribe("$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP", cb=answer)
        await flushed(absent_peer)
        await flushed(peer)
        resp = await http.get(f"{proc.url}/jwt/v1/accounts/{b}")
        assert resp.status_code == 200 and resp.text == jwt_b
        assert asked == [f"$SYS.REQ.ACCOUNT.{b}.CLAIMS.LOOKUP"]
        # not stored: the pack of the account server is still empty
        assert b not in (await http.get(f"{proc.url}/jwt/v1/pack")).text
        # the peer answers B's JWT for any key: under C it fails the acceptance rule and is not served
        mark = proc.mark()
        unknown = await http.get(f"{proc.url}/jwt/v1/accounts/{trust.pub('C')}")
        assert unknown.status_code == 404
        proc.wait_for_line(re.compile(r"\[WRN\] .*ignoring the answer to our lookup - JWT sub"), since=mark)
        assert (await post(http, proc.url, b, jwt_b)).status_code == 200
        asked.clear()
        again = await http.get(f"{proc.url}/jwt/v1/accounts/{b}")
        assert again.status_code == 200 and asked == []
    gone = await http.get(f"{proc.url}/jwt/v1/accounts/{trust.pub('C')}")
    assert gone.status_code == 404  # no responders left → not found, quickly


# ------------------------------------------------------------------ signing service


async def test_signing_service_flow(
    plain_nats: NatsServer, account_server: StartServer, trust: Trust, http: httpx.AsyncClient
) -> None:
    """A self-signed JWT is signed by the service; text answers give 202."""
    proc = await synced(
        account_server, plain_nats.url, extra='signrequestsubject: "sign.account"\nsignrequesttimeout: 1500'
    )
    a = trust.pub("A")
    mode = {"reply": "jwt"}
    seen: list[str] = []
    async with client(plain_nats.url) as signer:

        async def sign(msg: Msg) -> None:
            posted = msg.data.decode()
            seen.append(posted)
            if mode["reply"] == "jwt":
                # a distinct iat gives a distinct jti (the jti hashes the standard claims only)
                signed = trust.account_jwt(
                    "A",
                    signer="signing_key",
                    iat=int(time.time()) + len(seen),
                    description=f"signed-{len(seen)}",
                )
                await msg.respond(signed.encode())
            else:
                await msg.respond(b"signing request queued, ticket 42")

        await signer.subscribe("sign.account", cb=sign)
        await flushed(signer)
        self_signed = trust.account_jwt("A", signer="A")
        resp = await post(http, proc.url, a, self_signed)
        assert resp.status_code == 200, resp.text
        assert seen == [self_signed]
        got = await http.get(f"{proc.url}/jwt/v1/accounts/{a}?decode=true")
        assert "signed-1" in got.text
        # a repeated self-signed update succeeds too (the stored JWT is operator-signed)
        resp = await post(http, proc.url, a, trust.account_jwt("A", signer="A", description="again"))
        assert resp.status_code == 200, resp.text
        assert "signed-2" in (await http.get(f"{proc.url}/jwt/v1/accounts/{a}?decode=true")).text

        mode["reply"] = "text"
        b = trust.pub("B")
        resp = await post(http, proc.url, b, trust.account_jwt("B", signer="B"))
        assert resp.status_code == 202 and "ticket 42" in resp.text
        assert (await http.get(f"{proc.url}/jwt/v1/accounts/{b}")).status_code == 404

        # issuer neither trusted nor the subject itself → 400
        resp = await post(http, proc.url, b, trust.account_jwt("B", signer="C"))
        assert resp.status_code == 400


async def test_signing_service_unavailable(
    plain_nats: NatsServer, account_server: StartServer, trust: Trust, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    """No responder, or no NATS at all → 500 `Failure during signature request.`"""
    extra = 'signrequestsubject: "sign.account"\nsignrequesttimeout: 500'
    proc = await synced(account_server, plain_nats.url, extra=extra)
    resp = await post(http, proc.url, trust.pub("A"), trust.account_jwt("A", signer="A"))
    assert resp.status_code == 500 and "Failure during signature request." in resp.text
    proc.stop()
    plain_nats.stop()
    down = account_server(plain_nats.url, extra=extra, name="down.conf")
    resp = await post(http, down.url, trust.pub("A"), trust.account_jwt("A", signer="A"))
    assert (
        resp.status_code == 500 and "Failure during signature request. nats-server unavailable." in resp.text
    )
