"""Decoded view (SPEC 5.5)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jwt_vectors import ACCOUNT1_KEY, ACCOUNT1_SEED, ACCOUNT2_KEY, OPERATOR_SEED, T1, parts, seg, with_payload

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
    '        "default_permissions": {\n'
    '            "pub": {},\n'
    '            "sub": {}\n'
    "        },\n"
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


def test_exp_rewrite_and_last_member_untouched() -> None:
    claims = account_claims(ACCOUNT1_KEY, "A", exp=1700086400, iat=1700000000)
    claims["nats"]["x"] = {"iat": 1700000000}
    view = decoded_view(encode(claims, OPERATOR_SEED))
    assert '    "exp": 1700086400 (2023-11-15),\n' in view
    assert '            "iat": 1700000000\n' in view  # last in its object: unchanged


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


@pytest.mark.parametrize("token", ["garbage", "http://127.0.0.1:1/jwt/v1/activations/x", "a.b.c"])
def test_bad_embedded_token(token: str) -> None:
    view = decoded_view(
        _with_imports([{"subject": "foo", "account": ACCOUNT1_KEY, "token": token, "type": "stream"}])
    )
    line = next(line for line in view.splitlines() if '"token":' in line)
    assert line.startswith('                "token": <bad token - ') and line.endswith(">,")


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
    "raw",
    [
        "",
        "x",
        "a.b",
        T1 + "\n",
        f"{seg([1])}.{parts(T1)[1]}.{parts(T1)[2]}",
        f"{parts(T1)[0]}.e30x.{parts(T1)[2]}",
        f"{parts(T1)[0]}.{parts(T1)[1]}.a=b",
    ],
)
def test_undecodable(raw: str) -> None:
    with pytest.raises(JWTError):
        decoded_view(raw)


def test_header_members_not_sorted() -> None:
    raw = encode_raw(
        {"typ": "JWT", "alg": "ed25519-nkey", "a": 1}, {"sub": "x"}, OPERATOR_SEED, v1_signing=False
    )
    assert decoded_view(raw).startswith(
        '{\n    "typ": "JWT",\n    "alg": "ed25519-nkey",\n    "a": 1\n}\n\r\n'
    )
    assert V1_HEADER != V2_HEADER
