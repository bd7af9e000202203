"""One acceptance rule on every channel: the same hostile JWTs through each, one outcome per channel.

Channels that carry new JWTs (HTTP uploads, NATS claim updates) refuse anything nats-server would
refuse, time checks included; channels that carry copies of stored JWTs (pack merges, replica
imports and fetches, KV entries, lookup answers) apply the same rule without the time checks.
Answers to our NATS lookups are tested against a real nats-server in tests/natsio/test_nats_protocol.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from nats_account_server.core.acceptance import vetting
from nats_account_server.core.kinds import Kind
from nats_account_server.core.pack import parse_pack_line
from nats_account_server.core.service import Core
from nats_account_server.core.trust import Trust, load_trust
from nats_account_server.core.uploads import ISSUES_HEADER, post_account
from nats_account_server.natsio.responders import UPDATE_ANY, Rejected, check_account_update
from nats_account_server.replica import Replica
from nats_account_server.stores import MemoryStore
from tests.support.trust import Trust as Material

NOW = int(time.time())

# name -> (claims overrides, signer); each case is minted for account A (key A) unless it says otherwise
CASES: dict[str, Callable[[Material, int], str]] = {
    "good": lambda t, v: t.account_jwt("A", v),
    "good, by the operator's signing key": lambda t, v: t.account_jwt("A", v, signer="signing_key"),
    "wildcard service export with an account token position": lambda t, v: t.account_jwt(
        "A", v, exports=[{"subject": "accounts.*.svc", "type": "service", "account_token_position": 2}]
    ),
    "expired": lambda t, v: t.account_jwt("A", v, exp=NOW - 60),
    "foreign operator": lambda t, v: t.sign(t.account_claims("A", v), "foreign", v),
    "bad signature": lambda t, v: _flip_signature(t.account_jwt("A", v)),
    "another account's JWT": lambda t, v: t.account_jwt("B", v),
    "negative response threshold": lambda t, v: t.account_jwt(
        "A", v, exports=[{"subject": "s", "type": "service", "response_threshold": -1}]
    ),
    "overlapping service imports": lambda t, v: t.account_jwt(
        "A",
        v,
        imports=[
            {"subject": "x.>", "account": t.pub("B"), "type": "service"},
            {"subject": "x.y", "account": t.pub("B"), "type": "service"},
        ],
    ),
    "bad account token position": lambda t, v: t.account_jwt(
        "A", v, exports=[{"subject": "a.*", "type": "stream", "account_token_position": 5}]
    ),
    "stream export with a latency": lambda t, v: t.account_jwt(
        "A",
        v,
        exports=[{"subject": "a", "type": "stream", "service_latency": {"sampling": 50, "results": "r"}}],
    ),
    "share on a stream import": lambda t, v: t.account_jwt(
        "A", v, imports=[{"subject": "a", "account": t.pub("B"), "type": "stream", "share": True}]
    ),
    "invalid embedded activation token": lambda t, v: t.account_jwt(
        "A", v, imports=[{"subject": "a", "account": t.pub("B"), "type": "stream", "token": "not-a-jwt"}]
    ),
}
# new JWTs: only these pass; stored copies: also the expired one
ACCEPTED_NEW = {
    "good",
    "good, by the operator's signing key",
    "wildcard service export with an account token position",
}
ACCEPTED_STORED = ACCEPTED_NEW | {"expired"}


def _flip_signature(jwt: str) -> str:
    head, payload, sig = jwt.split(".")
    return f"{head}.{payload}.{sig[:10]}{'A' if sig[10] != 'A' else 'B'}{sig[11:]}"


@pytest.fixture(params=[1, 2], ids=["v1", "v2"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Material, Trust, dict[str, str]]:
    t = Material(tmp_path / "trust", version=request.param)
    foreign = Material(tmp_path / "foreign", version=request.param)
    t.accounts["foreign"] = foreign.operator  # a signer the server does not trust
    trust = load_trust(str(t.operator_jwt_path), "")
    jwts = {name: make(t, request.param) for name, make in CASES.items()}
    return t, trust, jwts


def _outcomes(check: Callable[[str], bool], jwts: dict[str, str]) -> set[str]:
    return {name for name, jwt in jwts.items() if check(jwt)}


async def test_http_upload(setup: tuple[Material, Trust, dict[str, str]]) -> None:
    t, trust, jwts = setup
    core = Core(MemoryStore(), trust)
    answers = {name: await post_account(core, t.pub("A"), jwt.encode()) for name, jwt in jwts.items()}
    assert {n for n, a in answers.items() if a.status == 200} == ACCEPTED_NEW
    assert answers["expired"].message.startswith(ISSUES_HEADER)
    assert "claim is expired" in answers["expired"].message
    assert "negative response threshold is invalid" in answers["negative response threshold"].message
    assert answers["another account's JWT"].message == "pub keys don't match"
    assert answers["foreign operator"].message == "untrusted issuer in request"
    assert answers["bad signature"].message == "bad JWT in request"


@pytest.mark.parametrize(
    "subject", ["$SYS.REQ.ACCOUNT.{key}.CLAIMS.UPDATE", "$SYS.ACCOUNT.{key}.CLAIMS.UPDATE", UPDATE_ANY]
)
def test_nats_update(setup: tuple[Material, Trust, dict[str, str]], subject: str) -> None:
    t, trust, jwts = setup
    core = Core(MemoryStore(), trust)

    def accepted(jwt: str) -> bool:
        try:
            check_account_update(core, subject.format(key=t.pub("A")), jwt.encode())
        except Rejected:
            return False
        return True

    expected = ACCEPTED_NEW if subject != UPDATE_ANY else ACCEPTED_NEW | {"another account's JWT"}
    assert _outcomes(accepted, jwts) == expected


def test_pack_merge(setup: tuple[Material, Trust, dict[str, str]]) -> None:
    t, trust, jwts = setup
    assert _outcomes(
        lambda jwt: not isinstance(parse_pack_line(f"{t.pub('A')}|{jwt}", trust), str), jwts
    ) == (ACCEPTED_STORED)


async def test_replica_fetch(setup: tuple[Material, Trust, dict[str, str]]) -> None:
    t, trust, jwts = setup
    replica = Replica("http://127.0.0.1:9/jwt/v1", trust)
    try:
        assert (
            _outcomes(lambda jwt: replica.check(Kind.ACCOUNT, t.pub("A"), jwt) is None, jwts)
            == ACCEPTED_STORED
        )
    finally:
        await replica.client.aclose()


def test_kv_entries(setup: tuple[Material, Trust, dict[str, str]]) -> None:
    t, trust, jwts = setup
    vet = vetting(trust)
    assert _outcomes(lambda jwt: vet(t.pub("A"), jwt) is None, jwts) == ACCEPTED_STORED


def test_without_an_operator_any_signed_issuer_is_accepted(
    setup: tuple[Material, Trust, dict[str, str]],
) -> None:
    t, _, jwts = setup
    open_trust = load_trust("", "")
    assert not isinstance(parse_pack_line(f"{t.pub('A')}|{jwts['foreign operator']}", open_trust), str)
    assert isinstance(parse_pack_line(f"{t.pub('A')}|{jwts['bad signature']}", open_trust), str)
