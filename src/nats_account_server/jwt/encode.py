"""Mint NATS JWTs (v1 and v2) for tests, benchmarks and tooling; the server itself never signs.

Output mirrors the Go JWT library (member order, compact JSON, jti = SHA-512/256 of the standard
claims) so that Appendix B's T1 can be reproduced byte for byte from its claims and seed.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import json
import os
import time
from typing import TYPE_CHECKING, Any

from .nkeys import PREFIXES

if TYPE_CHECKING:  # the nkeys package imports all of PyNaCl: imported by the first signing only
    import nkeys

V2_HEADER: dict[str, str] = {"typ": "JWT", "alg": "ed25519-nkey"}
V1_HEADER: dict[str, str] = {"typ": "jwt", "alg": "ed25519"}
#: Go's ClaimsData field order; members not listed follow in insertion order.
CLAIMS_ORDER = ("aud", "exp", "jti", "iat", "iss", "name", "nbf", "sub", "tags", "type")
_HASHED = ("aud", "exp", "iat", "iss", "name", "nbf", "sub")
DEFAULT_ACCOUNT_LIMITS: dict[str, Any] = {
    "subs": -1,
    "data": -1,
    "payload": -1,
    "imports": -1,
    "exports": -1,
    "wildcards": True,
    "conn": -1,
    "leaf": -1,
}
_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def to_json(obj: Any) -> str:
    """Compact JSON escaped like Go's encoding/json (HTML characters, line separators)."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in _GO_ESCAPES.items():
        text = text.replace(char, escaped)
    return text


def new_keypair(role: str) -> tuple[str, str]:
    """A fresh random (seed, public key) pair for role "O", "A", "U", "N" or "C"."""
    if role not in PREFIXES or role == "X":  # curve keys are not signing keys
        raise ValueError(f"unknown key role {role!r}")
    import nkeys

    seed = nkeys.encode_seed(os.urandom(32), PREFIXES[role]).decode("ascii")
    return seed, public_key_of(seed)


@functools.lru_cache(maxsize=1024)
def _keypair(seed: str) -> nkeys.KeyPair:
    import nkeys

    try:
        return nkeys.from_seed(seed.encode("ascii"))
    except (nkeys.NkeysError, ValueError, UnicodeError) as e:
        raise ValueError("invalid seed") from e


def public_key_of(seed: str) -> str:
    """Public key ("O...", "A...", ...) of a seed."""
    key: bytes = _keypair(seed).public_key
    return key.decode("ascii")


def claims_hash(claims: dict[str, Any], *, extra: tuple[str, ...] = ()) -> str:
    """Go's jti: unpadded base32 of SHA-512/256 over the non-empty standard claims (jti omitted)."""
    std = {k: claims[k] for k in _HASHED + extra if claims.get(k)}
    digest = hashlib.new("sha512_256", to_json(std).encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii").rstrip("=")


def _ordered(claims: dict[str, Any]) -> dict[str, Any]:
    out = {k: claims[k] for k in CLAIMS_ORDER if claims.get(k) is not None}
    out.update((k, v) for k, v in claims.items() if k not in out and v is not None)
    return out


def encode_raw(header: dict[str, Any], claims: dict[str, Any], seed: str, *, v1_signing: bool) -> str:
    """Serialize and sign exactly what is given (no fills): for crafting odd tokens in tests."""
    head_seg = _b64(to_json(header).encode("utf-8"))
    payload_seg = _b64(to_json(claims).encode("utf-8"))
    signed = payload_seg if v1_signing else f"{head_seg}.{payload_seg}"
    sig = _keypair(seed).sign(signed.encode("ascii"))
    return f"{head_seg}.{payload_seg}.{_b64(sig)}"


def to_layout(claims: dict[str, Any], version: int) -> dict[str, Any]:
    """Convert between v1 (top-level `type`) and v2 (`nats.type` + `nats.version`) claim layouts."""
    out = copy.deepcopy(claims)
    nats = out.get("nats")
    nats = dict(nats) if isinstance(nats, dict) else {}
    if version == 2:
        if "type" in out:
            kind = out.pop("type")
            if kind == "activation" and "type" in nats:
                nats["kind"] = nats.pop("type")
            nats["type"] = kind
        if "issuer_account" in out:  # v1 reads it at the top, v2 in `nats`
            nats.setdefault("issuer_account", out.pop("issuer_account"))
        nats.setdefault("version", 2)
    elif version == 1:
        if "type" not in out and "type" in nats:
            out["type"] = nats.pop("type")
            if out["type"] == "activation" and "kind" in nats:
                nats["type"] = nats.pop("kind")
        if "issuer_account" in nats:
            out.setdefault("issuer_account", nats.pop("issuer_account"))
        nats.pop("version", None)
    else:
        raise ValueError(f"unsupported JWT version {version}")
    out["nats"] = nats
    return out


def encode(claims: dict[str, Any], seed: str, *, version: int = 2) -> str:
    """Sign `claims` as a v1 or v2 JWT, filling `iss`, `iat` and `jti` when missing."""
    out = to_layout(claims, version)
    out.setdefault("iss", public_key_of(seed))
    if not out.get("iat"):
        out["iat"] = int(time.time())
    if not out.get("jti"):
        out.pop("jti", None)
        out["jti"] = claims_hash(out, extra=("tags", "type") if version == 1 else ())
    header = V2_HEADER if version == 2 else V1_HEADER
    return encode_raw(header, _ordered(out), seed, v1_signing=version == 1)


# ---- claim builders (dicts in the v1 or v2 layout; pass them to encode) --------------------------


def _std(sub: str, name: str | None, exp: int | None, iat: int | None, nbf: int | None) -> dict[str, Any]:
    base: dict[str, Any] = {"sub": sub}
    for key, value in (("name", name), ("exp", exp), ("iat", iat), ("nbf", nbf)):
        if value:
            base[key] = value
    return base


def _finish(base: dict[str, Any], nats: dict[str, Any], kind: str, version: int) -> dict[str, Any]:
    nats = {k: v for k, v in nats.items() if v is not None}
    if version == 2:
        base["nats"] = {**nats, "type": kind, "version": 2}
    elif version == 1:
        base["type"] = kind
        if "issuer_account" in nats:  # a top-level member in v1
            base["issuer_account"] = nats.pop("issuer_account")
        base["nats"] = nats
    else:
        raise ValueError(f"unsupported JWT version {version}")
    return base


def operator_claims(
    sub: str,
    name: str = "",
    version: int = 2,
    exp: int | None = None,
    signing_keys: list[str] | None = None,
    system_account: str | None = None,
    account_server_url: str | None = None,
    *,
    strict_signing_key_usage: bool | None = None,
    iat: int | None = None,
    nbf: int | None = None,
) -> dict[str, Any]:
    """Operator claims (sub = the operator identity key)."""
    nats: dict[str, Any] = {
        "signing_keys": signing_keys or None,
        "account_server_url": account_server_url,
        "system_account": system_account,
        "strict_signing_key_usage": strict_signing_key_usage if version == 2 else None,
    }
    return _finish(_std(sub, name, exp, iat, nbf), nats, "operator", version)


def account_claims(
    sub: str,
    name: str = "",
    version: int = 2,
    exp: int | None = None,
    limits: dict[str, Any] | None = None,
    exports: list[dict[str, Any]] | None = None,
    imports: list[dict[str, Any]] | None = None,
    signing_keys: list[Any] | None = None,
    *,
    iat: int | None = None,
    nbf: int | None = None,
) -> dict[str, Any]:
    """Account claims with nsc's default (unlimited) limits, `limits` merged over them."""
    nats: dict[str, Any] = {
        "imports": imports or None,
        "exports": exports or None,
        "limits": {**DEFAULT_ACCOUNT_LIMITS, **(limits or {})},
        "signing_keys": signing_keys or None,
    }
    if version == 2:
        nats["default_permissions"] = {"pub": {}, "sub": {}}
    return _finish(_std(sub, name, exp, iat, nbf), nats, "account", version)


def activation_claims(
    sub: str,
    subject: str,
    kind: str = "stream",
    version: int = 2,
    exp: int | None = None,
    issuer_account: str | None = None,
    *,
    name: str | None = None,
    iat: int | None = None,
    nbf: int | None = None,
) -> dict[str, Any]:
    """Activation for importing account `sub`; `kind` is "stream" or "service" (v1 `nats.type`)."""
    nats: dict[str, Any] = {"subject": subject, ("kind" if version == 2 else "type"): kind}
    nats["issuer_account"] = issuer_account
    return _finish(_std(sub, subject if name is None else name, exp, iat, nbf), nats, "activation", version)


def user_claims(
    sub: str,
    name: str = "",
    version: int = 2,
    exp: int | None = None,
    issuer_account: str | None = None,
    *,
    iat: int | None = None,
    nbf: int | None = None,
) -> dict[str, Any]:
    """User claims with unlimited defaults (the server never stores these; for NATS test creds)."""
    nats: dict[str, Any] = {"pub": {}, "sub": {}}
    if version == 2:
        nats.update(subs=-1, data=-1, payload=-1)
    nats["issuer_account"] = issuer_account
    return _finish(_std(sub, name, exp, iat, nbf), nats, "user", version)
