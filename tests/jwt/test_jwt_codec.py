"""Decoding and verification of v1 and v2 JWTs, and every rejection path (SPEC 1.1)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from jwt_vectors import (
    ACCOUNT1_KEY,
    ACCOUNT1_SEED,
    ACCOUNT2_KEY,
    ACCOUNT2_SEED,
    OPERATOR_KEY,
    OPERATOR_SEED,
    T1,
    T1_JTI,
    T1_SHA256,
    b64,
    parts,
    seg,
    unb64,
    with_header,
    with_payload,
)

from nats_account_server.jwt import (
    JWTError,
    Token,
    account_claims,
    activation_claims,
    decode,
    decode_account,
    decode_activation,
    decode_operator,
    encode,
    new_keypair,
    operator_claims,
    peek_claims,
    user_claims,
)
from nats_account_server.jwt.encode import V1_HEADER, V2_HEADER, encode_raw

T1_CLAIMS: dict[str, Any] = json.loads(unb64(parts(T1)[1]))


def _raises(raw: Any, match: str | None = None, fn: Any = decode) -> JWTError:
    with pytest.raises(JWTError, match=match) as info:
        fn(raw)
    msg = str(info.value)
    assert msg and "\n" not in msg and len(msg) < 120
    return info.value


# ---- Appendix B ---------------------------------------------------------------------------------


def test_t1_decodes_and_verifies_with_the_operator_key() -> None:
    tok = decode_account(T1)
    assert isinstance(tok, Token)
    assert tok.raw == T1
    assert tok.version == 2
    assert tok.kind == "account"
    assert tok.iss == OPERATOR_KEY
    assert tok.sub == ACCOUNT1_KEY
    assert tok.name == "A"
    assert tok.iat == 1700000000
    assert tok.exp == 0 and tok.nbf == 0
    assert tok.jti == T1_JTI
    assert f'"{tok.jti}"' == '"ASXHXO5626ANVZCQ32M47JM5QJFC7HVHMQB4KPK5VN6AITMVG3XA"'
    assert tok.header == {"typ": "JWT", "alg": "ed25519-nkey"}
    assert tok.nats["limits"]["subs"] == -1
    assert hashlib.sha256(T1.encode()).hexdigest() == T1_SHA256


def test_t1_is_not_an_operator_or_activation() -> None:
    _raises(T1, "expected operator", decode_operator)
    _raises(T1, "expected activation", decode_activation)


def test_peek_claims() -> None:
    assert peek_claims(T1) == T1_CLAIMS
    forged = with_payload(T1, {**T1_CLAIMS, "name": "B"})
    assert peek_claims(forged)["name"] == "B"  # no verification
    _raises("a.b", fn=peek_claims)
    _raises(f"{parts(T1)[0]}.{b64('[1]')}.x", fn=peek_claims)


# ---- successful decodes of the other shapes ------------------------------------------------------


def test_v1_account_round_trip() -> None:
    raw = encode(account_claims(ACCOUNT1_KEY, "A", version=1), OPERATOR_SEED, version=1)
    tok = decode_account(raw)
    assert tok.version == 1 and tok.kind == "account"
    assert tok.header == V1_HEADER
    assert tok.claims["type"] == "account" and "version" not in tok.nats
    assert tok.iss == OPERATOR_KEY


def test_self_signed_account_decodes() -> None:
    raw = encode(account_claims(ACCOUNT1_KEY, "A"), ACCOUNT1_SEED)
    assert decode_account(raw).iss == ACCOUNT1_KEY


@pytest.mark.parametrize("version", [1, 2])
def test_activation_and_operator_round_trips(version: int) -> None:
    act = encode(activation_claims(ACCOUNT2_KEY, "foo.>", version=version), ACCOUNT1_SEED, version=version)
    tok = decode_activation(act)
    assert tok.version == version and tok.kind == "activation" and tok.sub == ACCOUNT2_KEY
    by_operator = encode(activation_claims(ACCOUNT2_KEY, "foo"), OPERATOR_SEED)
    assert decode_activation(by_operator).iss == OPERATOR_KEY
    op = encode(operator_claims(OPERATOR_KEY, "O", version=version), OPERATOR_SEED, version=version)
    assert decode_operator(op).kind == "operator"


def test_typ_and_alg_are_case_insensitive() -> None:
    claims = {**T1_CLAIMS}
    for header in ({"typ": "jwt", "alg": "ED25519-NKEY"}, {"typ": "Jwt", "alg": "Ed25519"}):
        raw = encode_raw(header, claims, OPERATOR_SEED, v1_signing=False)
        assert decode_account(raw).header == header


def test_verify_false_skips_the_signature() -> None:
    forged = with_payload(T1, {**T1_CLAIMS, "name": "evil"})
    assert decode(forged, verify=False).name == "evil"
    _raises(forged, "signature")


def test_unknown_generic_type_decodes_but_is_not_typed() -> None:
    _, pub = new_keypair("A")
    raw = encode({"sub": pub, "nats": {"type": "generic"}}, ACCOUNT1_SEED)
    assert decode(raw).kind == "generic"
    _raises(raw, "expected account", decode_account)


# ---- segment / base64 rejections -----------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "abc",
        "a.b",
        T1 + ".x",
        T1 + "=",
        T1 + "\n",
        T1 + " ",
        " " + T1,
        T1.replace(".", "..", 1),
        parts(T1)[0] + "==." + ".".join(parts(T1)[1:]),
        parts(T1)[0] + "." + parts(T1)[1].replace("J", "+", 1) + "." + parts(T1)[2],
        parts(T1)[0] + "." + parts(T1)[1] + "." + parts(T1)[2].replace("_", "/"),
        parts(T1)[0] + "." + parts(T1)[1] + "A." + parts(T1)[2],  # length % 4 == 1
        parts(T1)[0][:-1] + "\u00e9." + ".".join(parts(T1)[1:]),
    ],
)
def test_bad_segments(raw: str) -> None:
    _raises(raw)
    _raises(raw, fn=decode_account)


def test_not_a_string() -> None:
    _raises(None)
    _raises(T1.encode())


# ---- header / payload JSON rejections ------------------------------------------------------------


@pytest.mark.parametrize(
    "header_segment",
    [
        b64("{"),
        b64("[]"),
        b64('"JWT"'),
        b64(b"\xff\xfe"),
        seg({"alg": "ed25519-nkey"}),
        seg({"typ": "JWS", "alg": "ed25519-nkey"}),
        seg({"typ": 1, "alg": "ed25519-nkey"}),
        seg({"typ": "JWT"}),
        seg({"typ": "JWT", "alg": "HS256"}),
        seg({"typ": "JWT", "alg": "none"}),
        seg({"typ": "JWT", "alg": "ed25519-nkey2"}),
        seg({"typ": "JWT", "alg": None}),
    ],
)
def test_bad_header(header_segment: str) -> None:
    _, payload, sig = parts(T1)
    _raises(f"{header_segment}.{payload}.{sig}")


@pytest.mark.parametrize(
    "payload_segment",
    [
        "",
        b64("{"),
        b64("[1,2]"),
        b64("null"),
        b64('"x"'),
        b64(b"\xff"),
        b64('{"iat": NaN}'),
        b64('{"iat": Infinity}'),
        b64('{"iat": 1e999}'),
        b64('{"name": "\\ud800"}'),  # a lone surrogate: no text a JWT could carry
        b64("[" * 100000 + "]" * 100000),
        b64('{"name": "x"} x'),
        b64('{"name": "x", }'),
    ],
)
def test_bad_payload_json(payload_segment: str) -> None:
    head, _, sig = parts(T1)
    _raises(f"{head}.{payload_segment}.{sig}")


# ---- claim type / version ----------------------------------------------------------------------


def _v2(nats: dict[str, Any], **top: Any) -> str:
    claims = {"sub": ACCOUNT1_KEY, **top, "nats": nats}
    return encode_raw(V2_HEADER, {"iss": OPERATOR_KEY, "iat": 1, **claims}, OPERATOR_SEED, v1_signing=False)


def test_newer_version_is_rejected() -> None:
    _raises(_v2({"type": "account", "version": 3}), "newer version")
    _raises(_v2({"type": "account", "version": 3}), "newer version", decode_account)


@pytest.mark.parametrize(
    "nats",
    [
        {},
        {"type": "account"},
        {"type": "account", "version": 1},
        {"type": "account", "version": 0},
        {"type": "account", "version": "2"},
        {"type": "account", "version": True},
        {"version": 2},
        {"type": "", "version": 2},
        {"type": 5, "version": 2},
    ],
)
def test_missing_or_bad_type_or_version(nats: dict[str, Any]) -> None:
    _raises(_v2(nats))


@pytest.mark.parametrize("kind", ["cluster", "server"])
def test_cluster_and_server_claims_rejected(kind: str) -> None:
    _raises(_v2({"type": kind, "version": 2}), "not supported")
    v1 = encode_raw(
        V1_HEADER, {"iss": OPERATOR_KEY, "sub": ACCOUNT1_KEY, "type": kind}, OPERATOR_SEED, v1_signing=True
    )
    _raises(v1, "not supported")


def test_v1_type_must_be_a_string() -> None:
    _raises(encode_raw(V1_HEADER, {"iss": OPERATOR_KEY, "type": 1}, OPERATOR_SEED, v1_signing=True))


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("iat", "1700000000"),
        ("iat", 1.5),
        ("iat", 1.0),
        ("exp", True),
        ("nbf", [1]),
        ("exp", 2**64),
        ("sub", 1),
        ("jti", {"a": 1}),
        ("name", False),
        ("nats", [1]),
    ],
)
def test_badly_typed_claims(member: str, value: Any) -> None:
    claims = {**T1_CLAIMS, member: value}
    raw = encode_raw(V2_HEADER, claims, OPERATOR_SEED, v1_signing=False)
    _raises(raw)
    _raises(raw, fn=lambda r: decode(r, verify=False))


def test_null_standard_claims_are_absent() -> None:
    claims = {**T1_CLAIMS, "exp": None, "name": None}
    tok = decode_account(encode_raw(V2_HEADER, claims, OPERATOR_SEED, v1_signing=False))
    assert tok.exp == 0 and tok.name == ""


# ---- signatures ---------------------------------------------------------------------------------


def test_forged_signature() -> None:
    head, payload, sig = parts(T1)
    flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    _raises(f"{head}.{payload}.{flipped}", "signature")
    _raises(f"{head}.{payload}.", "signature")
    _raises(f"{head}.{payload}.{sig[:-2]}", "signature")


def test_tampered_payload() -> None:
    _raises(with_payload(T1, {**T1_CLAIMS, "name": "B"}), "signature")


def test_tampered_header_breaks_v2_signature() -> None:
    _raises(with_header(T1, {"alg": "ed25519-nkey", "typ": "JWT"}), "signature")


def test_signed_by_another_key_than_iss() -> None:
    raw = encode_raw(V2_HEADER, T1_CLAIMS, ACCOUNT2_SEED, v1_signing=False)
    _raises(raw, "signature")


def test_v2_claims_with_payload_only_signature_rejected() -> None:
    raw = encode_raw(V2_HEADER, T1_CLAIMS, OPERATOR_SEED, v1_signing=True)
    _raises(raw, "V2 signature")
    raw = encode_raw(V1_HEADER, T1_CLAIMS, OPERATOR_SEED, v1_signing=True)
    _raises(raw, "V2 signature")


def test_v1_claims_with_header_payload_signature_rejected() -> None:
    claims = account_claims(ACCOUNT1_KEY, "A", version=1, iat=5)
    claims["iss"] = OPERATOR_KEY
    _raises(encode_raw(V1_HEADER, claims, OPERATOR_SEED, v1_signing=False), "V1 signature")
    assert decode(encode_raw(V1_HEADER, claims, OPERATOR_SEED, v1_signing=True)).version == 1


@pytest.mark.parametrize("iss", [None, "", "x", ACCOUNT1_KEY.lower(), OPERATOR_SEED, OPERATOR_KEY[:-1] + "A"])
def test_issuer_must_be_a_valid_public_key(iss: Any) -> None:
    claims = {**T1_CLAIMS, "iss": iss}
    _raises(encode_raw(V2_HEADER, claims, OPERATOR_SEED, v1_signing=False))


# ---- issuer roles per type ------------------------------------------------------------------------


def test_issuer_roles() -> None:
    user_seed, user_key = new_keypair("U")
    # account issued by a user key
    _raises(encode(account_claims(ACCOUNT1_KEY, "A"), user_seed), "issuer role", decode_account)
    # activation issued by a user key
    _raises(encode(activation_claims(ACCOUNT2_KEY, "x"), user_seed), "issuer role", decode_activation)
    # operator issued by an account key
    _raises(encode(operator_claims(OPERATOR_KEY, "O"), ACCOUNT1_SEED), "issuer role", decode_operator)
    # user issued by an operator key (users are issued by accounts)
    _raises(encode(user_claims(user_key), OPERATOR_SEED), "issuer role")
    assert decode(encode(user_claims(user_key), ACCOUNT1_SEED)).kind == "user"


def test_wrong_types_for_typed_decoders() -> None:
    op = encode(operator_claims(OPERATOR_KEY, "O"), OPERATOR_SEED)
    act = encode(activation_claims(ACCOUNT2_KEY, "x"), ACCOUNT1_SEED)
    _raises(op, "expected account", decode_account)
    _raises(act, "expected account", decode_account)
    _raises(act, "expected operator", decode_operator)
    _raises(op, "expected activation", decode_activation)
