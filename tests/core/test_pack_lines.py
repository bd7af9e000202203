"""Pack lines and merges: parse_pack_line rules and the newer-wins merge.

Pure: no processes; a memory store behind a real Core, JWTs minted by the test Trust (v1 and v2).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from nats_account_server.core.kinds import Kind
from nats_account_server.core.pack import format_pack, parse_pack_line
from nats_account_server.core.service import Core
from nats_account_server.core.trust import Trust, load_trust
from nats_account_server.jwt import activation_hash, decode_account
from nats_account_server.stores import MemoryStore
from tests.support.trust import Trust as Fixture


@pytest.fixture(params=[2, 1], ids=["v2", "v1"])
def fx(request: pytest.FixtureRequest, tmp_path: Path) -> Fixture:
    return Fixture(tmp_path / f"trust-v{request.param}", version=request.param)


@pytest.fixture
def trusted(fx: Fixture) -> Trust:
    return load_trust(str(fx.operator_jwt_path), "")


def line(key: str, jwt: str) -> str:
    return f"{key}|{jwt}"


def activation(fx: Fixture, subject: str = "times.*", **overrides: Any) -> tuple[str, str]:
    jwt = fx.activation_jwt("A", "B", subject, **overrides)
    return activation_hash(fx.pub("A"), fx.pub("B"), subject), jwt


# ----------------------------------------------------------------------------- parse_pack_line


def test_account_line_is_accepted(fx: Fixture, trusted: Trust) -> None:
    jwt = fx.account_jwt("A")
    item = parse_pack_line(line(fx.pub("A"), jwt), trusted)
    assert not isinstance(item, str)
    kind, key, tok = item
    assert kind is Kind.ACCOUNT and key == fx.pub("A") and tok.raw == jwt and tok.version == fx.version


def test_account_signed_by_operator_signing_key_is_accepted(fx: Fixture, trusted: Trust) -> None:
    item = parse_pack_line(line(fx.pub("A"), fx.account_jwt("A", signer="signing_key")), trusted)
    assert not isinstance(item, str)


@pytest.mark.parametrize("text", ["no separator", "a|b|c", "||", "K|J|"])
def test_line_must_have_exactly_two_parts(text: str) -> None:
    reason = parse_pack_line(text, Trust())
    assert isinstance(reason, str) and "didn't contain 2 entries" in reason


def test_account_key_must_equal_sub(fx: Fixture, trusted: Trust) -> None:
    reason = parse_pack_line(line(fx.pub("B"), fx.account_jwt("A")), trusted)
    assert isinstance(reason, str) and "does not match" in reason


def test_invalid_keys_are_rejected(fx: Fixture, trusted: Trust) -> None:
    jwt = fx.account_jwt("A")
    pub = fx.pub("A")
    bad_crc = pub[:-1] + ("Y" if pub.endswith("X") else "X")  # always another last character: a CRC mismatch
    for key in ("", "foo", "../etc/passwd", bad_crc, fx.operator.pub, pub.lower()):
        assert isinstance(parse_pack_line(line(key, jwt), trusted), str), key


def test_undecodable_or_forged_jwt_is_rejected(fx: Fixture, trusted: Trust) -> None:
    jwt = fx.account_jwt("A")
    head, payload, sig = jwt.split(".")
    forged = ".".join([head, payload, ("A" if sig[0] != "A" else "B") + sig[1:]])
    for bad in ("garbage", "a.b.c", forged, fx.user_jwt("a")):
        assert isinstance(parse_pack_line(line(fx.pub("A"), bad), trusted), str), bad


def test_untrusted_issuer_skipped_only_with_an_operator(fx: Fixture, trusted: Trust, tmp_path: Path) -> None:
    other = Fixture(tmp_path / "other", version=fx.version)
    other.accounts["X"] = fx.accounts["A"]  # same account key, signed by a foreign operator
    jwt = other.account_jwt("X")
    reason = parse_pack_line(line(fx.pub("A"), jwt), trusted)
    assert isinstance(reason, str) and "untrusted issuer" in reason
    assert not isinstance(parse_pack_line(line(fx.pub("A"), jwt), Trust()), str)


def test_self_signed_account_needs_no_operator_but_is_untrusted_with_one(fx: Fixture, trusted: Trust) -> None:
    jwt = fx.account_jwt("A", signer="A")
    assert not isinstance(parse_pack_line(line(fx.pub("A"), jwt), Trust()), str)
    assert isinstance(parse_pack_line(line(fx.pub("A"), jwt), trusted), str)


def test_activation_line_is_accepted_under_its_hash(fx: Fixture, trusted: Trust) -> None:
    key, jwt = activation(fx)
    item = parse_pack_line(line(key, jwt), trusted)
    assert not isinstance(item, str)
    assert item[0] is Kind.ACTIVATION and item[1] == key and item[2].raw == jwt


def test_activation_under_a_foreign_hash_is_rejected(fx: Fixture, trusted: Trust) -> None:
    key, _ = activation(fx, "times.*")
    _, other = activation(fx, "other.subject")
    reason = parse_pack_line(line(key, other), trusted)
    assert isinstance(reason, str) and "hash" in reason


def test_account_jwt_under_an_activation_hash_is_rejected(fx: Fixture, trusted: Trust) -> None:
    key, _ = activation(fx)
    assert isinstance(parse_pack_line(line(key, fx.account_jwt("A")), trusted), str)


def test_expired_jwts_are_still_merged(fx: Fixture, trusted: Trust) -> None:
    """Packs carry expired JWTs too: a replica must hold what its primary holds."""
    jwt = fx.account_jwt("A", exp=int(time.time()) - 10)
    assert not isinstance(parse_pack_line(line(fx.pub("A"), jwt), trusted), str)


def test_format_pack_round_trip(fx: Fixture, trusted: Trust) -> None:
    items = [(fx.pub("A"), fx.account_jwt("A")), (fx.pub("B"), fx.account_jwt("B"))]
    text = format_pack(items)
    assert not text.endswith("\n") and text.count("\n") == 1
    parsed = [parse_pack_line(x, trusted) for x in text.split("\n")]
    assert [(p[1], p[2].raw) for p in parsed if not isinstance(p, str)] == items
    assert format_pack([]) == ""


# ----------------------------------------------------------------------------- Core.merge (57)


def core_with(trust: Trust, *items: tuple[str, str]) -> Core:
    store = MemoryStore()
    for key, jwt in items:
        store.save(key, jwt)
    return Core(store, trust)


async def test_merge_keeps_existing_jwt_with_greater_iat(fx: Fixture, trusted: Trust) -> None:
    now = int(time.time())
    newer, older = fx.account_jwt("A", iat=now), fx.account_jwt("A", iat=now - 100)
    core = core_with(trusted, (fx.pub("A"), newer))
    assert await core.merge(line(fx.pub("A"), older)) == 0
    assert core.store.load(fx.pub("A")) == newer


async def test_merge_replaces_older_and_adds_missing(fx: Fixture, trusted: Trust) -> None:
    now = int(time.time())
    older, newer = fx.account_jwt("A", iat=now - 100), fx.account_jwt("A", iat=now)
    b = fx.account_jwt("B")
    core = core_with(trusted, (fx.pub("A"), older))
    assert await core.merge(format_pack([(fx.pub("A"), newer), (fx.pub("B"), b)])) == 2
    assert core.store.load(fx.pub("A")) == newer and core.store.load(fx.pub("B")) == b


async def test_merge_same_jti_is_unchanged_and_equal_iat_overwrites(fx: Fixture, trusted: Trust) -> None:
    now = int(time.time())
    first = fx.account_jwt("A", iat=now, aud="first")
    tie = fx.account_jwt("A", iat=now, aud="second")
    assert decode_account(first).jti != decode_account(tie).jti
    core = core_with(trusted, (fx.pub("A"), first))
    assert await core.merge(line(fx.pub("A"), first)) == 0
    assert await core.merge(line(fx.pub("A"), tie)) == 1  # ties overwrite (0.8 rule)
    assert core.store.load(fx.pub("A")) == tie


async def test_merge_skips_bad_lines_and_keeps_going(fx: Fixture, trusted: Trust) -> None:
    key, act = activation(fx)
    body = "\n".join(
        [
            "garbage",
            line(fx.pub("B"), fx.account_jwt("A")),  # wrong key
            "",
            line(fx.pub("A"), fx.account_jwt("A")),
            "  ",
            line(key, act),
            "x|y|z",
        ]
    )
    core = core_with(trusted)
    assert await core.merge(body) == 2
    assert core.store.load(fx.pub("A")) and core.store.load(key) == act
    assert core.store.load(fx.pub("B")) is None


async def test_merge_drops_the_cached_response(fx: Fixture, trusted: Trust) -> None:
    now = int(time.time())
    older, newer = fx.account_jwt("A", iat=now - 5), fx.account_jwt("A", iat=now)
    core = core_with(trusted, (fx.pub("A"), older))
    first = await core.entry(Kind.ACCOUNT, fx.pub("A"))
    assert first is not None and first.jwt == older
    await core.merge(line(fx.pub("A"), newer))
    second = await core.entry(Kind.ACCOUNT, fx.pub("A"))
    assert second is not None and second.jwt == newer
