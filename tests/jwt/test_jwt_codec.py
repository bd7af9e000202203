"""Decoding and verification of v1 and v2 JWTs as the NATS JWT library does, and every rejection path
(three segments, base64url, the header, kind and version, Go's JSON rules, the v1 layout, signature
and issuer, and what decoding leaves)."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import nkeys as pynkeys
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
    AccountClaims,
    ActivationClaims,
    Claims,
    JWTError,
    OperatorClaims,
    Token,
    account_claims,
    activation_claims,
    decode,
    decode_account,
    decode_activation,
    decode_operator,
    encode,
    gojson,
    new_keypair,
    operator_claims,
    peek_claims,
    user_claims,
)
from nats_account_server.jwt.encode import V1_HEADER, V2_HEADER, encode_raw

T1_CLAIMS: dict[str, Any] = json.loads(unb64(parts(T1)[1]))
V2_HEAD = b'{"typ":"JWT","alg":"ed25519-nkey"}'
V1_HEAD = b'{"typ":"jwt","alg":"ed25519"}'
KELVIN = "\u212a"  # folds to "k" in member names
LONG_S = "\u017f"  # folds to "s" in member names
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
V1_FAILED = "claim failed V1 signature verification"
V2_FAILED = "claim failed V2 signature verification"


def _raises(raw: Any, match: str | None = None, fn: Any = decode) -> JWTError:
    with pytest.raises(JWTError, match=match) as info:
        fn(raw)
    msg = str(info.value)
    assert msg and "\n" not in msg and len(msg) < 200
    return info.value


def _exactly(text: str) -> str:
    """A `match` pattern for exactly this message."""
    return f"^{re.escape(text)}$"


def _type_error(json_type: str, member: str, go_type: str | None = None) -> str:
    """Go's type error for `member` (its path may be qualified; the Go type names vary by version)."""
    of_type = re.escape(go_type) if go_type is not None else ".+"
    return (
        rf"^json: cannot unmarshal {json_type} into Go struct field (\S+\.)?{re.escape(member)} "
        rf"of type {of_type}$"
    )


def _sign(
    payload: bytes | str, *, seed: str = OPERATOR_SEED, header: bytes | str = V2_HEAD, v1: bool = False
) -> str:
    """A token of exactly this JSON text, signed over the v2 (`header.payload`) or v1 (payload) input."""
    head_seg, payload_seg = b64(header), b64(payload)
    signed = payload_seg if v1 else f"{head_seg}.{payload_seg}"
    sig = pynkeys.from_seed(seed.encode()).sign(signed.encode())
    return f"{head_seg}.{payload_seg}.{b64(sig)}"


def _account_text(nats: str = "", top: str = "") -> str:
    """A v2 account payload as JSON text (so names can repeat, vary in case or hold odd bytes)."""
    inner = '"type":"account","version":2' + (f",{nats}" if nats else "")
    return f'{{"iss":"{OPERATOR_KEY}","sub":"{ACCOUNT1_KEY}"{top},"nats":{{{inner}}}}}'


def _account(nats: str = "", top: str = "") -> AccountClaims:
    return decode_account(_sign(_account_text(nats, top))).account


def _account_error(nats: str = "", top: str = "") -> str:
    with pytest.raises(JWTError) as info:
        decode_account(_sign(_account_text(nats, top)))
    return str(info.value)


def _v1_account_text(nats: str = "", top: str = "") -> str:
    return f'{{"iss":"{OPERATOR_KEY}","sub":"{ACCOUNT1_KEY}","type":"account"{top},"nats":{{{nats}}}}}'


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
    assert isinstance(tok.claims, AccountClaims) and tok.account is tok.claims
    assert (tok.account.type, tok.account.version) == ("account", 2)
    limits = tok.account.limits
    assert (limits.subs, limits.data, limits.payload, limits.conn, limits.leaf) == (-1, -1, -1, -1, -1)
    assert limits.imports == limits.exports == -1 and limits.wildcards is True
    assert tok.account.exports == [] and tok.account.imports == [] and tok.account.signing_keys == {}
    assert hashlib.sha256(T1.encode()).hexdigest() == T1_SHA256


def test_t1_is_not_an_operator_or_activation() -> None:
    _raises(T1, _exactly("not operator claim"), decode_operator)
    _raises(T1, _exactly("not activation claim"), decode_activation)


def test_peek_claims() -> None:
    expected = Claims(
        jti=T1_JTI, iat=1700000000, iss=OPERATOR_KEY, name="A", sub=ACCOUNT1_KEY, exp=0, nbf=0, aud=""
    )
    assert peek_claims(T1) == expected
    assert peek_claims(T1).type == "" and peek_claims(T1).version == 0  # registered members only
    forged = with_payload(T1, {**T1_CLAIMS, "name": "B", "exp": 5, "nbf": 4})
    peeked = peek_claims(forged)  # no verification
    assert (peeked.name, peeked.exp, peeked.nbf) == ("B", 5, 4)
    _raises("a.b", _exactly("expected 3 chunks"), peek_claims)
    _raises(f"{parts(T1)[0]}.{b64('[1]')}.x", r"^json: cannot unmarshal array", peek_claims)
    _raises(with_payload(T1, {"iat": "1"}), _type_error("string", "iat", "int64"), peek_claims)


def test_peek_claims_reads_aud() -> None:
    assert peek_claims(with_payload(T1, {**T1_CLAIMS, "aud": "x"})).aud == "x"


def test_peek_claims_reads_names_as_the_library_does() -> None:
    raw = _sign(_account_text(top=',"EXP":5,"IAT":6'))
    assert (peek_claims(raw).exp, peek_claims(raw).iat) == (5, 6)
    raw = _sign(f'{{"iss":"{OPERATOR_KEY}","name":"a\\ud800","{LONG_S}ub":"s"}}')
    assert (peek_claims(raw).name, peek_claims(raw).sub) == ("a\ufffd", "s")


# ---- successful decodes of the other shapes ------------------------------------------------------


def test_v1_account_round_trip() -> None:
    raw = encode(account_claims(ACCOUNT1_KEY, "A", version=1), OPERATOR_SEED, version=1)
    tok = decode_account(raw)
    assert tok.version == 1 and tok.kind == "account"
    assert tok.header == V1_HEADER
    assert isinstance(tok.claims, AccountClaims)
    assert tok.account.type == "account" and tok.account.version == 1  # migrated to the v2 form
    assert tok.account.limits.subs == -1 and tok.account.limits.wildcards is True
    assert tok.iss == OPERATOR_KEY


def test_self_signed_account_decodes() -> None:
    raw = encode(account_claims(ACCOUNT1_KEY, "A"), ACCOUNT1_SEED)
    assert decode_account(raw).iss == ACCOUNT1_KEY


@pytest.mark.parametrize("version", [1, 2])
def test_activation_and_operator_round_trips(version: int) -> None:
    claims = activation_claims(ACCOUNT2_KEY, "foo.>", "service", version=version)
    if version == 2:
        claims["nats"]["issuer_account"] = ACCOUNT1_KEY
    else:
        claims["issuer_account"] = ACCOUNT1_KEY  # v1 holds it at the top (A.8)
    tok = decode_activation(encode(claims, ACCOUNT1_SEED, version=version))
    assert tok.version == version and tok.kind == "activation" and tok.sub == ACCOUNT2_KEY
    assert isinstance(tok.claims, ActivationClaims)
    assert (tok.activation.subject, tok.activation.kind) == ("foo.>", "service")
    assert tok.activation.issuer_account == ACCOUNT1_KEY
    by_operator = encode(activation_claims(ACCOUNT2_KEY, "foo"), OPERATOR_SEED)
    assert decode_activation(by_operator).iss == OPERATOR_KEY
    op = encode(
        operator_claims(OPERATOR_KEY, "O", version=version, system_account=ACCOUNT1_KEY),
        OPERATOR_SEED,
        version=version,
    )
    tok = decode_operator(op)
    assert tok.kind == "operator" and isinstance(tok.claims, OperatorClaims)
    assert tok.operator.system_account == ACCOUNT1_KEY


def test_typ_and_alg_are_case_insensitive() -> None:
    claims = {**T1_CLAIMS}
    for header in ({"typ": "jwt", "alg": "ED25519-NKEY"}, {"typ": "Jwt", "alg": "Ed25519"}):
        raw = encode_raw(header, claims, OPERATOR_SEED, v1_signing=False)
        assert decode_account(raw).header == header


def test_verify_false_skips_the_signature() -> None:
    forged = with_payload(T1, {**T1_CLAIMS, "name": "evil"})
    assert decode(forged, verify=False).name == "evil"
    _raises(forged, _exactly(V2_FAILED))


def test_unknown_generic_type_decodes_but_is_not_typed() -> None:
    _, pub = new_keypair("A")
    claims = {"iss": ACCOUNT1_KEY, "sub": pub, "nats": {"type": "generic", "version": 2}}
    raw = encode_raw(V2_HEADER, claims, ACCOUNT1_SEED, v1_signing=True)  # generic claims: v1 rule
    tok = decode(raw)
    assert tok.kind == "generic" and tok.version == 1
    assert type(tok.claims) is Claims and tok.sub == pub
    _raises(raw, _exactly("not account claim"), decode_account)
    # signed over `header.payload` as a v2 token would be: generic claims never verify that way
    _raises(encode(claims, ACCOUNT1_SEED), _exactly(V1_FAILED))


# ---- segment / base64 rejections -----------------------------------------------------------------

_H, _P, _S = parts(T1)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "expected 3 chunks"),
        ("abc", "expected 3 chunks"),
        ("a.b", "expected 3 chunks"),
        (T1 + ".x", "expected 3 chunks"),
        (T1.replace(".", "..", 1), "expected 3 chunks"),
        (T1 + "=", f"illegal base64 data at input byte {len(_S)}"),
        (T1 + " ", f"illegal base64 data at input byte {len(_S)}"),
        (" " + T1, "illegal base64 data at input byte 0"),
        (f"{_H}==.{_P}.{_S}", f"illegal base64 data at input byte {len(_H)}"),
        (f"{_H}.{_P.replace('J', '+', 1)}.{_S}", f"illegal base64 data at input byte {_P.index('J')}"),
        (f"{_H}.{_P}.{_S.replace('_', '/', 1)}", f"illegal base64 data at input byte {_S.index('_')}"),
        (f"{_H}.{_P}AA.{_S}", f"illegal base64 data at input byte {len(_P) + 1}"),  # length 4k+1
        (f"{_H[:-1]}\u00e9.{_P}.{_S}", f"illegal base64 data at input byte {len(_H) - 1}"),
        (f"{_H}.{_P}.\t{_S}", "illegal base64 data at input byte 0"),
    ],
)
def test_bad_segments(raw: str, message: str) -> None:
    _raises(raw, _exactly(message))
    _raises(raw, _exactly(message), decode_account)


def test_not_a_string() -> None:
    _raises(None)
    _raises(T1.encode())


# ---- header / payload JSON rejections ------------------------------------------------------------


@pytest.mark.parametrize(
    ("header_segment", "message"),
    [
        (b64("{"), None),
        (b64("[]"), "^json: cannot unmarshal array"),
        (b64('"JWT"'), "^json: cannot unmarshal string"),
        (b64(b"\xff\xfe"), None),
        (seg({"alg": "ed25519-nkey"}), _exactly('not supported type ""')),
        (seg({"typ": "JWS", "alg": "ed25519-nkey"}), _exactly('not supported type "JWS"')),
        (seg({"typ": 1, "alg": "ed25519-nkey"}), _type_error("number", "typ", "string")),
        (seg({"typ": "JWT"}), _exactly('unexpected "" algorithm')),
        (seg({"typ": "JWT", "alg": "HS256"}), _exactly('unexpected "HS256" algorithm')),
        (seg({"typ": "JWT", "alg": "none"}), _exactly('unexpected "none" algorithm')),
        (seg({"typ": "JWT", "alg": "ed25519-nkey2"}), _exactly('unexpected "ed25519-nkey2" algorithm')),
        (seg({"typ": "JWT", "alg": None}), _exactly('unexpected "" algorithm')),
        ("", _exactly("unexpected end of JSON input")),
    ],
)
def test_bad_header(header_segment: str, message: str | None) -> None:
    _, payload, sig = parts(T1)
    _raises(f"{header_segment}.{payload}.{sig}", message)


@pytest.mark.parametrize(
    ("payload_segment", "message"),
    [
        ("", _exactly("unexpected end of JSON input")),
        (b64("{"), None),
        (b64("[1,2]"), "^json: cannot unmarshal array"),
        (b64('"x"'), "^json: cannot unmarshal string"),
        (b64("5"), "^json: cannot unmarshal number"),
        (b64(b"\xff"), None),
        (b64(b"\xef\xbb\xbf{}"), None),  # a byte-order mark
        (b64('{"iat": NaN}'), None),
        (b64('{"iat": Infinity}'), None),
        (b64('{"iat": 1e999}'), _type_error("number", "iat", "int64")),
        (b64('{"name": "a\x01"}'), None),  # raw control character in a string
        (b64("[" * 100000 + "]" * 100000), None),  # deeper than 10000
        (b64('{"name": "x"} x'), None),
        (b64('{"name": "x"}\x0c'), None),  # only space, tab, CR and LF may follow the value
        (b64('{"name": "x", }'), None),
        # `null` parses and yields nothing: generic claims without an issuer, which cannot verify
        (b64("null"), _exactly(V1_FAILED)),
    ],
)
def test_bad_payload_json(payload_segment: str, message: str | None) -> None:
    head, _, sig = parts(T1)
    _raises(f"{head}.{payload_segment}.{sig}", message)


def test_trailing_whitespace_after_the_payload_is_fine() -> None:
    text = _account_text() + " \t\r\n"
    assert decode_account(_sign(text)).sub == ACCOUNT1_KEY


# ---- claim type / version ----------------------------------------------------------------------


def _v2(nats: dict[str, Any], **top: Any) -> str:
    claims = {"sub": ACCOUNT1_KEY, **top, "nats": nats}
    return encode_raw(V2_HEADER, {"iss": OPERATOR_KEY, "iat": 1, **claims}, OPERATOR_SEED, v1_signing=False)


def test_newer_version_is_rejected() -> None:
    newer = "JWT was generated by a newer version "  # with the trailing space
    _raises(_v2({"type": "account", "version": 3}), _exactly(newer))
    _raises(_v2({"type": "account", "version": 3}), _exactly(newer), decode_account)
    _raises(_v2({"type": "generic", "version": 3}), _exactly(newer))


@pytest.mark.parametrize(
    ("nats", "message"),
    [
        ({}, _exactly(V1_FAILED)),  # no kind: generic claims, verified over the payload only
        ({"type": "account"}, _exactly("library supports version 2 or less - received 0")),
        ({"type": "account", "version": 1}, _exactly(V1_FAILED)),  # v1 by nats.version: v1 signature
        ({"type": "account", "version": 0}, _exactly("library supports version 2 or less - received 0")),
        ({"type": "account", "version": -1}, _exactly("library supports version 2 or less - received -1")),
        ({"type": "user", "version": 0}, _exactly("library supports version 2 or less - received 0")),
        ({"type": "account", "version": "2"}, _type_error("string", "version", "int")),
        ({"type": "account", "version": True}, _type_error("bool", "version", "int")),
        ({"type": "account", "version": 2.0}, _type_error("number", "version", "int")),
        ({"type": "account", "version": 2, "tags": "x"}, _type_error("string", "tags")),
        ({"version": 2}, _exactly(V1_FAILED)),
        ({"type": "", "version": 2}, _exactly(V1_FAILED)),
        ({"type": "Account", "version": 2}, _exactly(V1_FAILED)),  # kinds are case-sensitive
        ({"type": 5, "version": 2}, _type_error("number", "type", "string")),
    ],
)
def test_missing_or_bad_type_or_version(nats: dict[str, Any], message: str) -> None:
    _raises(_v2(nats), message)


@pytest.mark.parametrize("kind", ["cluster", "server"])
def test_cluster_and_server_claims_rejected(kind: str) -> None:
    message = _exactly(f"{kind.capitalize()}Claims are not supported")
    _raises(_v2({"type": kind, "version": 2}), message)
    v1 = encode_raw(
        V1_HEADER, {"iss": OPERATOR_KEY, "sub": ACCOUNT1_KEY, "type": kind}, OPERATOR_SEED, v1_signing=True
    )
    _raises(v1, message)


def test_v1_type_must_be_a_string() -> None:
    raw = encode_raw(V1_HEADER, {"iss": OPERATOR_KEY, "type": 1}, OPERATOR_SEED, v1_signing=True)
    _raises(raw, _type_error("number", "type", "string"))


@pytest.mark.parametrize(
    ("member", "value", "json_type", "go_type"),
    [
        ("iat", "1700000000", "string", "int64"),
        ("iat", 1.5, "number", "int64"),
        ("iat", 1.0, "number", "int64"),
        ("exp", True, "bool", "int64"),
        ("nbf", [1], "array", "int64"),
        ("exp", 2**64, "number", "int64"),
        ("sub", 1, "number", "string"),
        ("jti", {"a": 1}, "object", "string"),
        ("name", False, "bool", "string"),
        ("aud", ["x"], "array", "string"),  # a single string, not a list
        ("nats", [1], "array", None),
        ("nats", "x", "string", None),
    ],
)
def test_badly_typed_claims(member: str, value: Any, json_type: str, go_type: str | None) -> None:
    claims = {**T1_CLAIMS, member: value}
    raw = encode_raw(V2_HEADER, claims, OPERATOR_SEED, v1_signing=False)
    message = _type_error(json_type, member, go_type)
    _raises(raw, message)
    _raises(raw, message, lambda r: decode(r, verify=False))


def test_null_standard_claims_are_absent() -> None:
    claims = {**T1_CLAIMS, "exp": None, "name": None}
    tok = decode_account(encode_raw(V2_HEADER, claims, OPERATOR_SEED, v1_signing=False))
    assert tok.exp == 0 and tok.name == ""


# ---- signatures ---------------------------------------------------------------------------------


def test_forged_signature() -> None:
    head, payload, sig = parts(T1)
    flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    _raises(f"{head}.{payload}.{flipped}", _exactly(V2_FAILED))
    _raises(f"{head}.{payload}.", _exactly(V2_FAILED))  # empty: nothing to verify
    _raises(f"{head}.{payload}.{sig[:-2]}", _exactly(V2_FAILED))  # 63 bytes


def test_unused_low_bits_of_the_signature_are_not_checked() -> None:
    head, payload, sig = parts(T1)
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(sig[-1])
    # the last of 86 characters carries 2 bits and 4 unused ones: 16 spellings decode alike
    for low in range(16):
        twin = sig[:-1] + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last & ~15 | low]
        assert decode_account(f"{head}.{payload}.{twin}").claims == decode_account(T1).claims


def test_tampered_payload() -> None:
    _raises(with_payload(T1, {**T1_CLAIMS, "name": "B"}), _exactly(V2_FAILED))


def test_tampered_header_breaks_v2_signature() -> None:
    _raises(with_header(T1, {"alg": "ed25519-nkey", "typ": "JWT"}), _exactly(V2_FAILED))


def test_signed_by_another_key_than_iss() -> None:
    raw = encode_raw(V2_HEADER, T1_CLAIMS, ACCOUNT2_SEED, v1_signing=False)
    _raises(raw, _exactly(V2_FAILED))


def test_v2_claims_with_payload_only_signature_rejected() -> None:
    raw = encode_raw(V2_HEADER, T1_CLAIMS, OPERATOR_SEED, v1_signing=True)
    _raises(raw, _exactly(V2_FAILED))
    raw = encode_raw(V1_HEADER, T1_CLAIMS, OPERATOR_SEED, v1_signing=True)  # the header does not choose
    _raises(raw, _exactly(V2_FAILED))


def test_v1_claims_with_header_payload_signature_rejected() -> None:
    claims = account_claims(ACCOUNT1_KEY, "A", version=1, iat=5)
    claims["iss"] = OPERATOR_KEY
    _raises(encode_raw(V1_HEADER, claims, OPERATOR_SEED, v1_signing=False), _exactly(V1_FAILED))
    assert decode(encode_raw(V1_HEADER, claims, OPERATOR_SEED, v1_signing=True)).version == 1
    # either header is accepted for either version
    assert decode(encode_raw(V2_HEADER, claims, OPERATOR_SEED, v1_signing=True)).version == 1


@pytest.mark.parametrize(
    "iss",
    [None, "", "x", ACCOUNT1_KEY.lower(), OPERATOR_SEED, OPERATOR_KEY[:-1] + "A", f" {OPERATOR_KEY}"],
)
def test_issuer_must_be_a_valid_public_key(iss: Any) -> None:
    claims = {**T1_CLAIMS, "iss": iss}
    _raises(encode_raw(V2_HEADER, claims, OPERATOR_SEED, v1_signing=False), _exactly(V2_FAILED))


# ---- issuer roles per type ------------------------------------------------------------------------


def test_issuer_roles() -> None:
    user_seed, user_key = new_keypair("U")
    account_or_operator = _exactly("unable to validate expected prefixes - [account operator]")
    # account issued by a user key
    _raises(encode(account_claims(ACCOUNT1_KEY, "A"), user_seed), account_or_operator, decode_account)
    # activation issued by a user key
    _raises(encode(activation_claims(ACCOUNT2_KEY, "x"), user_seed), account_or_operator, decode_activation)
    # operator issued by an account key
    only_operator = _exactly("unable to validate expected prefixes - [operator]")
    _raises(encode(operator_claims(OPERATOR_KEY, "O"), ACCOUNT1_SEED), only_operator, decode_operator)
    # user issued by an operator key (users are issued by accounts)
    only_account = _exactly("unable to validate expected prefixes - [account]")
    _raises(encode(user_claims(user_key), OPERATOR_SEED), only_account)
    assert decode(encode(user_claims(user_key), ACCOUNT1_SEED)).kind == "user"


def test_wrong_types_for_typed_decoders() -> None:
    op = encode(operator_claims(OPERATOR_KEY, "O"), OPERATOR_SEED)
    act = encode(activation_claims(ACCOUNT2_KEY, "x"), ACCOUNT1_SEED)
    user_seed, user_key = new_keypair("U")
    user = encode(user_claims(user_key), ACCOUNT1_SEED)
    _raises(op, _exactly("not account claim"), decode_account)
    _raises(act, _exactly("not account claim"), decode_account)
    _raises(user, _exactly("not account claim"), decode_account)
    _raises(act, _exactly("not operator claim"), decode_operator)
    _raises(op, _exactly("not activation claim"), decode_activation)
    assert user_seed.startswith("SU")


# ---- A.5: member names in any case, Unicode folding ------------------------------------------------


def test_member_names_match_in_any_case() -> None:
    tok = decode_account(_sign(_account_text(top=',"EXP":1800000000,"Nbf":5,"NAME":"n","Sub":"x"')))
    assert (tok.exp, tok.nbf, tok.name, tok.sub) == (1800000000, 5, "n", "x")
    text = f'{{"ISS":"{OPERATOR_KEY}","NATS":{{"TYPE":"account","Version":2,"LIMITS":{{"Subs":3}}}}}}'
    tok = decode_account(_sign(text))
    assert tok.iss == OPERATOR_KEY and tok.account.limits.subs == 3
    exports = '"EXPORTS":[{"SUBJECT":"e.s","Type":"service","Service_Latency":{"SAMPLING":7}}]'
    assert _account(exports).exports[0].service_latency.sampling == 7  # type: ignore[union-attr]


def test_kelvin_sign_and_long_s_fold_to_k_and_s() -> None:
    entry = f'"{LONG_S}ubject":"i.s","to{KELVIN}en":"tok","type":"stream","account":"{ACCOUNT2_KEY}"'
    imports = f'"imports":[{{{entry}}}]'
    imp = _account(imports).imports[0]
    assert imp is not None and (imp.subject, imp.token, imp.account) == ("i.s", "tok", ACCOUNT2_KEY)
    assert decode_account(_sign(_account_text(top=f',"{LONG_S}ub":"S"'))).sub == "S"
    assert _account(f'"limits":{{"{LONG_S}ub{LONG_S}":9,"lea{KELVIN}":4}}').limits.subs == 9
    # other letters do not fold: an accented name is another name, ignored
    assert decode_account(_sign(_account_text(top=',"n\u00e1me":"x"'))).name == ""


# ---- A.5: repeated members ---------------------------------------------------------------------------


def test_repeated_scalar_last_wins_whatever_the_spelling() -> None:
    tok = decode_account(_sign(_account_text(top=',"exp":5,"EXP":7,"exp":9,"name":"a","Name":"b"')))
    assert (tok.exp, tok.name) == (9, "b")
    assert _account('"description":"a","description":"b"').description == "b"
    assert _account('"limits":{"subs":1,"SUBS":2}').limits.subs == 2


def test_repeated_nats_objects_are_merged() -> None:
    text = (
        f'{{"iss":"{OPERATOR_KEY}","sub":"{ACCOUNT1_KEY}","nats":{{"type":"account","limits":{{"subs":3}}}},'
        '"NATS":{"version":2,"limits":{"data":4},"description":"d"}}'
    )
    tok = decode_account(_sign(text))  # the kind from the first, the version from the second
    assert (tok.kind, tok.version) == ("account", 2)
    assert (tok.account.limits.subs, tok.account.limits.data, tok.account.description) == (3, 4, "d")
    # maps merge key by key, each key's value replaced
    claims = _account('"revocations":{"a":1,"b":2},"revocations":{"b":3}')
    assert claims.revocations == {"a": 1, "b": 3}
    claims = _account(
        '"mappings":{"m":[{"subject":"x"}],"n":[{"subject":"y"}]},"mappings":{"m":[{"weight":5}]}'
    )
    assert [(t.subject, t.weight) for t in claims.mappings["m"]] == [("", 5)]  # a fresh target list
    assert [t.subject for t in claims.mappings["n"]] == ["y"]


def test_repeated_exports_merge_into_the_earlier_element_by_position() -> None:
    claims = _account('"exports":[{"subject":"a b","type":"stream"}],"exports":[{"type":"stream"}]')
    assert len(claims.exports) == 1
    assert claims.exports[0] is not None and claims.exports[0].subject == "a b"  # kept, so still refused
    # the later array decides the length; each of its elements merges into the one at its position
    claims = _account(
        '"exports":[{"subject":"a","type":"stream","token_req":true},{"subject":"b","type":"service"}],'
        '"exports":[{"name":"n"}]'
    )
    assert len(claims.exports) == 1
    first = claims.exports[0]
    assert first is not None and (first.subject, first.type, first.name) == ("a", "stream", "n")
    assert first.token_req is True
    claims = _account('"exports":[{"subject":"a","type":"stream"}],"exports":[null,{"subject":"c"}]')
    assert claims.exports[0] is None
    assert claims.exports[1] is not None and (claims.exports[1].subject, claims.exports[1].type) == ("c", "")
    claims = _account('"imports":[{"subject":"i","type":"stream"}],"imports":[{"account":"x"}]')
    imp = claims.imports[0]
    assert imp is not None and (imp.subject, imp.account) == ("i", "x")


def test_repeated_signing_keys_accumulate() -> None:
    scoped = f'{{"kind":"user_scope","key":"{ACCOUNT2_KEY}","role":"r"}}'
    claims = _account(f'"signing_keys":["{ACCOUNT2_KEY}"],"signing_keys":["{OPERATOR_KEY}"]')
    assert claims.signing_keys == {ACCOUNT2_KEY: None, OPERATOR_KEY: None}
    # keys are held by their text: a repeated key keeps only its last entry, plain or scoped
    claims = _account(f'"signing_keys":["{ACCOUNT2_KEY}"],"Signing_Keys":[{scoped}]')
    scope = claims.signing_keys[ACCOUNT2_KEY]
    assert list(claims.signing_keys) == [ACCOUNT2_KEY] and scope is not None and scope.role == "r"
    claims = _account(f'"signing_keys":[{scoped},"{ACCOUNT2_KEY}"]')
    assert claims.signing_keys == {ACCOUNT2_KEY: None}
    # null adds nothing and removes nothing
    claims = _account(f'"signing_keys":["{ACCOUNT2_KEY}"],"signing_keys":null')
    assert claims.signing_keys == {ACCOUNT2_KEY: None}


def test_repeated_v1_signing_keys_is_a_plain_list() -> None:
    text = _v1_account_text(
        f'"signing_keys":["{ACCOUNT2_KEY}","{OPERATOR_KEY}"],"signing_keys":["{ACCOUNT1_KEY}"]'
    )
    claims = decode_account(_sign(text, v1=True)).account
    assert claims.signing_keys == {ACCOUNT1_KEY: None}


# ---- A.5: null --------------------------------------------------------------------------------------


def test_null_leaves_scalars_and_structures_as_they_were() -> None:
    tok = decode_account(_sign(_account_text(top=',"name":"a","name":null,"exp":null')))
    assert (tok.name, tok.exp) == ("a", 0)
    claims = _account('"limits":{"subs":5},"limits":null,"description":"d","description":null')
    assert (claims.limits.subs, claims.description) == (5, "d")
    claims = _account('"limits":{"subs":5,"data":null},"default_permissions":null,"authorization":null')
    assert (claims.limits.subs, claims.limits.data, claims.default_permissions.pub.allow) == (5, 0, [])


def test_null_after_a_duplicate_empties_lists_maps_and_optionals() -> None:
    # Go sets a slice, map or pointer to nil on null (nats-server 2.15.1 accepts all of these accounts)
    claims = _account('"exports":[{"subject":"a b","type":"stream"}],"exports":null')
    assert claims.exports == []
    claims = _account('"trace":{"dest":""},"trace":null,"mappings":{"m":[{"subject":"t"}]},"mappings":null')
    assert claims.trace is None and claims.mappings == {}
    claims = _account('"tags":["a"],"tags":null,"revocations":{"k":1},"revocations":null')
    assert claims.tags == [] and claims.revocations == {}
    claims = _account(
        '"exports":[{"subject":"s","type":"service","service_latency":{"sampling":500}}],'
        '"exports":[{"service_latency":null}]'
    )
    assert claims.exports[0] is not None and claims.exports[0].service_latency is None
    claims = _account(
        '"default_permissions":{"pub":{"allow":["a b"]}},"default_permissions":{"pub":{"allow":null}}'
    )
    assert claims.default_permissions.pub.allow == []


def test_null_list_elements_are_zero_values() -> None:
    claims = _account('"tags":["a",null],"mappings":{"m":[null,{"subject":"t"}]},"exports":[null]')
    assert claims.tags == ["a", ""]
    assert [(t.subject, t.weight) for t in claims.mappings["m"]] == [("", 0), ("t", 0)]
    assert claims.exports == [None]
    claims = _account('"default_permissions":{"pub":{"allow":[null,"x"]}},"imports":[null]')
    assert claims.default_permissions.pub.allow == ["", "x"] and claims.imports == [None]


def test_null_nats_is_absent_and_null_optionals_are_none() -> None:
    text = f'{{"iss":"{OPERATOR_KEY}","sub":"{ACCOUNT1_KEY}","nats":null}}'
    tok = decode(_sign(text, v1=True))  # no kind: generic claims
    assert tok.kind == "" and type(tok.claims) is Claims
    _raises(_sign(text, v1=True), _exactly("not account claim"), decode_account)
    claims = _account('"trace":null,"exports":[{"subject":"s","type":"service","service_latency":null}]')
    assert claims.trace is None
    assert claims.exports[0] is not None and claims.exports[0].service_latency is None


@pytest.mark.parametrize(
    ("member", "message"),
    [
        ('"type":null', 'unknown export type ""'),
        ('"type":""', 'unknown export type ""'),
        ('"type":"Stream"', 'unknown export type "Stream"'),
        ('"type":"services"', 'unknown export type "services"'),
    ],
)
def test_export_type_is_exactly_stream_or_service(member: str, message: str) -> None:
    assert _account_error(f'"exports":[{{"subject":"s",{member}}}]') == message
    assert _account_error(f'"imports":[{{"subject":"s",{member}}}]') == message


def test_absent_export_type_is_unknown_and_a_number_is_a_type_error() -> None:
    claims = _account('"exports":[{"subject":"s"}],"imports":[{"subject":"s"}]')
    assert claims.exports[0] is not None and claims.exports[0].type == ""
    assert claims.imports[0] is not None and claims.imports[0].type == ""
    assert re.match(_type_error("number", "type"), _account_error('"exports":[{"subject":"s","type":1}]'))


# ---- A.5: invalid UTF-8 and lone surrogates ----------------------------------------------------------


def _with_name(name: bytes) -> Token:
    payload = b'{"iss":"%s","name":"%s","nats":{"type":"account","version":2}}' % (
        OPERATOR_KEY.encode(),
        name,
    )
    return decode_account(_sign(payload))  # the signature is over the original bytes


@pytest.mark.parametrize(
    ("name", "decoded"),
    [
        (b"a\xffb", "a\ufffdb"),
        (b"\xe2\x82", "\ufffd\ufffd"),  # a truncated sequence: one U+FFFD per byte
        (b"\xed\xa0\x80", "\ufffd" * 3),  # an encoded surrogate is invalid UTF-8
        (b"\xc0\xaf", "\ufffd\ufffd"),  # an overlong encoding
        (b"\\ud800", "\ufffd"),  # a lone surrogate escape
        (b"\\udc00x", "\ufffdx"),
        (b"\\ud800\\u0041", "\ufffdA"),
        (b"\\ud83d\\ude00", "\U0001f600"),  # a surrogate pair is one character
        (b"\\u0000", "\x00"),
        ("Z\u00fcrich".encode(), "Z\u00fcrich"),
    ],
)
def test_invalid_utf8_and_lone_surrogates_become_replacement_characters(name: bytes, decoded: str) -> None:
    assert _with_name(name).name == decoded


def test_a_name_with_invalid_bytes_matches_nothing() -> None:
    payload = b'{"iss":"%s","nam\xff":"x","nats":{"type":"account","version":2}}' % OPERATOR_KEY.encode()
    tok = decode_account(_sign(payload))
    assert tok.name == ""


# ---- A.5/A.6: types and integer literals --------------------------------------------------------------


@pytest.mark.parametrize(
    ("nats", "json_type", "member", "go_type"),
    [
        ('"limits":{"subs":"1"}', "string", "subs", "int64"),
        ('"limits":{"wildcards":1}', "number", "wildcards", "bool"),
        ('"limits":{"disallow_bearer":"true"}', "string", "disallow_bearer", "bool"),
        ('"limits":{"tiered_limits":{"R1":{"streams":"1"}}}', "string", "streams", "int64"),
        ('"limits":[]', "array", "limits", None),
        ('"description":5', "number", "description", "string"),
        ('"tags":"x"', "string", "tags", None),
        ('"tags":[1]', "number", "tags", None),
        ('"exports":{}', "object", "exports", None),
        ('"exports":[{"subject":"s","type":"stream","token_req":"yes"}]', "string", "token_req", "bool"),
        ('"exports":[5]', "number", "exports", None),
        ('"imports":[{"subject":"s","type":"stream","share":1}]', "number", "share", "bool"),
        ('"revocations":[]', "array", "revocations", None),
        ('"revocations":{"k":"1"}', "string", "revocations", None),
        ('"mappings":{"m":{}}', "object", "mappings", None),
        ('"default_permissions":{"pub":{"allow":"x"}}', "string", "allow", None),
        ('"default_permissions":{"resp":{"max":"1"}}', "string", "max", None),
        ('"trace":{"dest":"t","sampling":"1"}', "string", "sampling", "int"),
        ('"authorization":{"xkey":1}', "number", "xkey", "string"),
        ('"cluster_traffic":true', "bool", "cluster_traffic", "string"),
        ('"signing_keys":{"a":1}', "object", "signing_keys", None),
        ('"signing_keys":"x"', "string", "signing_keys", None),
    ],
)
def test_wrong_json_types_fail_the_decode(
    nats: str, json_type: str, member: str, go_type: str | None
) -> None:
    assert re.match(_type_error(json_type, member, go_type), _account_error(nats))


def test_unknown_members_are_ignored_whatever_their_type() -> None:
    claims = _account('"x":[1,{"y":null}],"limits":{"subs":2,"z":"q"}', top=',"w":{"nats":5}')
    assert claims.limits.subs == 2


@pytest.mark.parametrize("literal", ["1e3", "1E3", "1.0", "1.5", "-1.0", "1e0", '"1"', "true"])
def test_integers_take_only_integer_literals(literal: str) -> None:
    message = _account_error(f'"limits":{{"subs":{literal}}}')
    assert re.match(r"^json: cannot unmarshal \w+ into Go struct field \S*subs of type int64$", message)
    message = _account_error(top=f',"iat":{literal}')
    assert re.match(r"^json: cannot unmarshal \w+ into Go struct field \S*iat of type int64$", message)


def test_minus_zero_is_zero() -> None:
    assert _account('"limits":{"subs":-0}').limits.subs == 0


@pytest.mark.parametrize(
    ("nats", "ok"),
    [
        (f'"limits":{{"subs":{INT64_MAX}}}', True),
        (f'"limits":{{"subs":{INT64_MIN}}}', True),
        (f'"limits":{{"subs":{INT64_MAX + 1}}}', False),
        (f'"limits":{{"subs":{INT64_MIN - 1}}}', False),
        (f'"limits":{{"subs":{10**30}}}', False),
        (f'"revocations":{{"k":{INT64_MAX + 1}}}', False),
        (f'"exports":[{{"subject":"s","type":"stream","account_token_position":{2**64 - 1}}}]', True),
        (f'"exports":[{{"subject":"s","type":"stream","account_token_position":{2**64}}}]', False),
        ('"exports":[{"subject":"s","type":"stream","account_token_position":-1}]', False),
        ('"mappings":{"m":[{"subject":"t","weight":255}]}', True),
        ('"mappings":{"m":[{"subject":"t","weight":256}]}', False),
        ('"mappings":{"m":[{"subject":"t","weight":-1}]}', False),
        (f'"exports":[{{"subject":"s","type":"service","response_threshold":{INT64_MAX}}}]', True),
        (f'"trace":{{"dest":"t","sampling":{INT64_MAX + 1}}}', False),
    ],
)
def test_integer_ranges(nats: str, ok: bool) -> None:
    if ok:
        _account(nats)
    else:
        assert _account_error(nats).startswith("json: cannot unmarshal number into Go struct field ")


def test_integer_range_of_registered_members() -> None:
    assert decode_account(_sign(_account_text(top=f',"exp":{INT64_MAX},"nbf":{INT64_MIN}'))).exp == INT64_MAX
    assert re.match(_type_error("number", "exp", "int64"), _account_error(top=f',"exp":{INT64_MAX + 1}'))


# ---- A.4/A.8: v1 detection and layout -----------------------------------------------------------------


def test_top_level_type_means_v1_whatever_nats_version_says() -> None:
    text = _v1_account_text('"version":7,"type":"operator","limits":{"subs":3}')
    tok = decode_account(_sign(text, v1=True, header=V1_HEAD))
    assert (tok.version, tok.kind, tok.account.limits.subs) == (1, "account", 3)
    _raises(_sign(text), _exactly(V1_FAILED))  # a v1 token needs the payload-only signature
    text = f'{{"iss":"{OPERATOR_KEY}","TYPE":"account","nats":{{}}}}'
    assert decode_account(_sign(text, v1=True)).version == 1  # the name in any case
    # an empty top-level type does not count: nats decides
    text = f'{{"iss":"{OPERATOR_KEY}","type":"","nats":{{"type":"account","version":2}}}}'
    assert decode_account(_sign(text)).version == 2


def test_v1_still_type_checks_the_identification_members() -> None:
    for nats, json_type, member in (('"tags":"x"', "string", "tags"), ('"version":"1"', "string", "version")):
        with pytest.raises(JWTError, match=_type_error(json_type, member)):
            decode_account(_sign(_v1_account_text(nats), v1=True))


def test_v1_layout_reads_its_own_members() -> None:
    text = _v1_account_text(
        '"limits":{"subs":2,"conn":4,"mem_storage":"x","tiered_limits":5},"mappings":5,"description":7,'
        '"default_permissions":"p","authorization":[],"trace":1,"cluster_traffic":0',
        top=f',"tags":["a","B"],"issuer_account":"{ACCOUNT2_KEY}"',
    )
    claims = decode_account(_sign(text, v1=True)).account
    assert (claims.limits.subs, claims.limits.conn, claims.limits.mem_storage) == (2, 4, 0)
    assert claims.limits.tiered_limits == {} and claims.mappings == {} and claims.description == ""
    assert claims.tags == ["a", "B"] and claims.type == "account"
    # exports and imports are read as v2 entries, so their v2-only members are typed
    bad = _v1_account_text('"exports":[{"subject":"s","type":"stream","allow_trace":"x"}]')
    _raises(_sign(bad, v1=True), _type_error("string", "allow_trace", "bool"))
    # v1 signing keys are strings only
    bad = _v1_account_text(f'"signing_keys":[{{"kind":"user_scope","key":"{ACCOUNT2_KEY}"}}]')
    _raises(_sign(bad, v1=True), _type_error("object", "signing_keys", "string"))
    bad = _v1_account_text(top=',"issuer_account":5')
    _raises(_sign(bad, v1=True), _type_error("number", "issuer_account"))


def test_nats_version_1_without_top_level_type_is_v1() -> None:
    text = (
        f'{{"iss":"{OPERATOR_KEY}","sub":"{ACCOUNT1_KEY}","nats":{{"type":"account","version":1,'
        '"limits":{"subs":3,"mem_storage":"x"},"description":5}}'
    )
    tok = decode_account(_sign(text, v1=True))  # v1 layout: mem_storage and description not even typed
    assert (tok.version, tok.kind) == (1, "account")
    assert (tok.account.limits.subs, tok.account.limits.mem_storage, tok.account.description) == (3, 0, "")
    _raises(_sign(text), _exactly(V1_FAILED))  # and the v1 signature rule
    v2 = text.replace('"version":1', '"version":2')
    _raises(_sign(v2), _type_error("string", "mem_storage", "int64"))


def test_v1_activation_layout() -> None:
    text = (
        f'{{"iss":"{ACCOUNT1_KEY}","sub":"{ACCOUNT2_KEY}","type":"activation","issuer_account":"{ACCOUNT1_KEY}",'
        '"nats":{"subject":"a.>","type":"service","max":1,"payload":2,"src":"x","times":[{"start":"s"}]}}'
    )
    act = decode_activation(_sign(text, seed=ACCOUNT1_SEED, v1=True)).activation
    assert (act.subject, act.kind, act.issuer_account, act.version) == ("a.>", "service", ACCOUNT1_KEY, 1)
    bad = text.replace('"max":1', '"max":"1"')
    _raises(_sign(bad, seed=ACCOUNT1_SEED, v1=True), _type_error("string", "max", "int64"))
    # v1 names the import kind `nats.type`; a v2 `kind` member is not read
    v2_kind = text.replace('"type":"service"', '"kind":"service"')
    assert decode_activation(_sign(v2_kind, seed=ACCOUNT1_SEED, v1=True)).activation.kind == ""


def test_tiered_limits_reset_the_flat_jetstream_limits() -> None:
    claims = _account(
        '"limits":{"subs":7,"mem_storage":5,"disk_storage":6,"streams":1,"max_bytes_required":true,'
        '"tiered_limits":{"R1":{"mem_storage":1}}}'
    )
    limits = claims.limits
    assert (limits.mem_storage, limits.disk_storage, limits.streams) == (0, 0, 0)
    assert limits.max_bytes_required is False
    assert limits.subs == 7 and limits.tiered_limits["R1"].mem_storage == 1
    assert _account('"limits":{"mem_storage":5,"tiered_limits":{}}').limits.mem_storage == 5


# ---- A.7: service latency sampling ---------------------------------------------------------------------


def _latency(sampling: str) -> str:
    latency = f'"service_latency":{{"sampling":{sampling},"results":"r"}}'
    return f'"exports":[{{"subject":"s","type":"service",{latency}}}]'


@pytest.mark.parametrize(
    ("sampling", "expected"),
    [('"headers"', 0), ('"HEADERS"', 0), ('"Headers"', 0), ("null", 0), ("50", 50), ("0", 0), ("-3", -3)],
)
def test_sampling_headers_literal_or_integer(sampling: str, expected: int) -> None:
    latency = _account(_latency(sampling)).exports[0].service_latency  # type: ignore[union-attr]
    assert latency is not None and latency.sampling == expected


@pytest.mark.parametrize(
    "sampling", ['"\\u0068eaders"', '"HEADER\\u0053"', '"50"', '"head"', "50.5", "1e2", "true"]
)
def test_sampling_other_spellings_fail(sampling: str) -> None:
    assert re.match(_type_error(r"\w+", "sampling"), _account_error(_latency(sampling)))


def test_sampling_escaped_headers_fails_even_with_the_literal_elsewhere() -> None:
    message = _account_error(_latency('"\\u0068eaders"') + ',"description":"headers"')
    assert re.match(_type_error("string", "sampling"), message)


# ---- A.7: signing key objects -------------------------------------------------------------------------

_SCOPE_ERROR = "unknown signing key scope %!q(<nil>)"


def _keys(items: str) -> dict[str, Any]:
    return _account(f'"signing_keys":[{items}]').signing_keys


@pytest.mark.parametrize(
    "scope",
    [
        f'{{"Kind":"user_scope","key":"{ACCOUNT2_KEY}"}}',
        f'{{"KIND":"user_scope","key":"{ACCOUNT2_KEY}"}}',
        f'{{"{KELVIN}ind":"user_scope","key":"{ACCOUNT2_KEY}"}}',
        f'{{"kind":"User_scope","key":"{ACCOUNT2_KEY}"}}',
        f'{{"kind":"user_scope ","key":"{ACCOUNT2_KEY}"}}',
        f'{{"kind":"\\u0075ser_scope","key":"{ACCOUNT2_KEY}","kind":"x"}}',
        f'{{"kind":null,"key":"{ACCOUNT2_KEY}"}}',
        f'{{"key":"{ACCOUNT2_KEY}"}}',
        "{}",
    ],
)
def test_signing_key_kind_must_be_exactly_user_scope(scope: str) -> None:
    assert _account_error(f'"signing_keys":[{scope}]') == _SCOPE_ERROR


def test_scoped_signing_keys() -> None:
    keys = _keys(f'{{"kind":"user_scope","key":"{ACCOUNT2_KEY}","role":"r","description":"d"}}')
    scope = keys[ACCOUNT2_KEY]
    assert scope is not None and (scope.key, scope.role, scope.description) == (ACCOUNT2_KEY, "r", "d")
    # the last `kind` counts (a generic map keeps the last)
    assert ACCOUNT2_KEY in _keys(f'{{"kind":"x","kind":"user_scope","key":"{ACCOUNT2_KEY}"}}')
    # an escaped spelling of the value is the same string
    assert ACCOUNT2_KEY in _keys(f'{{"kind":"\\u0075ser_scope","key":"{ACCOUNT2_KEY}"}}')
    # an absent key is the empty key
    assert "" in _keys('{"kind":"user_scope"}')


def test_scope_names_in_any_case_in_byte_order_last_wins() -> None:
    # `KEY` sorts before `key`: `key` is read last and wins, whatever the document order
    keys = _keys(f'{{"kind":"user_scope","key":"{ACCOUNT2_KEY}","KEY":"{ACCOUNT1_KEY}"}}')
    assert list(keys) == [ACCOUNT2_KEY]
    keys = _keys(f'{{"kind":"user_scope","Role":"a","role":"b","ROLE":"c","key":"{ACCOUNT2_KEY}"}}')
    assert keys[ACCOUNT2_KEY] is not None and keys[ACCOUNT2_KEY].role == "b"
    # an invalid value in any spelling fails
    message = _account_error(f'"signing_keys":[{{"kind":"user_scope","Key":5,"key":"{ACCOUNT2_KEY}"}}]')
    assert re.match(_type_error("number", "key", "string"), message)


@pytest.mark.parametrize("number", ["1e3", "1E3", "1.0", "-1", "0", "9007199254740993"])
def test_numbers_in_a_scope_pass_through_a_float(number: str) -> None:
    template = f'"template":{{"subs":{number},"data":{number},"payload":{number}}}'
    keys = _keys(f'{{"kind":"user_scope","key":"{ACCOUNT2_KEY}",{template}}}')
    assert ACCOUNT2_KEY in keys


@pytest.mark.parametrize("number", ["1.5", "9223372036854775807", "1e19", '"1"'])
def test_numbers_in_a_scope_out_of_range_or_fractional_fail(number: str) -> None:
    scope = f'{{"kind":"user_scope","key":"k","template":{{"subs":{number}}}}}'
    message = _account_error(f'"signing_keys":[{scope}]')
    # (the field's path in the text varies: the scope is re-read from a generic map)
    assert re.match(r"^json: cannot unmarshal \w+ into Go struct field \S+ of type int64$", message)


@pytest.mark.parametrize(
    ("template", "json_type", "member"),
    [
        ('{"pub":{"allow":"x"}}', "string", "allow"),
        ('{"bearer_token":"yes"}', "string", "bearer_token"),
        ('{"times":[{"start":1}]}', "number", "start"),
        ('{"src":5}', "number", "src"),
        ('{"allowed_connection_types":"STANDARD"}', "string", "allowed_connection_types"),
    ],
)
def test_scope_template_is_type_checked(template: str, json_type: str, member: str) -> None:
    message = _account_error(f'"signing_keys":[{{"kind":"user_scope","key":"k","template":{template}}}]')
    assert re.match(_type_error(json_type, member), message)


def test_scope_template_src_may_be_a_comma_separated_string() -> None:
    keys = _keys(f'{{"kind":"user_scope","key":"{ACCOUNT2_KEY}","template":{{"src":"10.0.0.0/8, 1.2.3.4"}}}}')
    assert ACCOUNT2_KEY in keys


def test_other_signing_key_elements_are_ignored() -> None:
    keys = _keys(f'1,true,null,[1],{{"kind":"user_scope","key":"k"}},"{ACCOUNT2_KEY}",2.5')
    assert list(keys) == ["k", ACCOUNT2_KEY]
    assert keys["k"] is not None and keys[ACCOUNT2_KEY] is None
    assert _account('"signing_keys":null').signing_keys == {}
    assert _account('"signing_keys":[]').signing_keys == {}


# ---- A.2: CR/LF, padding, lengths ---------------------------------------------------------------------


def test_cr_lf_inside_segments_are_skipped() -> None:
    head, payload, sig = parts(T1)
    for raw in (
        T1 + "\n",
        T1 + "\r\n",
        f"{head}.{payload}.{sig[:10]}\n{sig[10:]}\r",
        f"{head}.{payload}.{sig}\n\n\n",  # 89 characters, but 86 once CR/LF are dropped
    ):
        assert decode_account(raw).claims == decode_account(T1).claims
        assert decode_account(raw).raw == raw
    # in the header or the payload they still decode, but they are part of the signature input
    _raises(f"{head}.{payload[:10]}\n{payload[10:]}.{sig}", _exactly(V2_FAILED))
    _raises(f"{head[:5]}\r{head[5:]}.{payload}.{sig}", _exactly(V2_FAILED))
    _raises("\n" + T1, _exactly(V2_FAILED))
    # ... so a token signed over them verifies
    head_seg, payload_seg = f"{head[:5]}\r\n{head[5:]}", f"{payload[:20]}\n{payload[20:]}"
    signed = pynkeys.from_seed(OPERATOR_SEED.encode()).sign(f"{head_seg}.{payload_seg}".encode())
    tok = decode_account(f"{head_seg}.{payload_seg}.{b64(signed)}")
    assert tok.claims == decode_account(T1).claims and tok.header == {"typ": "JWT", "alg": "ed25519-nkey"}


def test_cr_lf_in_a_v1_payload_is_part_of_its_signature_input() -> None:
    payload_seg = b64(_v1_account_text())
    payload_seg = f"{payload_seg[:7]}\r\n{payload_seg[7:]}"
    sig = pynkeys.from_seed(OPERATOR_SEED.encode()).sign(payload_seg.encode())
    assert decode_account(f"{b64(V1_HEAD)}.{payload_seg}.{b64(sig)}").version == 1
    other = pynkeys.from_seed(OPERATOR_SEED.encode()).sign(payload_seg.replace("\r\n", "").encode())
    _raises(f"{b64(V1_HEAD)}.{payload_seg}.{b64(other)}", _exactly(V1_FAILED))


@pytest.mark.parametrize("where", [0, 1, 2])
def test_padding_is_refused(where: int) -> None:
    segments = parts(T1)
    padded = segments[where] + "=" * (-len(segments[where]) % 4)
    segments[where] = padded
    _raises(".".join(segments), _exactly(f"illegal base64 data at input byte {len(parts(T1)[where])}"))
    segments[where] = "=" + parts(T1)[where]
    _raises(".".join(segments), _exactly("illegal base64 data at input byte 0"))


@pytest.mark.parametrize("where", [0, 1, 2])
def test_length_4k_plus_1_is_refused(where: int) -> None:
    segments = parts(T1)
    extra = (1 - len(segments[where])) % 4  # characters that make the length 4k+1
    segments[where] += "A" * extra
    assert len(segments[where]) % 4 == 1
    _raises(".".join(segments), _exactly(f"illegal base64 data at input byte {len(segments[where]) - 1}"))


def test_lengths_4k_plus_2_and_3_decode() -> None:
    assert len(parts(T1)[0]) % 4 == 2 and len(parts(T1)[1]) % 4 == 3 and len(parts(T1)[2]) % 4 == 2
    assert decode_account(T1).version == 2
    raw = _sign(_account_text(top=',"name":"ab"'))
    assert {len(p) % 4 for p in parts(raw)} <= {0, 2, 3}


def test_base64_error_offset_counts_skipped_cr_lf() -> None:
    head, payload, sig = parts(T1)
    _raises(f"{head}.{payload}.\r\n{sig}=", _exactly(f"illegal base64 data at input byte {len(sig) + 2}"))


# ---- A.1: token size ----------------------------------------------------------------------------------


def test_token_size_limit() -> None:
    limit = 1024 * 1024
    exactly = T1 + "\n" * (limit - len(T1))  # trailing newlines are skipped by the signature's decoder
    assert len(exactly) == limit and decode_account(exactly).claims == decode_account(T1).claims
    too_large = "token size {} exceeds maximum of 1048576 bytes: token too large"
    _raises(exactly + "\n", _exactly(too_large.format(limit + 1)))
    # bytes, not characters, and checked before anything else
    big = "\u00e9" * (limit // 2 + 1)
    _raises(big, _exactly(too_large.format(limit + 2)))


# ---- A.3: header ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        b'{"typ":"jwt","alg":"ed25519-nkey"}',
        b'{"typ":"Jwt","alg":"ED25519"}',
        b'{"TYP":"JWT","ALG":"ed25519"}',
        b'{"typ":"J\\u0057T","alg":"ed25519-nkey"}',
        b'{"typ":"x","alg":"ed25519-nkey","Typ":"JWT"}',  # the last spelling counts
        b'{"typ":"JWT","alg":"ed25519-nkey","kid":[1,{"x":null}],"cty":5}',  # other members ignored
        f'{{"typ":"JWT","alg":"ed25519-n{KELVIN}ey"}}'.encode(),  # the Kelvin sign lower-cases to k
        b' {"typ":"JWT","alg":"ed25519-nkey"}\n',
    ],
)
def test_accepted_headers(header: bytes) -> None:
    tok = decode_account(_sign(_account_text(), header=header))
    assert tok.header["typ"].upper() == "JWT" and tok.header["alg"].lower() in ("ed25519", "ed25519-nkey")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (b'{"typ":"JWT ","alg":"ed25519-nkey"}', 'not supported type "JWT "'),
        (b'{"typ":" JWT","alg":"ed25519-nkey"}', 'not supported type " JWT"'),
        (b'{"typ":"jwt\\n","alg":"ed25519-nkey"}', 'not supported type "jwt\\n"'),
        (b'{"typ":"JWS","alg":"ed25519-nkey"}', 'not supported type "JWS"'),
        (b'{"typ":"","alg":"ed25519-nkey"}', 'not supported type ""'),
        (b'{"typ":null,"alg":"ed25519-nkey"}', 'not supported type ""'),
        (b'{"typ":"JWT","alg":"ed25519-nkey","TYP":"x"}', 'not supported type "x"'),
        (b"null", 'not supported type ""'),
        (b"{}", 'not supported type ""'),
        (b'{"typ":"JWT","alg":"ES256"}', 'unexpected "ES256" algorithm'),
        (b'{"typ":"JWT","alg":"ed25519 "}', 'unexpected "ed25519 " algorithm'),
        (b'{"typ":"JWT","alg":"\\u0000"}', 'unexpected "\\x00" algorithm'),
    ],
)
def test_refused_headers(header: bytes, message: str) -> None:
    _raises(_sign(_account_text(), header=header), _exactly(message))


def test_header_members_must_be_strings() -> None:
    header = b'{"typ":["JWT"],"alg":"ed25519"}'
    _raises(_sign(_account_text(), header=header), _type_error("array", "typ", "string"))
    header = b'{"typ":"JWT","Alg":5}'
    _raises(_sign(_account_text(), header=header), _type_error("number", "alg", "string"))


# ---- A.9: issuer ---------------------------------------------------------------------------------------


def test_cr_lf_inside_the_issuer_key_are_skipped() -> None:
    iss = json.dumps(f"{OPERATOR_KEY[:10]}\r\n{OPERATOR_KEY[10:]}")
    text = f'{{"iss":{iss},"sub":"{ACCOUNT1_KEY}","nats":{{"type":"account","version":2}}}}'
    assert decode_account(_sign(text)).iss == f"{OPERATOR_KEY[:10]}\r\n{OPERATOR_KEY[10:]}"


def test_version_error_only_for_the_four_hosted_kinds() -> None:
    text = f'{{"iss":"{OPERATOR_KEY}","sub":"{ACCOUNT1_KEY}","nats":{{"type":"authorization_request"}}}}'
    with pytest.raises(JWTError) as info:
        decode_account(_sign(text))
    assert "library supports version" not in str(info.value)


# ---- the parser's two paths --------------------------------------------------------------------------

_RICH_NATS = (
    '"description":"d \\u00e9","info_url":"https://x/","tags":["a","b"],'
    '"limits":{"subs":-1,"data":5,"wildcards":true,"tiered_limits":{"R1":{"mem_storage":7,"max_bytes_required":true}}},'
    '"exports":[{"name":"e","subject":"e.>","type":"service","response_type":"Stream","response_threshold":5,'
    '"service_latency":{"sampling":"HEADERS","results":"lat"},"revocations":{"*":3},"account_token_position":2},'
    'null,{"subject":"s.*","type":"stream","advertise":true,"allow_trace":true}],'
    f'"imports":[{{"subject":"i","account":"{ACCOUNT2_KEY}","type":"stream","local_subject":"l","share":true}}],'
    f'"signing_keys":["{ACCOUNT2_KEY}",{{"kind":"user_scope","key":"{ACCOUNT1_KEY}","role":"r",'
    '"template":{"subs":1000,"src":"a, B","pub":{"allow":["p"]},"resp":{"max":1,"ttl":2}}}],'
    '"revocations":{"U":5},"default_permissions":{"pub":{"deny":["x"]},"resp":{"max":3}},'
    '"mappings":{"m":[{"subject":"t","weight":50,"cluster":"c"},null]},'
    f'"authorization":{{"auth_users":["u"],"allowed_accounts":["*"],"xkey":"x"}},"trace":{{"dest":"tr","sampling":9}},'
    '"cluster_traffic":"owner"'
)


def test_fast_and_slow_paths_give_the_same_claims() -> None:
    top = ',"jti":"J","iat":1700000000,"exp":1800000000,"nbf":5,"name":"n","aud":"au"'
    fast_text = _account_text(_RICH_NATS, top)
    slow_text = _account_text(_RICH_NATS, top + ',"name":"n"')  # a repeated name forces the slow path
    assert type(gojson.loads(fast_text.encode())) is dict
    assert isinstance(gojson.loads(slow_text.encode()), gojson.Object)
    fast, slow = decode_account(_sign(fast_text)), decode_account(_sign(slow_text))
    assert fast.claims == slow.claims
    assert peek_claims(fast.raw) == peek_claims(slow.raw)
    claims = fast.account
    assert claims.exports[1] is None and claims.mappings["m"][1].subject == ""
    assert claims.limits.tiered_limits["R1"].mem_storage == 7 and claims.limits.data == 5
    assert claims.exports[0] is not None and claims.exports[0].service_latency is not None
    assert claims.exports[0].service_latency.sampling == 0 and claims.exports[0].account_token_position == 2
    assert set(claims.signing_keys) == {ACCOUNT1_KEY, ACCOUNT2_KEY} and claims.description == "d \u00e9"
    assert claims.trace is not None and (claims.trace.dest, claims.trace.sampling) == ("tr", 9)


@pytest.mark.parametrize("number", ["1000", "1000.0", "1e3", "1E3"])
def test_fast_and_slow_paths_give_the_same_scope_template(number: str) -> None:
    scope = f'{{"kind":"user_scope","key":"{ACCOUNT2_KEY}","template":{{"subs":{number}}}}}'
    fast = _account(f'"signing_keys":[{scope}]').signing_keys[ACCOUNT2_KEY]
    slow = _account(f'"signing_keys":[{scope}]', top=',"name":"n","name":"n"').signing_keys[ACCOUNT2_KEY]
    assert fast == slow
    reference = _account(f'"signing_keys":[{scope.replace(number, "1000")}]').signing_keys[ACCOUNT2_KEY]
    assert fast == reference  # the library reads 1000 whatever the spelling


@pytest.mark.parametrize(
    "nats",
    [
        '"limits":{"subs":1e3}',
        '"limits":{"subs":1.0}',
        f'"limits":{{"subs":{INT64_MAX + 1}}}',
        f'"limits":{{"subs":{10**30}}}',
        '"tags":"x"',
        '"exports":[{"subject":"s","type":"Stream"}]',
        '"signing_keys":[{"Kind":"user_scope"}]',
    ],
)
def test_fast_and_slow_paths_give_the_same_errors(nats: str) -> None:
    fast = _account_error(nats)
    slow = _account_error(nats, top=',"name":"n","name":"n"')
    assert fast == slow


def test_peek_claims_repeated_names_last_wins() -> None:
    raw = _sign(_account_text(top=',"exp":5,"EXP":7,"exp":9'))
    assert decode_account(raw).exp == 9
    assert peek_claims(raw).exp == 9


# ---- A.1: the order of the steps, nesting ----------------------------------------------------------


def test_the_first_failing_step_gives_the_error() -> None:
    head, payload, sig = parts(T1)
    bad_json = b64('{"iat":"x"}')
    _raises(f"{b64('{')}.{payload[:-1]}.=", r"^(?!illegal base64)")  # header before payload and signature
    _raises(f"{head}.{payload}AA.=", _exactly(f"illegal base64 data at input byte {len(payload) + 1}"))
    newer = b64('{"nats":{"type":"account","version":3,"limits":{"subs":"x"}}}')
    _raises(f"{head}.{newer}.=", _exactly("JWT was generated by a newer version "))  # before the types
    cluster = b64('{"nats":{"type":"cluster","version":2,"x":"y"}}')
    _raises(f"{head}.{cluster}.=", _exactly("ClusterClaims are not supported"))
    _raises(f"{head}.{bad_json}.=", _type_error("string", "iat", "int64"))  # typed decode before signature
    _raises(f"{head}.{payload}.{sig}=", _exactly(f"illegal base64 data at input byte {len(sig)}"))
    user_seed, _ = new_keypair("U")
    by_user = encode(account_claims(ACCOUNT1_KEY, "A"), user_seed)
    forged = with_payload(by_user, {**json.loads(unb64(parts(by_user)[1])), "name": "x"})
    _raises(forged, _exactly(V2_FAILED))  # verification before the issuer's role


def test_nesting_up_to_10000_levels() -> None:
    deep = "[" * 9999 + "]" * 9999  # inside the payload object: 10000 levels
    assert decode_account(_sign(_account_text(top=f',"x":{deep}'))).sub == ACCOUNT1_KEY
    _raises(_sign(_account_text(top=f',"x":[{deep}]')), "exceeded max depth")


# ---- C: activation and operator layouts ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "message"),
    [("null", 'unknown export type ""'), ('"Stream"', 'unknown export type "Stream"'), ("1", None)],
)
def test_activation_kind_is_exactly_stream_or_service(kind: str, message: str | None) -> None:
    text = (
        f'{{"iss":"{ACCOUNT1_KEY}","sub":"{ACCOUNT2_KEY}",'
        f'"nats":{{"type":"activation","version":2,"subject":"x","kind":{kind}}}}}'
    )
    _raises(_sign(text, seed=ACCOUNT1_SEED), _exactly(message) if message else _type_error("number", "kind"))


def test_v1_operator_ignores_the_v2_members() -> None:
    text = (
        f'{{"iss":"{OPERATOR_KEY}","sub":"{OPERATOR_KEY}","type":"operator","nats":{{'
        f'"signing_keys":["{OPERATOR_KEY}"],"system_account":"{ACCOUNT1_KEY}",'
        '"assert_server_version":5,"strict_signing_key_usage":"x"}}'
    )
    op = decode_operator(_sign(text, v1=True)).operator
    assert op.signing_keys == [OPERATOR_KEY] and op.system_account == ACCOUNT1_KEY
    assert (op.assert_server_version, op.strict_signing_key_usage, op.version) == ("", False, 1)
    v2 = text.replace('"type":"operator","nats":{', '"nats":{"type":"operator","version":2,')
    _raises(_sign(v2), _type_error("number", "assert_server_version", "string"))


def test_user_claims_are_typed_too() -> None:
    _, user_key = new_keypair("U")
    text = f'{{"iss":"{ACCOUNT1_KEY}","sub":"{user_key}","nats":{{"type":"user","version":2,"subs":"x"}}}}'
    _raises(_sign(text, seed=ACCOUNT1_SEED), _type_error("string", "subs", "int64"), decode_account)
