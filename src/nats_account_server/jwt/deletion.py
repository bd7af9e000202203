"""Delete requests: the generic-claims JWT nsc and operators send to have accounts deleted.

A delete request is a JWT of generic claims (no claim type) whose `nats` object carries
`accounts`, the list of account keys to delete; nats-server's full resolver reads it with the JWT
library's generic decoder. That decoder differs from the typed one in one point that matters here:
the header's `alg` chooses the signature input (`ed25519`, the v1 algorithm: the payload only;
anything else: `header.payload`, as v2 signs), not the claims' version. `nats` is read as a map, so
its member names are exact (`Accounts` is not `accounts`), while the top-level names match in any
case as always. This module decodes and verifies such a token; who may sign one and what it may
name is the acceptance layer's business (core/acceptance.py).
"""

from __future__ import annotations

import time
from typing import Any

from nats_account_server.records import record

from . import gojson
from .codec import _PEEK as _REGISTERED
from .codec import MAX_TOKEN_SIZE, JWTError, _header, _read, b64decode_segment, split_token
from .encode import claims_hash, encode_raw, public_key_of
from .layouts import Claims
from .nkeys import verify as verify_signature

__all__ = ["DeleteRequest", "decode_delete_request", "delete_request"]

V1_ALG = "ed25519"
MALFORMED = "malformed request"


@record(frozen=True)
class DeleteRequest:
    """A verified delete request: who signed it (`iss`, `sub`), its `jti` and `iat`, the signature
    generation (1: payload signed, 2: header and payload), and the `nats.accounts` value as sent
    (None when absent; any JSON value: the acceptance layer says whether it is a list of keys)."""

    iss: str
    sub: str
    jti: str
    iat: int
    version: int
    accounts: Any
    raw: str


def _nats_map(payload: Any) -> dict[str, Any]:
    """The `nats` object as Go's map holds it: the top-level name in any case (last one wins, as a
    repeated member merges key by key into one map), its own names exact, the last repeat winning."""
    data: dict[str, Any] = {}
    if payload is None:
        return data
    for name, value in gojson.members(payload):
        if gojson.fold(name) != "nats" or value is None:
            continue
        if not gojson.is_object(value):
            raise JWTError(f"json: cannot unmarshal {gojson.json_type(value)} into Go value of type map")
        for inner, item in gojson.members(value):
            data[inner] = item
    return data


def decode_delete_request(raw: str) -> DeleteRequest:
    """Decode and verify a delete request as the generic decoder does; raises JWTError."""
    if not isinstance(raw, str):
        raise JWTError("JWT is not a string")
    size = len(raw.encode("utf-8", "surrogatepass"))
    if size > MAX_TOKEN_SIZE:
        raise JWTError(f"token size {size} exceeds maximum of {MAX_TOKEN_SIZE} bytes: token too large")
    head_seg, payload_seg, sig_seg = split_token(raw)
    header = _header(head_seg)
    try:
        payload = gojson.loads(b64decode_segment(payload_seg))
    except gojson.DecodeError as exc:
        raise JWTError(str(exc)) from None
    if payload is not None and not gojson.is_object(payload):
        raise JWTError(f"json: cannot unmarshal {gojson.json_type(payload)} into Go value of type struct")
    claims = Claims()
    _read(payload, claims, _REGISTERED)
    data = _nats_map(payload)
    sig = b64decode_segment(sig_seg)
    v1 = header["alg"] == V1_ALG
    signed = payload_seg if v1 else raw[: len(head_seg) + 1 + len(payload_seg)]
    if not claims.iss or not verify_signature(claims.iss, signed.encode("ascii"), sig):
        raise JWTError(f"claim failed V{1 if v1 else 2} signature verification")
    return DeleteRequest(
        iss=claims.iss,
        sub=claims.sub,
        jti=claims.jti,
        iat=claims.iat,
        version=1 if v1 else 2,
        accounts=data.get("accounts"),
        raw=raw,
    )


V1_HEADER = {"typ": "jwt", "alg": V1_ALG}
V2_HEADER = {"typ": "JWT", "alg": "ed25519-nkey"}


def delete_request(accounts: list[str], seed: str, *, version: int = 2, **extra: Any) -> str:
    """A delete request for `accounts` signed with `seed` (subject = issuer, as nsc makes it);
    `extra` members override or add top-level claims (for odd requests in tests)."""
    pub = public_key_of(seed)
    claims: dict[str, Any] = {"iat": int(time.time()), "iss": pub, "sub": pub, "nats": {"accounts": accounts}}
    claims.update(extra)
    if "jti" not in claims:
        claims = {"jti": claims_hash(claims), **claims}
    return encode_raw(V1_HEADER if version == 1 else V2_HEADER, claims, seed, v1_signing=version == 1)
