"""Property tests: no input makes the decoders raise anything but JWTError."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jwt_vectors import OPERATOR_SEED, T1, b64, parts

from nats_account_server.jwt import (
    Claims,
    Issue,
    JWTError,
    Token,
    activation_hash,
    decode,
    decode_account,
    decoded_view,
    gojson,
    is_activation_hash,
    issues_of,
    key_role,
    peek_claims,
)
from nats_account_server.jwt.encode import V2_HEADER, encode_raw

DEADLINE_MS = 2000  # generous: only a hang may fail an example, not a busy shared machine
B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
claim_keys = st.sampled_from(["jti", "iat", "exp", "nbf", "iss", "sub", "name", "type", "nats", "aud", "x"])
nats_keys = st.sampled_from(
    ["type", "version", "imports", "exports", "limits", "signing_keys", "subject", "kind"]
)
claims_strategy = st.dictionaries(
    claim_keys,
    json_values | st.dictionaries(nats_keys, json_values | st.sampled_from(["account", 2, 3]), max_size=6),
    max_size=8,
)


def _check_all(raw: Any) -> None:
    for fn in (decode, decode_account, peek_claims, decoded_view, lambda r: decode(r, verify=False)):
        try:
            result = fn(raw)
        except JWTError as e:
            assert "\n" not in str(e)
            continue
        assert isinstance(result, (Token, Claims, str))


@settings(max_examples=300, deadline=DEADLINE_MS)
@given(st.text(max_size=200))
def test_arbitrary_text(raw: str) -> None:
    _check_all(raw)


@settings(max_examples=300, deadline=DEADLINE_MS)
@given(st.lists(st.text(alphabet=B64_ALPHABET + "=. \n+/", max_size=60), min_size=1, max_size=4))
def test_base64ish_segments(segments: list[str]) -> None:
    _check_all(".".join(segments))


@settings(max_examples=300, deadline=DEADLINE_MS)
@given(st.binary(max_size=80), st.binary(max_size=200), st.binary(max_size=70))
def test_arbitrary_segment_bytes(head: bytes, payload: bytes, sig: bytes) -> None:
    _check_all(f"{b64(head)}.{b64(payload)}.{b64(sig)}")


@settings(max_examples=300, deadline=DEADLINE_MS)
@given(json_values, claims_strategy, st.binary(max_size=70))
def test_arbitrary_json(header: Any, claims: dict[str, Any], sig: bytes) -> None:
    _check_all(f"{b64(json.dumps(header))}.{b64(json.dumps(claims))}.{b64(sig)}")
    _check_all(f"{b64(json.dumps(V2_HEADER))}.{b64(json.dumps(claims))}.{b64(sig)}")


@settings(max_examples=200, deadline=DEADLINE_MS)
@given(claims_strategy)
def test_validation_never_crashes(claims: dict[str, Any]) -> None:
    raw = encode_raw(V2_HEADER, claims, OPERATOR_SEED, v1_signing=False)
    try:
        tok = decode(raw, verify=False)
    except JWTError:
        return
    for issue in issues_of(tok, 1_800_000_000):
        assert isinstance(issue, Issue) and isinstance(issue.text, str) and "\n" not in issue.text
        assert issue.kind in ("blocking", "time", "warning") and issue.blocks == (issue.kind != "warning")


@settings(max_examples=300, deadline=DEADLINE_MS)
@given(
    st.integers(min_value=0, max_value=len(T1) - 1),
    st.characters(),
    st.sampled_from(["replace", "insert", "delete"]),
)
def test_mutated_t1(pos: int, char: str, op: str) -> None:
    if op == "replace":
        raw = T1[:pos] + char + T1[pos + 1 :]
    elif op == "insert":
        raw = T1[:pos] + char + T1[pos:]
    else:
        raw = T1[:pos] + T1[pos + 1 :]
    _check_all(raw)
    try:
        tok = decode(raw)
    except JWTError:
        return
    # a mutation that still verifies can only be a non-canonical spelling of the same bytes
    assert tok.claims == decode(T1).claims
    assert parts(raw)[1:] != parts(T1)[1:] or tok.header == decode(T1).header


@settings(max_examples=200, deadline=DEADLINE_MS)
@given(st.text(max_size=60), st.text(max_size=60), st.text(max_size=60))
def test_activation_hash_any_text(iss: str, sub: str, subject: str) -> None:
    try:
        h = activation_hash(iss, sub, subject)
    except JWTError:
        assert not (iss and sub and subject)
        return
    assert len(h) == 56 and is_activation_hash(h)


@settings(deadline=DEADLINE_MS)
@given(st.text(max_size=80))
def test_key_checks_any_text(s: str) -> None:
    assert key_role(s) in (None, "O", "A", "U", "N", "C", "X")
    assert is_activation_hash(s) in (True, False)


def _outcome(raw: str) -> Any:
    try:
        return decode(raw, verify=False).claims
    except JWTError as e:
        return str(e)


@settings(max_examples=300, deadline=DEADLINE_MS)
@given(claims_strategy)
def test_fast_and_slow_parser_paths_agree(claims: dict[str, Any]) -> None:
    text = json.dumps(claims, separators=(",", ":"))
    repeated = text[:-1] + ("," if claims else "") + '"zz":0,"zz":0}'  # a repeated name: the slow path
    try:
        assert not isinstance(gojson.loads(repeated.encode()), dict)
    except gojson.DecodeError:
        pass  # not JSON (an infinity): both paths must fail alike
    head = b64(json.dumps(V2_HEADER))
    fast, slow = (
        _outcome(f"{head}.{b64(text)}.{b64(bytes(64))}"),
        _outcome(f"{head}.{b64(repeated)}.{b64(bytes(64))}"),
    )
    assert fast == slow
