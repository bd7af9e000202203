"""Decode and verify NATS JWTs as the official JWT library does, step by step.

The steps, in order, the first failure being the error: size (at most 1 MiB), three segments, the
header (base64url, JSON, `typ` JWT in any case, `alg` ed25519 or ed25519-nkey in any case), the
payload (base64url, JSON object or null), the version (v1 when a top-level `type` is set, else
`nats.version`; above 2 refused), the kind (cluster and server claims refused), the typed members,
the signature segment, the Ed25519 check with the issuer key over the version's signature input
(v2: `header.payload`; v1, lower versions and unknown kinds: the payload), the issuer's role, and
the claim kind asked for. Everything a peer can send ends as a `JWTError` with the library's one-line text.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import field
from typing import Any

from nats_account_server.records import record

from . import gofields, gojson
from .claims import ESCAPED_HEADERS
from .escapes import has_escaped_headers, loads_marking_headers
from .gofields import Field, read_int, read_into, read_str, read_strings, schema
from .gojson import DecodeError, Object
from .gotext import go_quote
from .layouts import V2_NATS_NAMES, AccountClaims, ActivationClaims, Claims, OperatorClaims, read_claims
from .nkeys import has_role
from .nkeys import verify as verify_signature

MAX_TOKEN_SIZE = 1024 * 1024
_TYPED_KINDS = ("operator", "account", "user", "activation")
_OTHER_KINDS = ("authorization_request", "authorization_response")
#: Issuer roles allowed per claim type (the library's "expected prefixes"), with their names.
ISSUER_ROLES: dict[str, tuple[tuple[str, ...], str]] = {
    "operator": (("O",), "[operator]"),
    "account": (("A", "O"), "[account operator]"),
    "activation": (("A", "O"), "[account operator]"),
    "user": (("A",), "[account]"),
    "authorization_request": (("N",), "[server]"),
    "authorization_response": (("A",), "[account]"),
}


class JWTError(ValueError):
    """A token that cannot be decoded, verified or is of the wrong kind."""


@record
class Token:
    """A decoded, verified JWT: its raw text, header, version, kind and typed claims (never changed
    after decoding; not frozen because a frozen dataclass costs a microsecond per upload to build)."""

    raw: str
    header: dict[str, str]
    claims: Claims
    version: int
    kind: str
    payload: Any = field(default=None, compare=False)  # the parsed payload, for display

    @property
    def jti(self) -> str:
        return self.claims.jti

    @property
    def iat(self) -> int:
        return self.claims.iat

    @property
    def exp(self) -> int:
        return self.claims.exp

    @property
    def nbf(self) -> int:
        return self.claims.nbf

    @property
    def iss(self) -> str:
        return self.claims.iss

    @property
    def sub(self) -> str:
        return self.claims.sub

    @property
    def name(self) -> str:
        return self.claims.name

    @property
    def account(self) -> AccountClaims:
        assert isinstance(self.claims, AccountClaims)
        return self.claims

    @property
    def activation(self) -> ActivationClaims:
        assert isinstance(self.claims, ActivationClaims)
        return self.claims

    @property
    def operator(self) -> OperatorClaims:
        assert isinstance(self.claims, OperatorClaims)
        return self.claims


# ---------------------------------------------------------------- segments
# `-_` become the standard alphabet's `+/`; `+`, `/` and `=` become a character outside it, so the
# strict decoder refuses them (and CR, LF and any other character) and the slow path names the error
_URLSAFE = bytes.maketrans(b"-_+/=", b"+/!!!")
_PADDING = (b"", b"", b"==", b"=")  # by length % 4 (1 is refused before)
_NOT_B64URL = re.compile(r"[^A-Za-z0-9_\-\r\n]")


def _b64_strict(segment: str) -> bytes | None:
    """The decoded bytes of a segment without CR/LF, or None when it is not valid base64url."""
    if len(segment) % 4 == 1:
        return None
    try:
        data = segment.encode("ascii").translate(_URLSAFE) + _PADDING[len(segment) % 4]
        return binascii.a2b_base64(data, strict_mode=True)
    except (binascii.Error, ValueError):  # UnicodeEncodeError is a ValueError
        return None


def b64decode_segment(segment: str) -> bytes:
    """Unpadded base64url: CR and LF are skipped, `=` and any other character are errors. An error
    names the offset in the segment as received (skipped CR/LF counted): the first character outside
    the alphabet, else, for a length of 4k+1 once CR/LF are dropped, the last character."""
    decoded = _b64_strict(segment)
    if decoded is not None:
        return decoded
    bad = _NOT_B64URL.search(segment)  # before it everything is ASCII: the index is the byte offset
    if bad is not None:
        return _b64_error(bad.start())
    decoded = _b64_strict(segment.replace("\r", "").replace("\n", ""))
    return decoded if decoded is not None else _b64_error(len(segment) - 1)


def _b64_error(at: int) -> bytes:
    raise JWTError(f"illegal base64 data at input byte {at}")


def split_token(raw: str) -> list[str]:
    if not isinstance(raw, str):
        raise JWTError("JWT is not a string")
    parts = raw.split(".")
    if len(parts) != 3:
        raise JWTError("expected 3 chunks")
    return parts


def parse_segment(segment: str) -> Any:
    """A base64url segment parsed as Go JSON (an object or null, else an error)."""
    try:
        value = gojson.loads(b64decode_segment(segment))
    except DecodeError as exc:
        raise JWTError(str(exc)) from None
    if value is not None and not gojson.is_object(value):
        raise JWTError(f"json: cannot unmarshal {gojson.json_type(value)} into Go value of type struct")
    return value


# ---------------------------------------------------------------- header
@record
class _Header:
    """A JWT header: its type and algorithm."""

    typ: str = ""
    alg: str = ""


_HEADER = schema(Field("typ", "typ", read_str), Field("alg", "alg", read_str))
_HEADERS: dict[str, dict[str, str]] = {}  # header segment -> its checked header; nsc writes one or two
_HEADERS_KEPT = 64


def _header(segment: str) -> dict[str, str]:
    known = _HEADERS.get(segment)
    if known is not None:
        return known
    header = _Header()
    _read(parse_segment(segment), header, _HEADER)
    if header.typ.upper() != "JWT":
        raise JWTError(f"not supported type {go_quote(header.typ)}")
    if header.alg.lower() not in ("ed25519", "ed25519-nkey"):
        raise JWTError(f"unexpected {go_quote(header.alg)} algorithm")
    checked = {"typ": header.typ, "alg": header.alg}
    if len(_HEADERS) < _HEADERS_KEPT:
        _HEADERS[segment] = checked
    return checked


# ---------------------------------------------------------------- identification
@record
class _NatsId:
    """The `nats` members that say what a v2 JWT is: type, version, tags."""

    type: str = ""
    version: int = 0
    tags: list[str] = field(default_factory=list)


@record
class _Id:
    """The members that say what a JWT is, whichever its version."""

    type: str = ""
    nats: _NatsId = field(default_factory=_NatsId)


_NATS_ID = schema(
    Field("type", "type", read_str),
    Field("version", "version", read_int),
    Field("tags", "tags", read_strings),
)
_ID = schema(Field("type", "type", read_str), Field("nats", "nats", gofields.structure(_NATS_ID)))


def _read(payload: Any, target: Any, fields: gofields.Schema) -> None:
    """Read a parsed object (None: nothing) into `target`; a type error is the token's decode error."""
    try:
        if payload is not None:
            read_into(payload, target, fields, "claims")
    except DecodeError as exc:
        raise JWTError(str(exc)) from None


_PLAIN_TOP = frozenset(("jti", "iat", "iss", "name", "sub", "exp", "nbf", "aud", "nats"))


def identify(payload: Any) -> tuple[int, str]:
    """(version, kind): v1 when a top-level `type` is set (its value is the kind), else `nats`'s."""
    if type(payload) is dict and payload.keys() <= _PLAIN_TOP:
        # the common v2 shape: only exact member names, so no other name folds onto these
        nats = payload.get("nats")
        if type(nats) is dict and nats.keys() <= V2_NATS_NAMES:
            version, kind = nats.get("version"), nats.get("type")
            if (
                type(version) is int
                and type(kind) is str
                and gofields.INT64[0] <= version <= gofields.INT64[1]
            ):
                return version, kind
    ident = _Id()
    _read(payload, ident, _ID)
    if ident.type:
        return 1, ident.type
    return ident.nats.version, ident.nats.type


def _typed(payload: Any, kind: str, version: int, text: bytes) -> Claims:
    """The typed claims of a known kind; the four hosted by the library take versions 1 and 2 only."""
    if kind in _TYPED_KINDS and version not in (1, 2):
        raise JWTError(f"library supports version 2 or less - received {version}")
    escaped: tuple[str, ...] = ()
    try:
        if kind == "account" and has_escaped_headers(text):  # rare: which "headers" were escaped
            payload, escaped = loads_marking_headers(text)
        token = ESCAPED_HEADERS.set(escaped)
        try:
            return read_claims(payload if payload is not None else Object(), kind, version)
        finally:
            ESCAPED_HEADERS.reset(token)
    except DecodeError as exc:
        raise JWTError(str(exc)) from None
    except RecursionError:  # a deeply nested scope template: Go's generic map would take it, we can't
        raise JWTError("exceeded max depth") from None


def _registered(payload: Any, kind: str, version: int) -> Claims:
    """The registered members of claims we do not host (user, generic), for the issuer checks."""
    claims = Claims(type=kind, version=version)
    _read(payload, claims, _PEEK)
    return claims


_PEEK = schema(
    Field("jti", "jti", read_str),
    Field("iat", "iat", gofields.read_int64),
    Field("iss", "iss", read_str),
    Field("name", "name", read_str),
    Field("sub", "sub", read_str),
    Field("exp", "exp", gofields.read_int64),
    Field("nbf", "nbf", gofields.read_int64),
    Field("aud", "aud", read_str),
)


def decode(raw: str, *, verify: bool = True) -> Token:
    """Decode any claim type; with `verify`, check the signature and the issuer's role."""
    if not isinstance(raw, str):
        raise JWTError("JWT is not a string")
    size = len(raw) if raw.isascii() else len(raw.encode("utf-8", "surrogatepass"))
    if size > MAX_TOKEN_SIZE:
        raise JWTError(f"token size {size} exceeds maximum of {MAX_TOKEN_SIZE} bytes: token too large")
    head_seg, payload_seg, sig_seg = split_token(raw)
    header = _header(head_seg)
    payload_bytes = b64decode_segment(payload_seg)
    try:
        payload = gojson.loads(payload_bytes)
    except DecodeError as exc:
        raise JWTError(str(exc)) from None
    if payload is not None and not gojson.is_object(payload):
        raise JWTError(f"json: cannot unmarshal {gojson.json_type(payload)} into Go value of type map")
    version, kind = identify(payload)
    if version > 2:
        raise JWTError("JWT was generated by a newer version ")
    if kind in ("cluster", "server"):
        raise JWTError(f"{kind.capitalize()}Claims are not supported")
    typed = kind in _TYPED_KINDS or kind in _OTHER_KINDS
    if typed:
        claims = _typed(payload, kind, version, payload_bytes)
    else:  # generic claims: verified over the payload, then refused as the wrong kind
        version = 1
        claims = _registered(payload, kind, version)
    sig = b64decode_segment(sig_seg)
    if verify:
        # v2 signs "header.payload", the start of the token: a slice instead of a join; v1 and lower
        # (authorization claims may say 0) sign the payload
        signed = payload_seg if version <= 1 else raw[: len(head_seg) + 1 + len(payload_seg)]
        if not verify_signature(claims.iss, signed.encode("ascii"), sig):
            raise JWTError(f"claim failed V{1 if version <= 1 else 2} signature verification")
        roles = ISSUER_ROLES.get(kind)
        if roles is not None and not any(has_role(claims.iss, r) for r in roles[0]):
            raise JWTError(f"unable to validate expected prefixes - {roles[1]}")
    return Token(raw=raw, header=header, claims=claims, version=version, kind=kind, payload=payload)


def _decode_kind(raw: str, kind: str) -> Token:
    tok = decode(raw)
    if tok.kind != kind:
        raise JWTError(f"not {kind} claim")
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


def peek_claims(raw: str) -> Claims:
    """The registered members (`jti`, `iat`, `iss`, `sub`, `exp`...) as the library reads them, without
    verification or the rest of the claims: for cheap routing and the newer-wins rule on stored JWTs."""
    try:
        payload = gojson.loads(b64decode_segment(split_token(raw)[1]))
    except DecodeError as exc:
        raise JWTError(str(exc)) from None
    claims = Claims()
    _read(payload, claims, _PEEK)
    return claims
