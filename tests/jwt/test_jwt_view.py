"""Decoded view: the claims as the JWT library reads them (Go JSON rules, v1 layout, what decoding leaves)."""

from __future__ import annotations

import json
from typing import Any

import nkeys as pynkeys
import pytest
from jwt_vectors import (
    ACCOUNT1_KEY,
    ACCOUNT1_SEED,
    ACCOUNT2_KEY,
    OPERATOR_KEY,
    OPERATOR_SEED,
    T1,
    b64,
    parts,
    seg,
    with_header,
    with_payload,
)

from nats_account_server.jwt import JWTError, account_claims, activation_claims, decoded_view, encode
from nats_account_server.jwt.encode import V1_HEADER, V2_HEADER, encode_raw

T1_VIEW = (
    "{\n"
    '    "typ": "JWT",\n'
    '    "alg": "ed25519-nkey"\n'
    "}\n"
    "\r\n"
    "{\n"
    '    "iat": 1700000000 (2023-11-14),\n'
    '    "iss": "OCFIRY65OQE7DFP5KLNS2PF2LVZMUZYJX4OZIEQ36N2IQANUB5XVYOCS",\n'
    '    "jti": "ASXHXO5626ANVZCQ32M47JM5QJFC7HVHMQB4KPK5VN6AITMVG3XA",\n'
    '    "name": "A",\n'
    '    "nats": {\n'
    '        "limits": {\n'
    '            "conn": -1,\n'
    '            "data": -1,\n'
    '            "exports": -1,\n'
    '            "imports": -1,\n'
    '            "leaf": -1,\n'
    '            "payload": -1,\n'
    '            "subs": -1,\n'
    '            "wildcards": true\n'
    "        },\n"
    '        "type": "account",\n'
    '        "version": 2\n'
    "    },\n"
    '    "sub": "ACATS5YOVB6ROX2WUNKGNQ2MP3GMXDMKSG2O4N5CLX3A6W4PZGZZIL2R"\n'
    "}\n"
    "\r\n"
    "G_FqQkaR9z58GaPRj2GSTXwt1al2NEzyoj4UE2NGyNVE--fLfnTN-jBkFbnALUSJF1DyBSzVqIhaC0sFJo1JCQ\n"
)


def _claims_part(view: str) -> str:
    return view.split("\r\n")[1]


def test_t1_view_exact() -> None:
    assert decoded_view(T1) == T1_VIEW


def test_no_signature_verification() -> None:
    claims = json.loads(_claims_part(T1_VIEW).replace(" (2023-11-14)", ""))
    forged = with_payload(T1, {**claims, "name": "forged"})
    assert '"name": "forged",' in decoded_view(forged)


def _signed(
    payload: str | bytes, header: bytes = b'{"typ":"JWT","alg":"ed25519-nkey"}', v1: bool = False
) -> str:
    head_seg, payload_seg = b64(header), b64(payload)
    signed = payload_seg if v1 else f"{head_seg}.{payload_seg}"
    return f"{head_seg}.{payload_seg}.{b64(pynkeys.from_seed(OPERATOR_SEED.encode()).sign(signed.encode()))}"


def _account_text(nats: str = "", top: str = "") -> str:
    inner = '"type":"account","version":2' + (f",{nats}" if nats else "")
    return f'{{"iss":"{OPERATOR_KEY}","sub":"{ACCOUNT1_KEY}"{top},"nats":{{{inner}}}}}'


def test_dates_follow_iat_and_exp() -> None:
    claims = account_claims(ACCOUNT1_KEY, "A", exp=1700086400, iat=1700000000)
    view = decoded_view(encode(claims, OPERATOR_SEED))
    assert '    "exp": 1700086400 (2023-11-15),\n' in view
    assert '    "iat": 1700000000 (2023-11-14),\n' in view


def test_hidden_spellings_show_as_the_member_the_library_applies() -> None:
    view = decoded_view(
        _signed(_account_text(top=',"EXP":1700086400,"name":"a","Name":"b","nbf":1,"NBF":null'))
    )
    assert '    "exp": 1700086400 (2023-11-15),\n' in view and '"EXP"' not in view
    assert '    "name": "b",\n' in view and '"Name"' not in view
    assert '    "nbf": 1,\n' in view  # null left it as it was


def test_unknown_members_are_dropped_and_repeated_members_merged() -> None:
    nats = (
        '"x":{"iat":1700000000},"limits":{"subs":1,"zz":2},"LIMITS":{"data":3},'
        '"exports":[{"subject":"a b","type":"stream"}],"exports":[{"name":"n"}]'
    )
    claims = json.loads(_claims_part(decoded_view(_signed(_account_text(nats)))))
    assert claims["nats"]["limits"] == {"subs": 1, "data": 3}
    assert claims["nats"]["exports"] == [{"name": "n", "subject": "a b", "type": "stream"}]
    assert "x" not in claims["nats"]


def test_replacement_characters_and_nulls_in_lists() -> None:
    payload = _account_text('"tags":["t",null],"exports":[null]', top=',"name":"a\\ud800"').encode()
    payload = payload.replace(b'"t"', b'"t\xff"')
    claims = json.loads(_claims_part(decoded_view(_signed(payload))))
    assert claims["name"] == "a\ufffd"
    assert claims["nats"]["tags"] == ["t\ufffd", ""] and claims["nats"]["exports"] == [None]


def test_signing_keys_show_plain_and_scoped() -> None:
    scope = f'{{"kind":"user_scope","key":"{ACCOUNT2_KEY}","role":"r"}}'
    nats = f'"signing_keys":["{ACCOUNT1_KEY}"],"signing_keys":[{scope},5]'
    claims = json.loads(_claims_part(decoded_view(_signed(_account_text(nats)))))
    assert claims["nats"]["signing_keys"] == [
        ACCOUNT1_KEY,
        # a scope is held with its template, whose absent limits read as -1 (no limit)
        {
            "key": ACCOUNT2_KEY,
            "kind": "user_scope",
            "role": "r",
            "template": {"subs": -1, "data": -1, "payload": -1},
        },
    ]


def test_scope_template_shows_as_read() -> None:
    template = '"template":{"subs":1e3,"src":"A, b","zz":1}'
    nats = f'"signing_keys":[{{"kind":"user_scope","key":"{ACCOUNT2_KEY}",{template}}}]'
    claims = json.loads(_claims_part(decoded_view(_signed(_account_text(nats)))))
    shown = claims["nats"]["signing_keys"][0]["template"]
    assert shown["subs"] == 1000 and shown["data"] == shown["payload"] == -1
    assert shown["src"] == ["a", "b"] and "zz" not in shown


def test_v1_by_nats_version_shows_the_v1_layout() -> None:
    payload = (
        f'{{"iss":"{OPERATOR_KEY}","sub":"{ACCOUNT1_KEY}","nats":{{"type":"account","version":1,'
        '"limits":{"subs":2,"mem_storage":"x"},"description":5}}'
    )
    claims = json.loads(_claims_part(decoded_view(_signed(payload, v1=True))))
    # v1 reads the type at the top, where there is none; JetStream limits and the description are not read
    assert "type" not in claims and claims["nats"] == {"limits": {"subs": 2}}


def test_v1_top_level_type_kept_and_unicode_unescaped() -> None:
    claims = account_claims(ACCOUNT1_KEY, "Zürich <&>", version=1, iat=1)
    view = decoded_view(encode(claims, OPERATOR_SEED, version=1))
    assert '    "type": "account"\n' in view
    assert '"name": "Zürich <&>",' in view
    assert '"typ": "jwt",' in view and '"alg": "ed25519"' in view


def _with_imports(imports: list[dict[str, Any]]) -> str:
    return encode(account_claims(ACCOUNT2_KEY, "B", imports=imports, iat=1700000000), OPERATOR_SEED)


def test_embedded_token_is_expanded() -> None:
    act = encode(activation_claims(ACCOUNT2_KEY, "foo.>", iat=1700000000), ACCOUNT1_SEED)
    view = decoded_view(
        _with_imports([{"subject": "foo.>", "account": ACCOUNT1_KEY, "token": act, "type": "stream"}])
    )
    assert act not in view
    lines = view.splitlines()
    start = lines.index('                "token": {')
    assert lines[start + 1] == '                    "iat": 1700000000 (2023-11-14),'
    assert '                        "subject": "foo.>",' in lines[start:]
    assert lines[start:].index("                },") > 5


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("garbage", "expected 3 chunks"),
        ("http://127.0.0.1:1/jwt/v1/activations/x", "expected 3 chunks"),  # never fetched
        ("a.b.c", "illegal base64 data at input byte 0"),
        (T1, "not activation claim"),
    ],
)
def test_bad_embedded_token(token: str, message: str) -> None:
    view = decoded_view(
        _with_imports([{"subject": "foo", "account": ACCOUNT1_KEY, "token": token, "type": "stream"}])
    )
    line = next(line for line in view.splitlines() if '"token":' in line)
    assert line == f'                "token": <bad token - {message}>,'


def test_embedded_v1_activation_is_expanded_in_its_layout() -> None:
    act = encode(activation_claims(ACCOUNT2_KEY, "foo.>", "service", version=1), ACCOUNT1_SEED, version=1)
    view = decoded_view(
        _with_imports([{"subject": "foo.>", "account": ACCOUNT1_KEY, "token": act, "type": "service"}])
    )
    lines = view.splitlines()
    start = lines.index('                "token": {')
    assert '                        "type": "service"' in lines[start:]  # v1 names the import kind `type`
    assert '                    "type": "activation"' in lines[start:]


def test_embedded_forged_token_is_bad() -> None:
    act = encode(activation_claims(ACCOUNT2_KEY, "foo"), ACCOUNT1_SEED)
    head, _, sig = parts(act)
    payload = seg({"iss": ACCOUNT1_KEY, "sub": ACCOUNT2_KEY, "nats": {"type": "activation", "version": 2}})
    forged = f"{head}.{payload}.{sig}"
    view = decoded_view(
        _with_imports([{"subject": "foo", "account": ACCOUNT1_KEY, "token": forged, "type": "stream"}])
    )
    assert '"token": <bad token - claim failed V2 signature verification>,' in view


def test_ends_with_newline_and_has_three_parts() -> None:
    view = decoded_view(T1)
    assert view.endswith(parts(T1)[2] + "\n")
    assert view.count("\r\n") == 2


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "expected 3 chunks"),
        ("x", "expected 3 chunks"),
        ("a.b", "expected 3 chunks"),
        (f"{seg([1])}.{parts(T1)[1]}.{parts(T1)[2]}", "json: cannot unmarshal array"),
        (f"{parts(T1)[0]}.e30x.{parts(T1)[2]}", None),
        (f"{parts(T1)[0]}.{parts(T1)[1]}.a=b", "illegal base64 data at input byte 1"),
        (
            f"{parts(T1)[0]}.{parts(T1)[1]}=.{parts(T1)[2]}",
            f"illegal base64 data at input byte {len(parts(T1)[1])}",
        ),
        (
            f"{parts(T1)[0]}.{parts(T1)[1]}AA.{parts(T1)[2]}",
            f"illegal base64 data at input byte {len(parts(T1)[1]) + 1}",
        ),
        (
            with_payload(T1, {"nats": {"type": "account", "version": 3}}),
            "JWT was generated by a newer version ",
        ),
        (with_payload(T1, {"nats": {"type": "cluster", "version": 2}}), "ClusterClaims are not supported"),
        (
            with_payload(T1, {"nats": {"type": "account", "limits": {"subs": "1"}, "version": 2}}),
            "json: cannot",
        ),
        (with_header(T1, {"typ": "JWT ", "alg": "ed25519-nkey"}), 'not supported type "JWT "'),
    ],
)
def test_undecodable(raw: str, message: str | None) -> None:
    with pytest.raises(JWTError) as info:
        decoded_view(raw)
    assert message is None or str(info.value).startswith(message)


def test_trailing_newline_decodes() -> None:
    # the newline is skipped by the signature's base64 decoder and stays in the signature part shown
    assert decoded_view(T1 + "\n") == T1_VIEW + "\n"


def test_header_shows_typ_and_alg_as_read() -> None:
    raw = encode_raw(
        {"typ": "JWT", "alg": "ed25519-nkey", "a": 1}, {"sub": "x"}, OPERATOR_SEED, v1_signing=False
    )
    # other members are ignored; typ and alg keep their order (not sorted) and their spelling
    assert decoded_view(raw).startswith('{\n    "typ": "JWT",\n    "alg": "ed25519-nkey"\n}\n\r\n')
    raw = encode_raw({"ALG": "ed25519", "Typ": "jwt"}, {"sub": "x"}, OPERATOR_SEED, v1_signing=True)
    assert decoded_view(raw).startswith('{\n    "typ": "jwt",\n    "alg": "ed25519"\n}\n\r\n')
    assert V1_HEADER != V2_HEADER
