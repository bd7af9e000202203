"""Minting v1/v2 JWTs and the claim builders used by everyone's tests."""

from __future__ import annotations

import copy
import time

import pytest
from jwt_vectors import ACCOUNT1_KEY, ACCOUNT1_SEED, ACCOUNT2_KEY, OPERATOR_KEY, OPERATOR_SEED, T1, T1_JTI

from nats_account_server.jwt import (
    Claims,
    account_claims,
    activation_claims,
    decode,
    decode_account,
    decode_activation,
    encode,
    new_keypair,
    operator_claims,
    user_claims,
)
from nats_account_server.jwt.encode import claims_hash, to_layout


def test_reproduces_t1_byte_for_byte() -> None:
    assert encode(account_claims(ACCOUNT1_KEY, "A", iat=1700000000), OPERATOR_SEED) == T1
    assert decode_account(T1).jti == T1_JTI


def test_jti_is_go_compatible_hash() -> None:
    claims = {"iat": 1700000000, "iss": OPERATOR_KEY, "name": "A", "sub": ACCOUNT1_KEY, "exp": 0}
    assert claims_hash(claims) == T1_JTI


def test_fills_iss_iat_jti() -> None:
    before = int(time.time())
    tok = decode_account(encode(account_claims(ACCOUNT1_KEY, "A"), OPERATOR_SEED))
    assert tok.iss == OPERATOR_KEY
    assert before <= tok.iat <= int(time.time())
    assert len(tok.jti) == 52


def test_keeps_given_iss_iat_jti() -> None:
    claims = {**account_claims(ACCOUNT1_KEY, "A"), "jti": "J1", "iat": 42}
    tok = decode_account(encode(claims, OPERATOR_SEED))
    assert (tok.jti, tok.iat) == ("J1", 42)


def test_does_not_mutate_input() -> None:
    claims = account_claims(ACCOUNT1_KEY, "A")
    snapshot = copy.deepcopy(claims)
    encode(claims, OPERATOR_SEED, version=1)
    encode(claims, OPERATOR_SEED)
    assert claims == snapshot


def test_distinct_claims_get_distinct_jti() -> None:
    a = decode(encode(account_claims(ACCOUNT1_KEY, "A", iat=1), OPERATOR_SEED))
    b = decode(encode(account_claims(ACCOUNT2_KEY, "A", iat=1), OPERATOR_SEED))
    c = decode(encode(account_claims(ACCOUNT1_KEY, "A", version=1, iat=1), OPERATOR_SEED, version=1))
    assert len({a.jti, b.jti, c.jti}) == 3


def test_v1_and_v2_layouts() -> None:
    v2 = account_claims(ACCOUNT1_KEY, "A", exp=10, limits={"imports": 1}, signing_keys=[ACCOUNT2_KEY])
    assert "type" not in v2
    assert v2["nats"]["type"] == "account" and v2["nats"]["version"] == 2
    assert v2["nats"]["limits"]["imports"] == 1 and v2["nats"]["limits"]["subs"] == -1
    assert v2["nats"]["signing_keys"] == [ACCOUNT2_KEY] and v2["exp"] == 10
    v1 = account_claims(ACCOUNT1_KEY, "A", version=1)
    assert v1["type"] == "account" and "type" not in v1["nats"] and "version" not in v1["nats"]
    assert "default_permissions" not in v1["nats"]

    act2 = activation_claims(ACCOUNT2_KEY, "svc", "service", issuer_account=ACCOUNT1_KEY)
    assert act2["nats"] == {
        "subject": "svc",
        "kind": "service",
        "issuer_account": ACCOUNT1_KEY,
        "type": "activation",
        "version": 2,
    }
    assert act2["name"] == "svc"
    act1 = activation_claims(ACCOUNT2_KEY, "svc", "service", version=1)
    assert act1["type"] == "activation" and act1["nats"] == {"subject": "svc", "type": "service"}

    op2 = operator_claims(
        OPERATOR_KEY,
        "O",
        signing_keys=["OX"],
        system_account=ACCOUNT1_KEY,
        account_server_url="http://x/jwt/v1",
        strict_signing_key_usage=True,
    )
    assert op2["nats"]["system_account"] == ACCOUNT1_KEY and op2["nats"]["strict_signing_key_usage"] is True
    op1 = operator_claims(OPERATOR_KEY, "O", version=1, signing_keys=["OX"], strict_signing_key_usage=True)
    assert op1["type"] == "operator" and op1["nats"] == {"signing_keys": ["OX"]}

    u2 = user_claims("UKEY", "u", issuer_account=ACCOUNT1_KEY)
    assert u2["nats"]["type"] == "user" and u2["nats"]["subs"] == -1
    u1 = user_claims("UKEY", "u", version=1)
    assert u1["type"] == "user" and u1["nats"] == {"pub": {}, "sub": {}}


def test_unsupported_version() -> None:
    with pytest.raises(ValueError):
        account_claims(ACCOUNT1_KEY, "A", version=3)
    with pytest.raises(ValueError):
        encode(account_claims(ACCOUNT1_KEY, "A"), OPERATOR_SEED, version=3)


@pytest.mark.parametrize("version", [1, 2])
def test_layout_conversion_on_encode(version: int) -> None:
    other = 3 - version
    act = activation_claims(ACCOUNT2_KEY, "s.>", "service", version=other)
    tok = decode(encode(act, ACCOUNT1_SEED, version=version))
    assert tok.version == version and tok.kind == "activation"
    assert tok.activation.kind == "service" and tok.activation.subject == "s.>"  # v1 `type`, v2 `kind`
    assert to_layout(to_layout(act, version), other) == act


@pytest.mark.parametrize("version", [1, 2])
def test_issuer_account_lands_where_the_version_reads_it(version: int) -> None:
    act = activation_claims(ACCOUNT2_KEY, "s", issuer_account=ACCOUNT1_KEY, version=version)
    tok = decode_activation(encode(act, ACCOUNT1_SEED, version=version))
    assert tok.activation.issuer_account == ACCOUNT1_KEY
    # encoding in the other version moves it too
    other = decode_activation(encode(act, ACCOUNT1_SEED, version=3 - version))
    assert other.activation.issuer_account == ACCOUNT1_KEY and other.version == 3 - version


@pytest.mark.parametrize("version", [1, 2])
def test_round_trips(version: int) -> None:
    user_seed, user_key = new_keypair("U")
    tokens = {
        "operator": encode(operator_claims(OPERATOR_KEY, "O", version), OPERATOR_SEED, version=version),
        "account": encode(account_claims(ACCOUNT1_KEY, "A", version), OPERATOR_SEED, version=version),
        "activation": encode(
            activation_claims(ACCOUNT2_KEY, "x", version=version), ACCOUNT1_SEED, version=version
        ),
        "user": encode(user_claims(user_key, "u", version), ACCOUNT1_SEED, version=version),
    }
    for kind, raw in tokens.items():
        tok = decode(raw)
        assert (tok.kind, tok.version) == (kind, version)
        assert tok.claims.version == version
    assert decode(tokens["operator"]).operator.sub == OPERATOR_KEY
    assert decode(tokens["account"]).account.limits.subs == -1
    assert decode(tokens["activation"]).activation.subject == "x"
    assert type(decode(tokens["user"]).claims) is Claims  # not hosted: registered members only
    assert user_seed.startswith("SU")


def test_explicit_newer_version_is_kept_for_negative_tests() -> None:
    claims = account_claims(ACCOUNT1_KEY, "A")
    claims["nats"]["version"] = 3
    raw = encode(claims, OPERATOR_SEED)
    assert '"version":3' in __import__("base64").urlsafe_b64decode(raw.split(".")[1] + "==").decode()


def test_invalid_seed() -> None:
    with pytest.raises(ValueError):
        encode(account_claims(ACCOUNT1_KEY, "A"), "SXNOTASEED")
    with pytest.raises(ValueError):
        encode(account_claims(ACCOUNT1_KEY, "A"), ACCOUNT1_KEY)
