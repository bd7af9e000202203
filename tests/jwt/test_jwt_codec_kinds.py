"""Kinds we do not host (user, authorization request and response) are decoded with the library's
types and signature rules; the latency `"headers"` literal is judged per value; base64 error offsets."""

from __future__ import annotations

import re

import nkeys as pynkeys
import pytest
from jwt_vectors import ACCOUNT1_KEY, ACCOUNT1_SEED, OPERATOR_KEY, OPERATOR_SEED, T1, b64, parts

from nats_account_server.jwt import JWTError, decode, decode_account, new_keypair

V2_HEAD = b'{"typ":"JWT","alg":"ed25519-nkey"}'


def _sign(payload: str, seed: str = OPERATOR_SEED, *, v1: bool = False) -> str:
    head, body = b64(V2_HEAD), b64(payload)
    signed = body if v1 else f"{head}.{body}"
    return f"{head}.{body}.{b64(pynkeys.from_seed(seed.encode()).sign(signed.encode()))}"


def _error(raw: str) -> str:
    with pytest.raises(JWTError) as info:
        decode(raw)
    return str(info.value)


def _type_error(json_type: str, member: str) -> str:
    return (
        rf"^json: cannot unmarshal {json_type} into Go struct field (\S+\.)?{re.escape(member)} of type .+$"
    )


# ---- user claims ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nats", "json_type", "member"),
    [
        ('"pub":{"allow":"x"}', "string", "allow"),
        ('"src":5', "number", "src"),
        ('"times":[{"start":1}]', "number", "start"),
        ('"bearer_token":"yes"', "string", "bearer_token"),
        ('"issuer_account":5', "number", "issuer_account"),
        ('"allowed_connection_types":"STANDARD"', "string", "allowed_connection_types"),
    ],
)
def test_v2_user_members_are_typed(nats: str, json_type: str, member: str) -> None:
    _, user = new_keypair("U")
    text = f'{{"iss":"{ACCOUNT1_KEY}","sub":"{user}","nats":{{"type":"user","version":2,{nats}}}}}'
    assert re.match(_type_error(json_type, member), _error(_sign(text, ACCOUNT1_SEED)))


def test_v1_user_layout() -> None:
    _, user = new_keypair("U")
    base = f'"iss":"{ACCOUNT1_KEY}","sub":"{user}","type":"user"'
    ok = f'{{{base},"issuer_account":"{ACCOUNT1_KEY}","nats":{{"subs":5,"max":7,"proxy_required":"x"}}}}'
    tok = decode(_sign(ok, ACCOUNT1_SEED, v1=True))  # v1 knows no proxy_required: not type-checked
    assert (tok.kind, tok.version, tok.claims.sub) == ("user", 1, user)
    for bad, member in (('"issuer_account":5', "issuer_account"), ('"nats":{"max":"x"}', "max")):
        text = f"{{{base},{bad}}}"
        assert re.match(_type_error(r"\w+", member), _error(_sign(text, ACCOUNT1_SEED, v1=True)))


def test_valid_user_still_refused_as_an_account() -> None:
    _, user = new_keypair("U")
    text = f'{{"iss":"{ACCOUNT1_KEY}","sub":"{user}","nats":{{"type":"user","version":2,"subs":-1}}}}'
    with pytest.raises(JWTError, match="^not account claim$"):
        decode_account(_sign(text, ACCOUNT1_SEED))


# ---- authorization claims ------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["", ',"version":0', ',"version":-4', ',"version":2'])
def test_authorization_kinds_take_any_version(version: str) -> None:
    server_seed, server = new_keypair("N")
    text = f'{{"iss":"{server}","sub":"x","nats":{{"type":"authorization_request"{version}}}}}'
    v1 = 'version":2' not in version  # version 1 and lower: signed over the payload only
    tok = decode(_sign(text, server_seed, v1=v1))
    assert tok.kind == "authorization_request"
    assert _error(_sign(text, server_seed, v1=not v1)).startswith("claim failed V")


def test_authorization_issuer_roles() -> None:
    text = f'{{"iss":"{OPERATOR_KEY}","nats":{{"type":"authorization_request","version":2}}}}'
    assert _error(_sign(text)) == "unable to validate expected prefixes - [server]"
    text = f'{{"iss":"{OPERATOR_KEY}","nats":{{"type":"authorization_response","version":2}}}}'
    assert _error(_sign(text)) == "unable to validate expected prefixes - [account]"
    text = f'{{"iss":"{ACCOUNT1_KEY}","nats":{{"type":"authorization_response","version":2,"jwt":"j"}}}}'
    assert decode(_sign(text, ACCOUNT1_SEED)).kind == "authorization_response"


@pytest.mark.parametrize(
    ("kind", "nats", "json_type", "member"),
    [
        ("request", '"user_nkey":5', "number", "user_nkey"),
        ("request", '"server_id":{"tags":"t"}', "string", "tags"),
        ("request", '"client_info":{"id":-1}', "number", "id"),
        ("request", '"connect_opts":{"protocol":"1"}', "string", "protocol"),
        ("request", '"client_tls":{"verified_chains":[["a"],"b"]}', "string", "verified_chains"),
        ("request", '"server_id":[]', "array", "server_id"),
        ("response", '"error":false', "bool", "error"),
    ],
)
def test_authorization_members_are_typed(kind: str, nats: str, json_type: str, member: str) -> None:
    server_seed, server = new_keypair("N")
    text = f'{{"iss":"{server}","nats":{{"type":"authorization_{kind}","version":2,{nats}}}}}'
    assert re.match(_type_error(json_type, member), _error(_sign(text, server_seed)))


# ---- the latency "headers" literal ---------------------------------------------------------------


def _account_text(nats: str) -> str:
    return f'{{"iss":"{OPERATOR_KEY}","sub":"{ACCOUNT1_KEY}","nats":{{"type":"account","version":2,{nats}}}}}'


def _sampling(sampling: str, extra: str = "") -> str:
    latency = f'"service_latency":{{"sampling":{sampling},"results":"r"}}'
    return f'"exports":[{{"subject":"s","type":"service",{latency}}}]{extra}'


@pytest.mark.parametrize(
    "extra",
    [
        ',"description":"\\u0068eaders"',
        ',"description":"HEADER\\u0053","tags":["\\u0048eaders"]',
        ',"\\u0068eaders":"\\u0068eaders"',
    ],
)
def test_literal_headers_with_an_escaped_spelling_elsewhere(extra: str) -> None:
    account = decode_account(_sign(_account_text(_sampling('"Headers"', extra)))).account
    latency = account.exports[0].service_latency if account.exports[0] else None
    assert latency is not None and latency.sampling == 0


def test_escaped_headers_in_a_second_export_only() -> None:
    nats = _sampling('"headers"').replace("}]", "},") + '{"subject":"t","type":"service",'
    nats += '"service_latency":{"sampling":"\\u0068eaders","results":"r"}}]'
    message = _error(_sign(_account_text(nats)))
    assert re.match(_type_error("string", "sampling"), message)


def test_escaped_headers_deeply_nested_elsewhere() -> None:
    deep = "[" * 2000 + '"\\u0068eaders"' + "]" * 2000
    account = decode_account(_sign(_account_text(_sampling('"headers"', f',"x":{deep}')))).account
    assert account.exports[0] is not None and account.exports[0].service_latency is not None


# ---- base64 error offsets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("segment", "offset"),
    [("\r\nAA=", 4), ("A\nAAAA", 5), ("AAAAA\n", 5), ("A\r\nA+", 4), ("\n\n\nAAAAA", 7)],
)
def test_offsets_count_the_skipped_cr_lf(segment: str, offset: int) -> None:
    head, payload, _ = parts(T1)
    assert _error(f"{head}.{payload}.{segment}") == f"illegal base64 data at input byte {offset}"


def test_cr_lf_spread_through_the_signature_still_decode() -> None:
    head, payload, sig = parts(T1)
    spread = "\r\n".join(sig[i : i + 10] for i in range(0, len(sig), 10))
    assert decode_account(f"{head}.{payload}.{spread}\n").claims == decode_account(T1).claims
