"""Decode and verify NATS JWTs (v1 and v2 claims), SPEC 1.1.

Everything an untrusted peer can send goes through here, so every malformed input must end up as a
`JWTError` with a short one-line message, never another exception.
"""

from __future__ import annotations

import binascii
import json
from dataclasses import dataclass
from typing import Any

import orjson

from .nkeys import key_role
from .nkeys import verify as verify_signature

_ALGORITHMS = ("ed25519", "ed25519-nkey")
_UNSUPPORTED_KINDS = ("cluster", "server")
_INT64 = (-(2**63), 2**63 - 1)
#: Issuer roles allowed per claim type (the JWT library's "expected prefixes").
ISSUER_ROLES: dict[str, tuple[str, ...]] = {
    "operator": ("O",),
    "account": ("O", "A"),
    "activation": ("A", "O"),
    "user": ("A",),
}


class JWTError(ValueError):
    """A token that cannot be decoded, verified or is of the wrong kind."""


@dataclass(frozen=True, slots=True)
class Token:
    """A decoded JWT; `claims` is the payload object as sent (all members kept)."""

    raw: str
    header: dict[str, Any]
    claims: dict[str, Any]
    version: int

    def _int(self, name: str) -> int:
        value = self.claims.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    def _str(self, name: str) -> str:
        value = self.claims.get(name)
        return value if isinstance(value, str) else ""

    @property
    def jti(self) -> str:
        return self._str("jti")

    @property
    def iat(self) -> int:
        return self._int("iat")

    @property
    def exp(self) -> int:
        return self._int("exp")

    @property
    def nbf(self) -> int:
        return self._int("nbf")

    @property
    def iss(self) -> str:
        return self._str("iss")

    @property
    def sub(self) -> str:
        return self._str("sub")

    @property
    def name(self) -> str:
        return self._str("name")

    @property
    def nats(self) -> dict[str, Any]:
        value = self.claims.get("nats")
        return value if isinstance(value, dict) else {}

    @property
    def kind(self) -> str:
        """Claim type: top-level `type` for v1, `nats.type` for v2."""
        if self.version == 1:
            return self._str("type")
        value = self.nats.get("type")
        return value if isinstance(value, str) else ""


def _short(value: object) -> str:
    """Quote a peer-supplied value for an error message without letting it grow the line."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return repr(text if len(text) <= 40 else text[:40] + "...")


_URLSAFE = bytes.maketrans(b"-_", b"+/")
_PADDING = (b"", b"", b"==", b"=")  # by length % 4 (1 is rejected before)
_HEADERS: dict[str, dict[str, Any]] = {}  # header segment -> its checked header; nsc writes one or two
_HEADERS_KEPT = 64


def b64decode_segment(segment: str, what: str) -> bytes:
    """Strict unpadded base64url: `=`, whitespace and other characters are errors (SPEC 1.1)."""
    # `+`, `/` and `=` would pass the standard alphabet below; anything else outside it fails there
    if len(segment) % 4 == 1 or "+" in segment or "/" in segment or "=" in segment:
        raise JWTError(f"invalid base64url in {what}")
    try:
        data = segment.encode("ascii").translate(_URLSAFE) + _PADDING[len(segment) % 4]
        return binascii.a2b_base64(data, strict_mode=True)
    except (binascii.Error, ValueError) as e:  # UnicodeEncodeError is a ValueError
        raise JWTError(f"invalid base64url in {what}") from e


def json_object_segment(segment: str, what: str) -> dict[str, Any]:
    """Decode one segment as a JSON object. orjson is strict like Go's decoder (no NaN/Infinity,
    UTF-8 only, no lone surrogates) and a third of the stdlib's time on every upload and first load."""
    try:
        value = orjson.loads(b64decode_segment(segment, what))
    except orjson.JSONDecodeError as e:  # also invalid UTF-8 and nesting beyond its recursion limit
        raise JWTError(f"invalid JSON in {what}") from e
    if not isinstance(value, dict):
        raise JWTError(f"{what} is not a JSON object")
    return value


def split_token(raw: str) -> list[str]:
    if not isinstance(raw, str):
        raise JWTError("JWT is not a string")
    parts = raw.split(".")
    if len(parts) != 3:
        raise JWTError("expected 3 JWT segments")
    return parts


def peek_claims(raw: str) -> dict[str, Any]:
    """Payload JSON without header checks or verification: for cheap routing (e.g. file watching)."""
    return json_object_segment(split_token(raw)[1], "payload")


def _check_header(header: dict[str, Any]) -> None:
    typ, alg = header.get("typ"), header.get("alg")
    if not isinstance(typ, str) or typ.lower() != "jwt":
        raise JWTError(f"not supported type {_short(typ)}")
    if not isinstance(alg, str) or alg.lower() not in _ALGORITHMS:
        raise JWTError(f"unexpected {_short(alg)} algorithm")


def _check_claim_types(claims: dict[str, Any]) -> None:
    """Members the server relies on must have the types Go's decoder would insist on."""
    for name in ("jti", "iss", "sub", "name"):
        value = claims.get(name)
        if value is not None and not isinstance(value, str):
            raise JWTError(f"claim {name} is not a string")
    for name in ("iat", "exp", "nbf"):
        value = claims.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not _INT64[0] <= value <= _INT64[1]:
            raise JWTError(f"claim {name} is not an integer")
    nats = claims.get("nats")
    if nats is not None and not isinstance(nats, dict):
        raise JWTError("claim nats is not an object")


def _version_and_kind(claims: dict[str, Any]) -> tuple[int, str]:
    """v1 iff a top-level `type` is present (as the Go library decides), else `nats.version` 2."""
    top = claims.get("type")
    if top is not None and top != "":
        if not isinstance(top, str):
            raise JWTError("claim type is not a string")
        return 1, top
    nats = claims.get("nats") or {}
    version = nats.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise JWTError("missing claim type or version")
    if version > 2:
        raise JWTError("JWT was generated by a newer version")
    if version != 2:
        raise JWTError(f"unsupported claim version {version}")
    kind = nats.get("type")
    if not isinstance(kind, str) or not kind:
        raise JWTError("missing claim type")
    return 2, kind


def decode(raw: str, *, verify: bool = True) -> Token:
    """Decode any claim type; with `verify`, check the issuer key and the version's signature input."""
    head_seg, payload_seg, sig_seg = split_token(raw)
    header = _HEADERS.get(head_seg)
    if header is None:
        header = json_object_segment(head_seg, "header")
        _check_header(header)
        if len(_HEADERS) < _HEADERS_KEPT:
            _HEADERS[head_seg] = header
    claims = json_object_segment(payload_seg, "payload")
    _check_claim_types(claims)
    version, kind = _version_and_kind(claims)
    if kind in _UNSUPPORTED_KINDS:
        raise JWTError(f"{kind} claims are not supported")
    sig = b64decode_segment(sig_seg, "signature")
    if verify:
        role = key_role(claims.get("iss", ""))
        if role is None:
            raise JWTError("issuer is not a valid public key")
        allowed = ISSUER_ROLES.get(kind)
        if allowed is not None and role not in allowed:
            raise JWTError(f"issuer role {role} not allowed for {kind} claims")
        signed = payload_seg if version == 1 else f"{head_seg}.{payload_seg}"
        if not verify_signature(claims["iss"], signed.encode("ascii"), sig):
            raise JWTError(f"claim failed V{version} signature verification")
    return Token(raw=raw, header=header, claims=claims, version=version)


def _decode_kind(raw: str, kind: str) -> Token:
    tok = decode(raw)
    if tok.kind != kind:
        raise JWTError(f"expected {kind} claims, got {_short(tok.kind)}")
    return tok


def decode_account(raw: str) -> Token:
    """Signature-verified account JWT issued by an operator (or self-signed) key."""
    return _decode_kind(raw, "account")


def decode_activation(raw: str) -> Token:
    """Signature-verified activation JWT issued by an account (or operator) key."""
    return _decode_kind(raw, "activation")


def decode_operator(raw: str) -> Token:
    """Signature-verified operator JWT issued by an operator key."""
    return _decode_kind(raw, "operator")
