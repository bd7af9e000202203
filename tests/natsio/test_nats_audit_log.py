"""Every decision on a NATS claim update is one log line (v1 and v2 JWTs).

`$SYS.REQ.ACCOUNT.<key>.CLAIMS.UPDATE`, `$SYS.REQ.CLAIMS.UPDATE` (nsc), the old notification subject
`$SYS.ACCOUNT.<key>.CLAIMS.UPDATE` and activation notifications on a writable, syncing server: an
accepted change is an [INF] audit line naming the subject it came on, an identical JWT a [DBG] line,
a refusal one [WRN] line with the description the requester got.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client
from nats_helpers import client, flushed

from nats_account_server.jwt import activation_hash, peek_claims
from tests.support.natsserver import NatsServer
from tests.support.procs import ServerProcess
from tests.support.trust import Trust

StartServer = Callable[..., ServerProcess]
STAMP = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6} ")
DECISION = re.compile(r"^\[(INF|DBG|WRN|ERR)\] (account|activation)\b.* (updated|unchanged|refused): ")


@pytest.fixture(params=[2, 1], ids=["v2", "v1"])
def versioned(request: pytest.FixtureRequest, tmp_path: Path) -> Trust:
    return Trust(tmp_path / f"trust-v{request.param}", version=request.param)


@pytest.fixture
async def synced(plain_nats: NatsServer, account_server: StartServer, versioned: Trust) -> ServerProcess:
    proc = account_server(plain_nats.url, trust=versioned)
    await asyncio.to_thread(proc.wait_for_line, "connected to NATS for JWT syncing", 20)
    return proc


async def decisions(proc: ServerProcess, since: int, count: int = 1) -> list[str]:
    """The decision lines logged since ``since`` (timestamps cut), once ``count`` of them are there."""
    deadline = time.monotonic() + 10
    while True:
        lines = await asyncio.to_thread(proc.find_lines, re.compile(r"\[(INF|DBG|WRN|ERR)\] "), since=since)
        found = [line for line in (STAMP.sub("", line) for line in lines) if DECISION.match(line)]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


async def update(nc: Client, subject: str, payload: str | bytes) -> dict[str, Any]:
    data = payload.encode() if isinstance(payload, str) else payload
    msg = await nc.request(subject, data, timeout=5)
    answer: dict[str, Any] = json.loads(msg.data)
    return answer


def by_key(key: str) -> str:
    return f"$SYS.REQ.ACCOUNT.{key}.CLAIMS.UPDATE"


def jti(jwt: str) -> str:
    return peek_claims(jwt).jti


async def test_accepted_new_update_unchanged_and_older_over_nats(
    plain_nats: NatsServer, synced: ServerProcess, versioned: Trust
) -> None:
    t, proc = versioned, synced
    a = t.pub("A")
    now = int(time.time())
    first = t.account_jwt("A", iat=now - 10)
    second = t.account_jwt("A", iat=now, signer="signing_key")
    async with client(plain_nats.url) as nc:
        mark = proc.mark()
        answer = await update(nc, by_key(a), first)
        assert answer["data"] == {"account": a, "code": 200, "message": "Updated jwt"}
        assert await decisions(proc, mark) == [
            f"[INF] account {a[:12]} updated: jti {jti(first)} (new), issuer {t.operator.pub[:12]}, "
            f"via nats on {by_key(a)}"
        ]

        mark = proc.mark()
        answer = await update(nc, "$SYS.REQ.CLAIMS.UPDATE", second)  # what nsc push uses
        assert answer["data"]["code"] == 200
        assert await decisions(proc, mark) == [
            f"[INF] account {a[:12]} updated: jti {jti(second)} (was {jti(first)}), "
            f"issuer {t.operator_signing.pub[:12]}, via nats on $SYS.REQ.CLAIMS.UPDATE"
        ]

        mark = proc.mark()
        answer = await update(nc, by_key(a), second)
        assert answer["data"]["code"] == 200
        unchanged = (
            f"[DBG] account {a[:12]} unchanged: jti {jti(second)} is already stored, via nats on {by_key(a)}"
        )
        assert await decisions(proc, mark) == [unchanged]
        await asyncio.sleep(0.2)
        assert await decisions(proc, mark) == [unchanged]  # no INF line: not a change

        # an older JWT is answered as an update, as nats-server answers it, but logged as refused
        older = t.account_jwt("A", iat=now - 100)
        mark = proc.mark()
        answer = await update(nc, by_key(a), older)
        assert answer["data"]["code"] == 200
        assert await decisions(proc, mark) == [
            f"[WRN] account {a[:12]} refused: a newer JWT is already stored "
            f"(jti {jti(older)} has iat {now - 100}), via nats on {by_key(a)}"
        ]

        # the old notification subject, published without a reply subject
        b = t.pub("B")
        jwt_b = t.account_jwt("B")
        subject = f"$SYS.ACCOUNT.{b}.CLAIMS.UPDATE"
        mark = proc.mark()
        await nc.publish(subject, jwt_b.encode())
        await flushed(nc)
        assert await decisions(proc, mark) == [
            f"[INF] account {b[:12]} updated: jti {jti(jwt_b)} (new), issuer {t.operator.pub[:12]}, "
            f"via nats on {subject}"
        ]


async def test_every_refused_update_over_nats_is_one_wrn_line(
    plain_nats: NatsServer, synced: ServerProcess, versioned: Trust, tmp_path: Path
) -> None:
    t, proc = versioned, synced
    b, c = t.pub("B"), t.pub("C")
    now = int(time.time())
    untrusted = Trust(tmp_path / "other", version=t.version)  # another operator, same names
    cases: list[tuple[str, str | bytes, str, str]] = [  # subject, payload, logged key, description has
        (by_key(untrusted.pub("A")), untrusted.account_jwt("A"), untrusted.pub("A"), "untrusted issuer"),
        (by_key(b), t.account_jwt("B", signer="B"), b, "untrusted issuer"),  # self-signed
        (by_key(b), t.account_jwt("C"), c, "does not match the key"),
        (by_key(b), "not a jwt", b, "received error when decoding jwt"),
        (by_key(b), b"\xff\xfe", b, "payload is not UTF-8"),
        (by_key(b), t.account_jwt("B", exp=now - 5, iat=now - 50), b, "claim is expired"),
        ("$SYS.REQ.CLAIMS.UPDATE", "not a jwt", "", "received error when decoding jwt"),
    ]
    async with client(plain_nats.url) as nc:
        for subject, payload, key, part in cases:
            mark = proc.mark()
            answer = await update(nc, subject, payload)
            error = answer["error"]
            assert error["code"] == 500 and part in error["description"], (part, error)
            named = f"account {key[:12]}" if key else "account"
            assert await decisions(proc, mark) == [
                f"[WRN] {named} refused: {error['description']}, via nats on {subject}"
            ], part
            assert not await asyncio.to_thread(proc.find_lines, "[ERR]", since=mark)


async def test_activation_notifications_are_logged(
    plain_nats: NatsServer, synced: ServerProcess, versioned: Trust
) -> None:
    t, proc = versioned, synced
    a, b = t.pub("A"), t.pub("B")
    subject = f"feed.{time.monotonic_ns()}"
    key = activation_hash(a, b, subject)
    on = f"$SYS.ACCOUNT.{a}.CLAIMS.ACTIVATE.{key}"
    now = int(time.time())
    first = t.activation_jwt("A", "B", subject, iat=now - 10)
    second = t.activation_jwt("A", "B", subject, iat=now)
    about = f'issuer {a[:12]}, subject "{subject}" for {b[:12]}, via nats on {on}'
    async with client(plain_nats.url) as nc:
        for jwt, was in ((first, "new"), (second, f"was {jti(first)}")):
            mark = proc.mark()
            await nc.publish(on, jwt.encode())
            await flushed(nc)
            assert await decisions(proc, mark) == [
                f"[INF] activation {key[:12]} updated: jti {jti(jwt)} ({was}), {about}"
            ]

        mark = proc.mark()
        await nc.publish(on, second.encode())
        await flushed(nc)
        assert await decisions(proc, mark) == [
            f"[DBG] activation {key[:12]} unchanged: jti {jti(second)} is already stored, via nats on {on}"
        ]

        expired_subject = f"gone.{time.monotonic_ns()}"
        expired_key = activation_hash(a, b, expired_subject)
        expired_on = f"$SYS.ACCOUNT.{a}.CLAIMS.ACTIVATE.{expired_key}"
        mark = proc.mark()
        expired = t.activation_jwt("A", "B", expired_subject, exp=now - 5, iat=now - 50)
        await nc.publish(expired_on, expired.encode())
        await flushed(nc)
        assert await decisions(proc, mark) == [
            f"[WRN] activation {expired_key[:12]} refused: received error when saving activation jwt - "
            f"validation issues: claim is expired, via nats on {expired_on}"
        ]
