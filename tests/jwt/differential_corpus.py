"""A corpus of account JWTs (v1 and v2, some with embedded activation tokens) with the verdict the
catalogue predicts nats-server 2.15 gives each: refused (undecodable, or any blocking or time issue) or
accepted.  Warnings never refuse.

Every account is issued by one test operator (or its signing key) and has a fresh ``sub``; each case
also carries the account's seed and a probe user key, so a real nats-server can be asked for exactly
that account (see ``tests/support/oracle.py``).  Tokens are built from JSON text, which allows what a
dict cannot hold: repeated members, case-variant and Unicode-folded names, invalid UTF-8, ``1e3``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import nkeys

from nats_account_server.jwt.encode import DEFAULT_ACCOUNT_LIMITS, new_keypair

__all__ = [
    "Case",
    "Corpus",
    "Obj",
    "Raw",
    "b64url",
    "build_corpus",
    "dump",
    "public_key",
    "sign",
    "sign_segments",
]

V2_HEADER = b'{"typ":"JWT","alg":"ed25519-nkey"}'
V1_HEADER = b'{"typ":"jwt","alg":"ed25519"}'
KELVIN = "\u212a"  # folds to "k" in member names
LONG_S = "\u017f"  # folds to "s" in member names
DAY = 86400
#: Ed25519 group order: adding it to a signature's scalar half keeps it valid only for lax verifiers.
ED25519_L = 2**252 + 27742317777372353535851937790883648493
INT64_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Case:
    """One account JWT; ``expect_refused`` is the catalogue's prediction for nats-server."""

    name: str
    jwt: str
    expect_refused: bool
    account: str = ""  # the public key nats-server is asked for (the token's intended `sub`)
    account_seed: str = ""  # signs the probe user's JWT
    user_seed: str = ""  # the probe user (listed in `auth_users` where external authorization is set)


@dataclass(frozen=True, slots=True)
class Corpus:
    """The cases and the trust they need: an operator JWT (listing one signing key) and a system account."""

    operator_jwt: str
    system_account: str
    system_account_jwt: str
    cases: list[Case]


# ---------------------------------------------------------------------------- JSON text and signing


@dataclass(frozen=True, slots=True)
class Raw:
    """JSON text inserted verbatim (a value, or a member name with its quotes)."""

    text: bytes


class Obj:
    """A JSON object as ordered (name, value) pairs: names may repeat; a name may be :class:`Raw`."""

    __slots__ = ("pairs",)

    def __init__(self, *pairs: tuple[str | Raw, Any]) -> None:
        self.pairs = list(pairs)


class _Drop:
    """Marks a base member to leave out."""


DROP = _Drop()


def dump(value: Any) -> bytes:
    """Compact JSON bytes (UTF-8, no ASCII escaping) of dicts, lists, scalars, :class:`Obj`, :class:`Raw`."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Obj):
        return b"{" + b",".join(dump(k) + b":" + dump(v) for k, v in value.pairs) + b"}"
    if isinstance(value, Mapping):
        return dump(Obj(*value.items()))
    if isinstance(value, list | tuple):
        return b"[" + b",".join(dump(v) for v in value) + b"]"
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def b64url(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _signature(text: str, seed: str) -> bytes:
    signature: bytes = nkeys.from_seed(seed.encode("ascii")).sign(text.encode("utf-8"))
    return signature


def sign_segments(head_seg: str, payload_seg: str, seed: str, v1: bool) -> str:
    """A token from already encoded segments: v2 signs ``head.payload`` text, v1 the payload text only."""
    signed = payload_seg if v1 else f"{head_seg}.{payload_seg}"
    return f"{head_seg}.{payload_seg}.{b64url(_signature(signed, seed))}"


def sign(header: bytes, payload: bytes, seed: str, v1: bool) -> str:
    """A token over arbitrary header and payload bytes."""
    return sign_segments(b64url(header), b64url(payload), seed, v1)


def public_key(prefix: int, raw: bytes) -> str:
    """An nkey public key of any prefix byte and length: base32 of prefix, raw and CRC-16 (LE)."""
    body = bytes([prefix]) + raw
    crc = binascii.crc_hqx(body, 0).to_bytes(2, "little")
    return base64.b32encode(body + crc).decode("ascii").rstrip("=")


def _curve_key() -> str:
    return public_key(23 << 3, os.urandom(32))


# ---------------------------------------------------------------------------- case construction


@dataclass(frozen=True, slots=True)
class _Ident:
    seed: str
    pub: str
    user_seed: str
    user_pub: str


def _new_ident() -> _Ident:
    seed, pub = new_keypair("A")
    user_seed, user_pub = new_keypair("U")
    return _Ident(seed, pub, user_seed, user_pub)


Spec = Mapping[str, Any] | Callable[[_Ident], Mapping[str, Any]]
Pairs = Sequence[tuple[str | Raw, Any]]


def _resolve(spec: Spec | None, ident: _Ident) -> Mapping[str, Any]:
    if spec is None:
        return {}
    return spec(ident) if callable(spec) else spec


def _merge(base: Mapping[str, Any], overrides: Mapping[str, Any], after: Pairs = ()) -> Obj:
    """Base members with overrides in place (new ones appended, DROP removes), then `after` pairs."""
    merged = {**base, **overrides}
    pairs: list[tuple[str | Raw, Any]] = [(k, v) for k, v in merged.items() if not isinstance(v, _Drop)]
    return Obj(*pairs, *after)


def _stream(subject: Any, **members: Any) -> dict[str, Any]:
    return {"name": "e", "subject": subject, "type": "stream", **members}


def _service(subject: Any, **members: Any) -> dict[str, Any]:
    return {"name": "e", "subject": subject, "type": "service", **members}


def _import(subject: str, kind: str = "stream", account: Any = None, **members: Any) -> dict[str, Any]:
    return {
        "name": "i",
        "subject": subject,
        "account": new_keypair("A")[1] if account is None else account,
        "type": kind,
        **members,
    }


class _Builder:
    def __init__(self, now: int) -> None:
        self.now = now
        self.op_seed, self.op_pub = new_keypair("O")
        self.sk_seed, self.sk_pub = new_keypair("O")
        self.cases: list[Case] = []

    def add(self, name: str, refused: bool, make: Callable[[_Ident], str]) -> None:
        ident = _new_ident()
        self.cases.append(Case(name, make(ident), refused, ident.pub, ident.seed, ident.user_seed))

    # -- claims
    def claims(
        self,
        ident: _Ident,
        version: int,
        nats: Spec | None = None,
        *,
        top: Spec | None = None,
        limits: Mapping[str, Any] | None = None,
        nats_after: Pairs = (),
        after: Pairs = (),
    ) -> Obj:
        """Account claims of `ident` in the v1 or v2 layout with member overrides."""
        base_limits = {**DEFAULT_ACCOUNT_LIMITS, **(limits or {})}
        base_nats: dict[str, Any] = {
            "limits": {k: v for k, v in base_limits.items() if not isinstance(v, _Drop)}
        }
        if version == 2:
            base_nats["default_permissions"] = {"pub": {}, "sub": {}}
        body = _merge(base_nats, _resolve(nats, ident))
        if version == 2:
            body.pairs += [("type", "account"), ("version", 2)]
        body.pairs += nats_after
        base_top: dict[str, Any] = {
            "jti": b64url(hashlib.sha256(ident.pub.encode()).digest()),
            "iat": self.now,
            "iss": self.op_pub,
            "name": "acc",
            "sub": ident.pub,
        }
        if version == 1:
            base_top["type"] = "account"
        base_top["nats"] = body
        return _merge(base_top, _resolve(top, ident), after)

    def account(
        self,
        name: str,
        refused: bool,
        nats: Spec | None = None,
        *,
        versions: Iterable[int] = (2,),
        top: Spec | None = None,
        limits: Mapping[str, Any] | None = None,
        nats_after: Pairs = (),
        after: Pairs = (),
        header: bytes | None = None,
        seed: str | None = None,
        v1_signature: bool | None = None,
        payload_fn: Callable[[bytes], bytes] | None = None,
        segments_fn: Callable[[str, str], tuple[str, str]] | None = None,
        token_fn: Callable[[str], str] | None = None,
    ) -> None:
        """Add one case per version; the hooks alter the payload bytes, the segments before signing, or
        the finished token."""
        for version in versions:

            def make(ident: _Ident, version: int = version) -> str:
                obj = self.claims(
                    ident, version, nats, top=top, limits=limits, nats_after=nats_after, after=after
                )
                payload = dump(obj)
                if payload_fn is not None:
                    payload = payload_fn(payload)
                head = header if header is not None else (V1_HEADER if version == 1 else V2_HEADER)
                head_seg, payload_seg = b64url(head), b64url(payload)
                if segments_fn is not None:
                    head_seg, payload_seg = segments_fn(head_seg, payload_seg)
                v1 = version == 1 if v1_signature is None else v1_signature
                token = sign_segments(head_seg, payload_seg, seed or self.op_seed, v1)
                return token_fn(token) if token_fn is not None else token

            self.add(f"v{version} {name}", refused, make)

    # -- activation tokens for imports
    def activation(
        self,
        importer: str,
        exporter_seed: str,
        subject: str,
        kind: Any = "stream",
        *,
        version: int = 2,
        nats: Mapping[str, Any] | None = None,
        top: Mapping[str, Any] | None = None,
        signer: str | None = None,
    ) -> str:
        """An activation token for `importer` issued by the exporter (or `signer`)."""
        seed = signer or exporter_seed
        base_nats: dict[str, Any] = {"subject": subject, ("kind" if version == 2 else "type"): kind}
        body = _merge(base_nats, nats or {})
        if version == 2:
            body.pairs += [("type", "activation"), ("version", 2)]
        iss = nkeys.from_seed(seed.encode()).public_key.decode()
        base_top: dict[str, Any] = {"jti": "J", "iat": self.now, "iss": iss, "name": subject, "sub": importer}
        if version == 1:
            base_top["type"] = "activation"
        base_top["nats"] = body
        payload = dump(_merge(base_top, top or {}))
        return sign(V2_HEADER if version == 2 else V1_HEADER, payload, seed, version == 1)

    def token_import(
        self,
        name: str,
        refused: bool,
        *,
        subject: str = "s.a",
        kind: str = "stream",
        token_subject: str = "s.*",
        token_kind: Any = "stream",
        versions: Iterable[int] = (2,),
        token_version: int = 2,
        token_nats: Mapping[str, Any] | None = None,
        token_top: Mapping[str, Any] | None = None,
        token_signer: str | None = None,
        token_fn: Callable[[str], str] | None = None,
        import_members: Mapping[str, Any] | None = None,
        token_name: str = "token",
        importer: Callable[[_Ident], str] | None = None,
    ) -> None:
        """An account importing from a fresh exporter with an embedded activation token."""
        exporter_seed, exporter_pub = new_keypair("A")

        def nats(ident: _Ident) -> dict[str, Any]:
            token = self.activation(
                importer(ident) if importer else ident.pub,
                exporter_seed,
                token_subject,
                token_kind,
                version=token_version,
                nats=token_nats,
                top=token_top,
                signer=token_signer,
            )
            if token_fn is not None:
                token = token_fn(token)
            entry = {
                "name": "i",
                "subject": subject,
                "account": exporter_pub,
                token_name: token,
                "type": kind,
            }
            entry.update(import_members or {})
            return {"imports": [{k: v for k, v in entry.items() if not isinstance(v, _Drop)}]}

        self.account(name, refused, nats, versions=versions)


# ---------------------------------------------------------------------------- decoding


def _decoding_cases(b: _Builder) -> None:
    acc = b.account
    # segments and token framing
    acc("token: well-formed, issued by the operator", False, versions=(1, 2))
    acc(
        "token: issued by the operator's signing key",
        False,
        versions=(1, 2),
        seed=b.sk_seed,
        top={"iss": b.sk_pub},
    )
    acc("token: two segments", True, token_fn=lambda t: t.rsplit(".", 1)[0])
    acc("token: four segments", True, token_fn=lambda t: t + ".x")
    acc("token: empty signature segment", True, token_fn=lambda t: t.rsplit(".", 1)[0] + ".")
    acc("token: trailing newline is skipped", False, versions=(1, 2), token_fn=lambda t: t + "\n")
    acc("token: trailing CR LF is skipped", False, token_fn=lambda t: t + "\r\n")
    acc("token: trailing space", True, versions=(1, 2), token_fn=lambda t: t + " ")
    acc("token: trailing tab", True, token_fn=lambda t: t + "\t")
    acc("token: leading space", True, token_fn=lambda t: " " + t)
    acc("token: leading newline lands in the signed header", True, token_fn=lambda t: "\n" + t)
    acc(
        "token: leading newline before the header is outside the v1 signature input",
        False,
        versions=(1,),
        token_fn=lambda t: "\n" + t,
    )
    acc(
        "token: newline inside the payload, signed with it",
        False,
        versions=(1, 2),
        segments_fn=lambda h, p: (h, p[:10] + "\n" + p[10:]),
    )
    acc(
        "token: newline inserted into the payload after signing",
        True,
        versions=(1, 2),
        token_fn=lambda t: t[: t.index(".") + 10] + "\n" + t[t.index(".") + 10 :],
    )
    acc(
        "token: newline inserted into the header after signing",
        True,
        versions=(2,),
        token_fn=lambda t: t[:5] + "\n" + t[5:],
    )
    acc(
        "token: newline inserted into the header after signing is outside the v1 signature input",
        False,
        versions=(1,),
        token_fn=lambda t: t[:5] + "\r\n" + t[5:],
    )
    acc("token: CR LF inside the signature segment", False, token_fn=lambda t: t[:-10] + "\r\n" + t[-10:])
    # base64url
    acc("base64: '+' in the payload segment", True, segments_fn=lambda h, p: (h, p[:-4] + "+" + p[-3:]))
    acc("base64: '/' in the header segment", True, segments_fn=lambda h, p: (h[:-2] + "/" + h[-1:], p))
    b.add("v2 base64: signature in the standard alphabet", True, lambda ident: _standard_signature(b, ident))
    acc(
        "base64: padding '=' in the payload segment",
        True,
        segments_fn=lambda h, p: (h, p + "=" * (-len(p) % 4 or 4)),
    )
    acc("base64: padding '=' in the signature", True, token_fn=lambda t: t + "==")
    acc("base64: payload segment of length 4k+1", True, segments_fn=_length_4k1)
    acc(
        "base64: payload with non-zero unused low bits decodes alike",
        False,
        versions=(1, 2),
        segments_fn=_unused_bits,
    )
    acc("base64: signature with one extra character (65 bytes)", True, token_fn=lambda t: t + "AA")
    acc("base64: signature one character short", True, token_fn=lambda t: t[:-3])
    acc("base64: space inside the payload segment", True, segments_fn=lambda h, p: (h, p[:8] + " " + p[8:]))
    acc("base64: empty payload segment", True, segments_fn=lambda h, p: (h, ""))
    acc("base64: empty header segment", True, segments_fn=lambda h, p: ("", p))
    # header
    for text, refused in (
        (b'{"typ":"jwt","alg":"ed25519-nkey"}', False),
        (b'{"typ":"Jwt","alg":"ed25519-nkey"}', False),
        (b'{"TYP":"JWT","Alg":"ed25519-nkey"}', False),
        (b'{"typ":"JWT","alg":"ED25519-NKEY"}', False),
        (b'{"typ":"JWT","alg":"Ed25519"}', False),
        (b'{"typ":"JWT","alg":"ed25519-nkey","kid":[1,{"x":null}],"cty":5}', False),
        (b'{"typ":"JWS","typ":"JWT","alg":"ed25519-nkey"}', False),
        (b'{"alg":"none","typ":"JWT","alg":"ed25519-nkey"}', False),
        (b'{"typ":"JWT","typ":"JWS","alg":"ed25519-nkey"}', True),
        (b'{"typ":"JWT ","alg":"ed25519-nkey"}', True),
        (b'{"typ":"JWS","alg":"ed25519-nkey"}', True),
        (b'{"typ":"","alg":"ed25519-nkey"}', True),
        (b'{"typ":null,"alg":"ed25519-nkey"}', True),
        (b'{"alg":"ed25519-nkey"}', True),
        (b'{"typ":5,"alg":"ed25519-nkey"}', True),
        (b'{"typ":"JWT","alg":"HS256"}', True),
        (b'{"typ":"JWT","alg":"ed25519 "}', True),
        (b'{"typ":"JWT"}', True),
        (b'{"typ":"JWT","alg":["ed25519"]}', True),
        (b"null", True),
        (b'["JWT"]', True),
        (b'{"typ":"JWT","alg":"ed25519-nkey"} x', True),
        (b'{"typ":"JWT","alg":"ed25519-nkey"} \n', False),
        (b"not json", True),
    ):
        acc(f"header: {text.decode()!r}", refused, header=text)
    acc("header: v2 header on a v1 token", False, versions=(1,), header=V2_HEADER)
    acc("header: v1 header on a v2 token", False, versions=(2,), header=V1_HEADER)
    # identification of kind and version
    acc(
        "kind: top-level type makes it v1 whatever nats.version says",
        False,
        versions=(1,),
        nats={"version": 2},
    )
    acc("kind: top-level type with nats.version 3 is still v1", False, versions=(1,), nats={"version": 3})
    acc("kind: top-level type needs the v1 signature", True, versions=(1,), v1_signature=False)
    acc(
        "kind: upper-case TYPE member counts as top-level type",
        False,
        versions=(1,),
        top={"type": DROP},
        after=[("TYPE", "account")],
    )
    acc("kind: v2 layout with v1 signature", True, versions=(2,), v1_signature=True)
    acc("kind: empty top-level type falls back to nats.type", False, versions=(2,), top={"type": ""})
    acc("kind: null top-level type falls back to nats.type", False, versions=(2,), top={"type": None})
    acc("kind: numeric top-level type", True, versions=(2,), top={"type": 5})
    acc(
        "kind: nats.version 1 without top-level type reads the v1 layout",
        False,
        versions=(2,),
        nats_after=[("version", 1)],
        v1_signature=True,
    )
    acc(
        "kind: nats.version 1 without top-level type needs the v1 signature",
        True,
        versions=(2,),
        nats_after=[("version", 1)],
    )
    acc("kind: nats.version 3 is newer", True, versions=(2,), nats_after=[("version", 3)])
    acc("kind: nats.version 0", True, versions=(2,), nats_after=[("version", 0)])
    acc("kind: nats.version -1", True, versions=(2,), nats_after=[("version", -1)])
    acc(
        "kind: nats.version absent", True, versions=(2,), payload_fn=lambda p: p.replace(b',"version":2', b"")
    )
    acc("kind: nats.version 2.0", True, versions=(2,), nats_after=[("version", Raw(b"2.0"))])
    acc("kind: nats.version as a string", True, versions=(1, 2), nats_after=[("version", "2")])
    acc("kind: nats.type as a number", True, versions=(1,), nats={"type": 7})
    acc("kind: nats.tags as a string, even in v1", True, versions=(1, 2), nats={"tags": "a"})
    acc("kind: nats.type Account in another case", True, versions=(2,), nats_after=[("type", "Account")])
    acc(
        "kind: nats.type absent",
        True,
        versions=(2,),
        payload_fn=lambda p: p.replace(b',"type":"account"', b""),
    )
    for kind in ("cluster", "server", "user", "activation", "operator", "authorization_request", "nonsense"):
        acc(f"kind: nats.type {kind} is not account claims", True, versions=(2,), nats_after=[("type", kind)])
    acc("kind: top-level type user is not account claims", True, versions=(1,), top={"type": "user"})
    acc("kind: payload null", True, payload_fn=lambda p: b"null")
    acc("kind: payload an array", True, payload_fn=lambda p: b"[" + p + b"]")
    acc("kind: payload a string", True, payload_fn=lambda p: b'"account"')
    acc("kind: payload not JSON", True, payload_fn=lambda p: p[:-1])
    # signature and issuer
    other_seed, _ = new_keypair("O")
    acc("signature: signed by another operator key", True, versions=(1, 2), seed=other_seed)
    acc("signature: v2 token signed over the payload only", True, versions=(2,), v1_signature=True)
    acc("signature: v1 token signed over header and payload", True, versions=(1,), v1_signature=False)
    acc("signature: scalar half not canonical (S + L)", True, versions=(1, 2), token_fn=_non_canonical)
    acc("signature: one flipped bit", True, token_fn=_flip_signature_bit)
    user_seed, user_pub = new_keypair("U")
    acc("issuer: a user key is not allowed to issue accounts", True, seed=user_seed, top={"iss": user_pub})
    server_seed, server_pub = new_keypair("N")
    acc(
        "issuer: a server key is not allowed to issue accounts",
        True,
        seed=server_seed,
        top={"iss": server_pub},
    )
    acc("issuer: iss absent", True, versions=(1, 2), top={"iss": DROP})
    acc("issuer: iss lower-case", True, top={"iss": b.op_pub.lower()})
    acc("issuer: iss with a trailing space", True, top={"iss": b.op_pub + " "})
    acc(
        "issuer: iss with a bad checksum",
        True,
        top={"iss": b.op_pub[:-1] + ("A" if b.op_pub[-1] != "A" else "B")},
    )
    acc(
        "issuer: operator-prefixed issuer of 31 bytes with a valid checksum",
        True,
        top={"iss": public_key(14 << 3, os.urandom(31))},
    )
    acc(
        "issuer: operator prefix byte with low bits set",
        True,
        top={"iss": public_key((14 << 3) | 1, os.urandom(32))},
    )
    acc("issuer: ISS spelled in upper case is iss", False, top={"iss": DROP}, after=[("ISS", b.op_pub)])


def _standard_signature(b: _Builder, ident: _Ident) -> str:
    """A valid token (re-signed with other `jti` values until its signature has a `-` or `_`) whose
    signature is then spelled in the standard base64 alphabet."""
    for attempt in range(1000):
        token = sign(V2_HEADER, dump(b.claims(ident, 2, top={"jti": f"J{attempt}"})), b.op_seed, False)
        rest, sig = token.rsplit(".", 1)
        if "-" in sig or "_" in sig:
            return f"{rest}.{sig.replace('-', '+').replace('_', '/')}"
    raise AssertionError("no signature with a URL-safe character")


def _length_4k1(head: str, payload: str) -> tuple[str, str]:
    """Make the payload segment 4k+1 characters long (never a valid base64 length)."""
    while len(payload) % 4 != 0:
        payload = payload[:-1]
    return head, payload + "A"


def _unused_bits(head: str, payload: str) -> tuple[str, str]:
    """Re-spell the payload's last character with its unused low bits set (trailing spaces make room)."""
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    if len(raw) % 3 == 0:
        raw += b" "
    seg = b64url(raw)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(seg[-1])
    return head, seg[:-1] + alphabet[last | 1]


def _non_canonical(token: str) -> str:
    rest, sig = token.rsplit(".", 1)
    raw = base64.urlsafe_b64decode(sig + "==")
    s = int.from_bytes(raw[32:], "little") + ED25519_L
    return f"{rest}.{b64url(raw[:32] + s.to_bytes(32, 'little'))}"


def _flip_signature_bit(token: str) -> str:
    rest, sig = token.rsplit(".", 1)
    raw = bytearray(base64.urlsafe_b64decode(sig + "=="))
    raw[5] ^= 0x04
    return f"{rest}.{b64url(bytes(raw))}"


# ---------------------------------------------------------------------------- JSON rules


def _appending(suffix: bytes) -> Callable[[bytes], bytes]:
    return lambda payload: payload + suffix


def _json_cases(b: _Builder) -> None:
    acc = b.account
    past, future = b.now - 30 * DAY, b.now + 3650 * DAY
    # syntax
    for suffix, refused in ((b" ", False), (b"\t\r\n ", False), (b" x", True), (b"{}", True), (b",", True)):
        acc(f"json: {suffix!r} after the payload object", refused, payload_fn=_appending(suffix))
    acc("json: byte-order mark before the payload", True, payload_fn=lambda p: b"\xef\xbb\xbf" + p)
    acc("json: raw control character inside a string", True, top={"name": Raw(b'"a\x01b"')})
    acc("json: raw tab inside a string", True, top={"name": Raw(b'"a\tb"')})
    acc("json: escaped control characters and NUL inside a string", False, top={"name": "a\u0000\u0001\tb"})
    acc(
        "json: nesting of 9000 levels in an unknown member",
        False,
        after=[("deep", Raw(b"[" * 9000 + b"]" * 9000))],
    )
    acc(
        "json: nesting of 11000 levels in an unknown member",
        True,
        after=[("deep", Raw(b"[" * 11000 + b"]" * 11000))],
    )
    acc("json: single-quoted string", True, top={"name": Raw(b"'acc'")})
    acc("json: trailing comma in an object", True, payload_fn=lambda p: p[:-1] + b",}")
    # member names: case and Unicode folding
    acc("names: EXP in the past is exp", True, versions=(1, 2), after=[("EXP", past)])
    acc("names: Exp in the past is exp", True, after=[("Exp", past)])
    acc("names: NBF in the future is nbf", True, after=[("NBF", future)])
    acc(
        "names: NATS object is nats",
        False,
        top={"nats": DROP},
        after=[("NATS", Obj(("limits", DEFAULT_ACCOUNT_LIMITS), ("type", "account"), ("version", 2)))],
    )
    acc(
        "names: Exports with a bad subject is exports",
        True,
        versions=(1, 2),
        nats_after=[("Exports", [_stream("a b")])],
    )
    acc(
        "names: long s folds to s (\u017fubject)",
        False,
        versions=(1, 2),
        nats={"exports": [Obj(("name", "e"), (f"{LONG_S}ubject", "ls.x"), ("type", "stream"))]},
    )
    acc(
        "names: long s folds to s, bad subject (\u017fubject)",
        True,
        versions=(1, 2),
        nats={"exports": [Obj(("name", "e"), (f"{LONG_S}ubject", "ls x"), ("type", "stream"))]},
    )
    acc(
        "names: long s in the sub member name (\u017fub)",
        False,
        top=lambda ident: {"sub": DROP, f"{LONG_S}ub": ident.pub},
    )
    acc(
        "names: SUB in upper case is sub",
        False,
        versions=(1, 2),
        top=lambda ident: {"sub": DROP, "SUB": ident.pub},
    )
    acc("names: Kelvin sign folds to k in xkey", True, nats={"authorization": Obj((f"x{KELVIN}ey", "bad"))})
    acc(
        "names: Kelvin sign folds to k in signing_keys",
        True,
        versions=(1, 2),
        nats_after=[(f"signing_{KELVIN}eys", ["not-a-key"])],
    )
    acc("names: name with an invalid UTF-8 byte matches nothing", False, after=[(Raw(b'"exp\xff"'), past)])
    acc(
        "names: unknown members are ignored at every level",
        False,
        versions=(1, 2),
        after=[("x", {"y": [1, True, None]})],
        nats_after=[("z", [{}])],
        limits={"q": "w"},
        nats={"exports": [_stream("u.x", extra={"a": 1})]},
    )
    # repeated members
    acc("repeat: exp past then 0, the last wins", False, versions=(1, 2), after=[("exp", past), ("exp", 0)])
    acc("repeat: exp 0 then past, the last wins", True, after=[("exp", 0), ("exp", past)])
    acc("repeat: exp 0 then EXP past, any spelling", True, after=[("exp", 0), ("EXP", past)])
    acc("repeat: exp past then null keeps past", True, versions=(1, 2), after=[("exp", past), ("exp", None)])
    acc("repeat: exp null alone is absent", False, after=[("exp", None)])
    acc(
        "repeat: a second nats object is merged into the first",
        False,
        after=[("nats", {"description": "merged"})],
    )
    acc(
        "repeat: a second nats object adds a bad export",
        True,
        after=[("nats", {"exports": [_stream("a b")]})],
    )
    acc(
        "repeat: a second limits object is merged",
        True,
        nats_after=[("limits", {"exports": 0})],
        nats={"exports": [_stream("x.y")]},
    )
    acc(
        "repeat: exports array repeated, element merged into the earlier one",
        True,
        versions=(1, 2),
        nats={"exports": [_stream("a b")]},
        nats_after=[("exports", [{"type": "stream"}])],
    )
    acc(
        "repeat: exports array repeated, shorter array drops the bad element",
        False,
        versions=(1, 2),
        nats={"exports": [_stream("x.a"), _stream("b c")]},
        nats_after=[("exports", [_stream("x.b")])],
    )
    acc(
        "repeat: mappings merged key by key keeps the bad key",
        True,
        nats={"mappings": {"m a": [{"subject": "t.a"}]}},
        nats_after=[("mappings", {"m.b": [{"subject": "t.b"}]})],
    )
    acc(
        "repeat: mappings key repeated, the last value wins",
        False,
        nats={"mappings": Obj(("m.a", [{"subject": "t a"}]), ("m.a", [{"subject": "t.a"}]))},
    )
    acc(
        "repeat: signing_keys repeated accumulate the bad key",
        True,
        versions=(2,),
        nats={"signing_keys": ["not-a-key"]},
        nats_after=[("signing_keys", [new_keypair("A")[1]])],
    )
    acc(
        "repeat: signing_keys repeated as a plain list replace the bad key",
        False,
        versions=(1,),
        nats={"signing_keys": ["not-a-key"]},
        nats_after=[("signing_keys", [new_keypair("A")[1]])],
    )
    acc(
        "repeat: subject in an export repeated, the last wins",
        False,
        nats={"exports": [Obj(("subject", "a b"), ("type", "stream"), ("subject", "a.b"))]},
    )
    # null
    acc("null: nats null", True, versions=(2,), top={"nats": None})
    acc("null: limits null is absent limits", False, nats={"limits": None})
    acc("null: export subject null is empty", True, nats={"exports": [_stream(None)]})
    acc("null: name, aud, jti null", False, top={"name": None, "aud": None, "jti": None})
    acc("null: exports null", False, versions=(1, 2), nats={"exports": None, "imports": None})
    acc(
        "null: mapping target list element null has an empty subject",
        True,
        nats={"mappings": {"m.a": [None]}},
    )
    acc(
        "null: permission subject null is empty",
        True,
        nats={"default_permissions": {"pub": {"allow": [None]}, "sub": {}}},
    )
    # invalid UTF-8 and escapes
    acc("utf8: invalid byte in the name", False, top={"name": Raw(b'"acc\xff\xfe"')})
    acc("utf8: invalid byte in an export subject", False, nats={"exports": [_stream(Raw(b'"u.\xff"'))]})
    acc(
        "utf8: 2730 invalid bytes in the description are 8190 bytes",
        False,
        nats={"description": Raw(b'"' + b"\xff" * 2730 + b'"')},
    )
    acc(
        "utf8: 2731 invalid bytes in the description are 8193 bytes",
        True,
        nats={"description": Raw(b'"' + b"\xff" * 2731 + b'"')},
    )
    acc(
        "utf8: 2731 lone surrogate escapes in the description are 8193 bytes",
        True,
        nats={"description": Raw(b'"' + b"\\ud800" * 2731 + b'"')},
    )
    acc(
        "utf8: 2730 lone surrogate escapes in the description are 8190 bytes",
        False,
        nats={"description": Raw(b'"' + b"\\ud800" * 2730 + b'"')},
    )
    acc("escape: \\u0020 in an export subject is a space", True, nats={"exports": [_stream("a\u0020b")]})
    acc(
        "escape: \\u002e escapes in an export subject",
        False,
        nats={"exports": [_stream(Raw(b'"a\\u002eb"'))]},
    )


# ---------------------------------------------------------------------------- member types


def _type_cases(b: _Builder) -> None:
    acc = b.account
    value: Any
    nats: Any
    # standard claims
    for member, value, refused in (
        ("exp", "1", True),
        ("exp", Raw(b"1e3"), True),
        ("exp", Raw(b"1E3"), True),
        ("exp", Raw(b"1.0"), True),
        ("exp", Raw(b"-0"), False),
        ("exp", 4102444800, False),  # 2100; beyond ~292 years nats-server's expiry timer overflows (racy)
        ("exp", Raw(b"9223372036854775808"), True),
        ("exp", True, True),
        ("iat", Raw(b"1.5"), True),
        ("iat", Raw(b"-9223372036854775808"), False),
        ("nbf", Raw(b"-9223372036854775809"), True),
        ("name", 5, True),
        ("jti", ["x"], True),
        ("aud", ["x"], True),
        ("aud", "anyone", False),
        ("sub", 5, True),
    ):
        acc(
            f"types: {member} = {dump(value).decode()}",
            refused,
            versions=(1, 2) if member == "exp" else (2,),
            top={member: value},
        )
    # nats members (v2 layout)
    for label, nats, refused in (
        ("nats an array", None, True),
        ("description a number", {"description": 5}, True),
        ("info_url a number", {"info_url": 5}, True),
        ("tags a list of numbers", {"tags": [1]}, True),
        ("tags with any text", {"tags": ["A", "b c", "", "A"]}, False),
        ("revocations a list", {"revocations": ["x"]}, True),
        ("revocations value a string", {"revocations": {"x": "1"}}, True),
        ("revocations any key and time", {"revocations": {"anything at all": 1, "*": 2}}, False),
        ("exports an object", {"exports": {}}, True),
        ("exports element a number", {"exports": [5]}, True),
        ("imports a string", {"imports": "x"}, True),
        ("signing_keys an object", {"signing_keys": {}}, True),
        ("signing_keys a string", {"signing_keys": new_keypair("A")[1]}, True),
        ("signing_keys null", {"signing_keys": None}, False),
        ("signing_keys non-key elements are ignored", {"signing_keys": [1, True, None, ["x"], 2.5]}, False),
        ("limits a list", {"limits": []}, True),
        ("mappings a list", {"mappings": []}, True),
        ("mapping targets an object", {"mappings": {"m.a": {"subject": "t"}}}, True),
        ("mapping weight a string", {"mappings": {"m.a": [{"subject": "t", "weight": "50"}]}}, True),
        ("mapping weight 256", {"mappings": {"m.a": [{"subject": "t", "weight": 256}]}}, True),
        ("mapping weight -1", {"mappings": {"m.a": [{"subject": "t", "weight": -1}]}}, True),
        ("mapping cluster a number", {"mappings": {"m.a": [{"subject": "t", "cluster": 1}]}}, True),
        ("default_permissions.pub a string", {"default_permissions": {"pub": "x"}}, True),
        ("permission allow a string", {"default_permissions": {"sub": {"allow": "a"}}}, True),
        ("permission resp a string", {"default_permissions": {"resp": "x"}}, True),
        ("permission resp.max 1.5", {"default_permissions": {"resp": {"max": Raw(b"1.5")}}}, True),
        ("permission resp.ttl as text", {"default_permissions": {"resp": {"ttl": "1s"}}}, True),
        ("authorization.auth_users a string", {"authorization": {"auth_users": "x"}}, True),
        ("authorization.allowed_accounts numbers", {"authorization": {"allowed_accounts": [1]}}, True),
        ("authorization.xkey a number", {"authorization": {"xkey": 1}}, True),
        ("trace a string", {"trace": "t.x"}, True),
        ("trace.sampling 1.5", {"trace": {"dest": "t.x", "sampling": Raw(b"1.5")}}, True),
        ("cluster_traffic a number", {"cluster_traffic": 1}, True),
    ):
        if nats is None:
            acc(f"types: {label}", refused, top={"nats": []})
        else:
            acc(f"types: {label}", refused, nats=nats)
    # limits
    for member, value, refused, versions in (
        ("subs", "1", True, (1, 2)),
        ("subs", Raw(b"1e3"), True, (1, 2)),
        ("subs", Raw(b"9223372036854775808"), True, (2,)),
        ("subs", INT64_MAX, False, (2,)),
        ("subs", -5, False, (1, 2)),
        ("conn", Raw(b"1.5"), True, (1, 2)),
        ("wildcards", 1, True, (1, 2)),
        ("wildcards", "true", True, (2,)),
        ("disallow_bearer", "false", True, (1, 2)),
        ("disallow_bearer", True, False, (1, 2)),
        ("mem_storage", "x", True, (2,)),
        ("max_bytes_required", 1, True, (2,)),
        ("tiered_limits", [], True, (2,)),
        ("tiered_limits", {"R1": {"disk_storage": "x"}}, True, (2,)),
    ):
        acc(
            f"types: limits.{member} = {dump(value).decode()}",
            refused,
            versions=versions,
            limits={member: value},
        )
    # v1: members outside the v1 layout are not even type-checked
    for label, nats in (
        ("description a number", {"description": 5}),
        ("info_url a number", {"info_url": 5}),
        ("mappings a string", {"mappings": "x"}),
        ("default_permissions a number", {"default_permissions": 5}),
        ("authorization a list", {"authorization": [1]}),
        ("trace a number", {"trace": 5}),
        ("cluster_traffic a number", {"cluster_traffic": 1}),
        ("description of 9000 bytes", {"description": "d" * 9000}),
        ("mappings with a bad subject", {"mappings": {"a b": [{"subject": "c d"}]}}),
        ("trace with an empty destination", {"trace": {}}),
        ("unknown cluster_traffic option", {"cluster_traffic": "bogus"}),
    ):
        acc(f"v1 layout ignores {label}", False, versions=(1,), nats=nats)
    for member, value in (("mem_storage", "x"), ("tiered_limits", 5), ("max_bytes_required", "y")):
        acc(
            f"v1 layout ignores limits.{member} = {dump(value).decode()}",
            False,
            versions=(1,),
            limits={member: value},
        )
    acc("v1 layout ignores a blank tier name", False, versions=(1,), limits={"tiered_limits": {"": {}}})
    acc(
        "v1 top-level issuer_account a string is dropped",
        False,
        versions=(1,),
        top={"issuer_account": "whatever"},
    )
    acc("v1 top-level issuer_account a number", True, versions=(1,), top={"issuer_account": 5})
    acc("v1 top-level tags", False, versions=(1,), top={"tags": ["x", "y"]})
    acc("v1 top-level tags a string", True, versions=(1,), top={"tags": "x"})
    acc("v1 revocations value a string", True, versions=(1,), nats={"revocations": {"x": "1"}})
    acc(
        "v1 signing_keys with an object element",
        True,
        versions=(1,),
        nats={"signing_keys": [{"kind": "user_scope", "key": new_keypair("A")[1]}]},
    )
    # member decoders: export / import type
    for value in ("Stream", "services", "", None, 5):
        acc(
            f"types: export type {dump(value).decode()}",
            True,
            versions=(1, 2),
            nats={"exports": [_stream("t.x", type=value)]},
        )
        acc(
            f"types: import type {dump(value).decode()}", True, nats={"imports": [_import("t.x", type=value)]}
        )
    # service latency sampling
    for value, refused in (
        ("headers", False),
        ("Headers", False),
        ("HEADERS", False),
        (Raw(b'"\\u0068eaders"'), True),
        ("50", True),
        (Raw(b"50.5"), True),
        (Raw(b"1e1"), True),
        (None, False),
        (0, False),
        (1, False),
        (100, False),
        (101, True),
        (-1, True),
        (True, True),
    ):
        acc(
            f"types: service latency sampling {dump(value).decode()}",
            refused,
            versions=(1, 2) if refused else (2,),
            nats={"exports": [_service("lat.s", service_latency={"sampling": value, "results": "lat.r"})]},
        )
    acc(
        "types: service latency sampling absent means headers",
        False,
        nats={"exports": [_service("lat.s", service_latency={"results": "lat.r"})]},
    )


# ---------------------------------------------------------------------------- account validation


def _time_cases(b: _Builder) -> None:
    acc = b.account
    past, future = b.now - 30 * DAY, b.now + 3650 * DAY
    acc("time: expired", True, versions=(1, 2), top={"exp": past})
    acc("time: expires in ten years", False, versions=(1, 2), top={"exp": future})
    acc("time: exp 0 means none", False, top={"exp": 0})
    # the library reads a negative exp as none, but nats-server itself marks the account expired
    acc("time: negative exp, which nats-server treats as expired", True, versions=(1, 2), top={"exp": -5})
    acc("time: exp 1 is long past", True, top={"exp": 1})
    acc("time: not yet valid", True, versions=(1, 2), top={"nbf": future})
    acc("time: nbf in the past", False, versions=(1, 2), top={"nbf": past})
    acc("time: negative nbf means none", False, top={"nbf": -1})
    acc("time: iat in the future is not checked", False, versions=(1, 2), top={"iat": future})
    acc("time: negative iat is not checked", False, top={"iat": -100})
    acc("time: expired and not yet valid", True, top={"exp": past, "nbf": future})
    acc("claims: empty name, arbitrary jti and aud", False, top={"name": "", "jti": "nothing", "aud": "x y"})


def _limits_cases(b: _Builder) -> None:
    acc = b.account
    imp = [_import("l.a"), _import("l.b")]
    acc(
        "limits: two imports allowed by imports 2",
        False,
        versions=(1, 2),
        nats={"imports": imp},
        limits={"imports": 2},
    )
    acc(
        "limits: two imports over imports 1",
        True,
        versions=(1, 2),
        nats={"imports": imp},
        limits={"imports": 1},
    )
    acc(
        "limits: an import with imports absent",
        True,
        versions=(1, 2),
        nats={"imports": imp[:1]},
        limits={"imports": DROP},
    )
    acc("limits: an import with no limits at all", True, nats={"imports": imp[:1], "limits": DROP})
    acc("limits: no imports with no limits at all", False, nats={"limits": DROP})
    acc("limits: empty limits object", False, versions=(1, 2), nats={"limits": {}})
    acc("limits: imports -2 refuses even zero imports", True, versions=(1, 2), limits={"imports": -2})
    acc("limits: imports 0 with zero imports", False, limits={"imports": 0})
    acc(
        "limits: imports -1 with many imports", False, nats={"imports": [_import(f"m.{i}") for i in range(5)]}
    )
    exp = [_stream("x.a"), _stream("x.b")]
    acc(
        "limits: two exports allowed by exports 2",
        False,
        versions=(1, 2),
        nats={"exports": exp},
        limits={"exports": 2},
    )
    acc(
        "limits: two exports over exports 1",
        True,
        versions=(1, 2),
        nats={"exports": exp},
        limits={"exports": 1},
    )
    acc("limits: an export with exports absent", True, nats={"exports": exp[:1]}, limits={"exports": DROP})
    acc("limits: exports -2 refuses even zero exports", True, versions=(1, 2), limits={"exports": -2})
    for subject, wild in (
        ("w.*", True),
        ("w.>", True),
        ("*.w", True),
        ("*", True),
        (">", True),
        ("w.*.x", True),
        ("w*", False),
        ("*w", False),
        ("w.>.x", False),
        (">.w", False),
        ("w.x", False),
    ):
        acc(
            f"limits: export {subject!r} with wildcards false",
            wild,
            versions=(1, 2),
            nats={"exports": [_stream(subject)]},
            limits={"exports": 5, "wildcards": False},
        )
    acc(
        "limits: wildcard export with wildcards absent",
        True,
        nats={"exports": [_service("w.*")]},
        limits={"exports": 5, "wildcards": DROP},
    )
    acc(
        "limits: wildcard export with exports -1 ignores wildcards false",
        False,
        versions=(1, 2),
        nats={"exports": [_stream("w.*")]},
        limits={"wildcards": False},
    )
    acc(
        "limits: wildcard export with wildcards true",
        False,
        nats={"exports": [_stream("w.*")]},
        limits={"exports": 5},
    )
    acc("limits: blank tier name", True, limits={"tiered_limits": {"": {"mem_storage": -1}}})
    acc("limits: blank tier name next to a named one", True, limits={"tiered_limits": {"R1": {}, "": {}}})
    acc("limits: named tiers", False, limits={"tiered_limits": {"R1": {"mem_storage": -1}, "R3": {}}})
    acc(
        "limits: flat JetStream limits are reset when tiers exist",
        False,
        limits={"mem_storage": 1024, "disk_storage": 5, "tiered_limits": {"R1": {"disk_storage": 1}}},
    )
    acc("limits: flat JetStream limits", False, limits={"mem_storage": -1, "disk_storage": -1, "streams": 3})
    acc(
        "limits: conn 0 and negative values are not checked",
        False,
        limits={"conn": 0, "leaf": -9, "subs": -9, "data": -9, "payload": 0},
    )


def _info_cases(b: _Builder) -> None:
    acc = b.account
    for label, value, refused in (
        ("8192 bytes", "d" * 8192, False),
        ("8193 bytes", "d" * 8193, True),
        ("4096 two-byte characters", "\u00e9" * 4096, False),
        ("4097 two-byte characters", "\u00e9" * 4097, True),
    ):
        acc(f"info: description of {label}", refused, nats={"description": value})
        acc(
            f"info: export description of {label}",
            refused,
            versions=(1, 2) if refused else (2,),
            nats={"exports": [_stream("i.x", description=value)]},
        )
    long_url = "https://example.com/" + "p" * (8193 - len("https://example.com/"))
    urls = (
        ("https://example.com/docs", False),
        ("ftp://h", False),
        ("HTTP://X", False),
        ("http://h:/", False),
        ("http://h:99999/", False),
        ("http://[::1]:80/", False),
        ("http://x/?q=%zz", False),
        ("http://h/pa th", False),
        ("http://h%C3%A9/", False),
        ("http://u:p@h/", False),
        ("", False),
        (long_url, True),
        (long_url[:8192], False),
        ("example.com/docs", True),
        ("//host/path", True),
        ("http://:80/", True),
        ("http://user@/p", True),
        ("http://host:port/", True),
        ("http://h:8a/", True),
        ("http://x/%zz", True),
        ("http://x/#%zz", True),
        ("http://%41/", True),
        ("mailto:x@y", True),
        ("a:b", True),
        (":foo", True),
        ("http://exa mple.com/", True),
        ("http://x\u0001/", True),
        ("http://x/\u007f", True),
        ("http://u ser@h/", True),
        ("1http://h/", True),
    )
    for url, refused in urls:
        shown = url if len(url) < 40 else f"{url[:20]}... ({len(url)} bytes)"
        acc(f"info: info_url {shown!r}", refused, nats={"info_url": url})
    for url, refused in urls[::3]:
        shown = url if len(url) < 40 else f"{url[:20]}... ({len(url)} bytes)"
        acc(
            f"info: export info_url {shown!r}",
            refused,
            versions=(1, 2),
            nats={"exports": [_stream("i.x", info_url=url)]},
        )


def _mapping_cases(b: _Builder) -> None:
    acc = b.account
    for label, mappings, refused in (
        ("one target, weight 0 is 100", {"m.a": [{"subject": "t.a"}]}, False),
        ("source with a space", {"m a": [{"subject": "t.a"}]}, True),
        ("source with a leading dot", {".m": [{"subject": "t.a"}]}, True),
        ("source with a trailing dot", {"m.": [{"subject": "t.a"}]}, True),
        ("source with two dots in a row", {"m..a": [{"subject": "t.a"}]}, True),
        ("empty source", {"": [{"subject": "t.a"}]}, True),
        ("target with a space", {"m.a": [{"subject": "t a"}]}, True),
        ("target with two dots in a row", {"m.a": [{"subject": "t..a"}]}, True),
        ("target subject absent", {"m.a": [{"weight": 50}]}, True),
        ("weight 100", {"m.a": [{"subject": "t.a", "weight": 100}]}, False),
        ("weight 101", {"m.a": [{"subject": "t.a", "weight": 101}]}, True),
        ("weight 255", {"m.a": [{"subject": "t.a", "weight": 255}]}, True),
        ("50 + 50", {"m.a": [{"subject": "t.a", "weight": 50}, {"subject": "t.b", "weight": 50}]}, False),
        ("60 + 50", {"m.a": [{"subject": "t.a", "weight": 60}, {"subject": "t.b", "weight": 50}]}, True),
        ("three targets of weight 0 are 300", {"m.a": [{"subject": f"t.{i}"} for i in range(3)]}, True),
        (
            "60 + 60 in different clusters",
            {
                "m.a": [
                    {"subject": "t.a", "weight": 60, "cluster": "e"},
                    {"subject": "t.b", "weight": 60, "cluster": "w"},
                ]
            },
            False,
        ),
        (
            "60 + 60 in one cluster",
            {
                "m.a": [
                    {"subject": "t.a", "weight": 60, "cluster": "e"},
                    {"subject": "t.b", "weight": 60, "cluster": "e"},
                ]
            },
            True,
        ),
        (
            "100 in a cluster + 100 without",
            {"m.a": [{"subject": "t.a", "cluster": "e"}, {"subject": "t.b"}]},
            False,
        ),
        (
            "wildcard targets",
            {"m.*": [{"subject": "t.*", "weight": 50}, {"subject": "u.>", "weight": 50}]},
            False,
        ),
        ("wildcard function target", {"m.*": [{"subject": "t.{{wildcard(1)}}"}]}, False),
        ("$1 reference target", {"m.*": [{"subject": "t.$1"}]}, False),
        ("empty target list", {"m.a": []}, False),
        ("tab and non-ASCII in subjects", {"m\t\u00e4.a": [{"subject": "t.\u00f6"}]}, False),
    ):
        acc(f"mappings: {label}", refused, nats={"mappings": mappings})


def _permission_cases(b: _Builder) -> None:
    acc = b.account
    for direction in ("sub", "pub"):
        for which in ("allow", "deny"):
            for entry, refused in (
                ("p.a", False),
                ("p.>", False),
                ("p q", direction == "pub"),
                ("p.a ", True),
                ("p  q", True),
                ("p q r", True),
                ("", True),
                ("p..a", True),
                (".p", True),
                ("p\tq", False),
                ("p q..r", True),
            ):
                if direction == "pub" and which == "deny" and entry in ("p.>", "p\tq", ".p"):
                    continue
                acc(
                    f"permissions: {direction}.{which} {entry!r}",
                    refused,
                    nats={"default_permissions": {direction: {which: [entry]}}},
                )
    acc(
        "permissions: resp with negative values",
        False,
        nats={"default_permissions": {"pub": {}, "sub": {}, "resp": {"max": -5, "ttl": -1}}},
    )
    acc("permissions: resp null", False, nats={"default_permissions": {"pub": {}, "sub": {}, "resp": None}})


def _export_cases(b: _Builder) -> None:
    both = (1, 2)

    def exports(name: str, refused: bool, entries: list[Any], versions: Iterable[int] = both) -> None:
        b.account(f"exports: {name}", refused, versions=versions, nats={"exports": entries})

    exports("stream and service", False, [_stream("e.s"), _service("e.v")])
    exports("null entry", True, [None])
    exports("null entry after a good one", True, [_stream("e.s"), None])
    exports("type absent", True, [{"subject": "e.s"}])
    for rt, refused in (
        ("Singleton", False),
        ("Stream", False),
        ("Chunked", False),
        ("", False),
        ("singleton", True),
        ("Foo", True),
    ):
        exports(f"service response type {rt!r}", refused, [_service("e.v", response_type=rt)])
    exports("stream response type Singleton", True, [_stream("e.s", response_type="Singleton")])
    exports("stream allow_trace", True, [_stream("e.s", allow_trace=True)])
    exports("stream allow_trace false", False, [_stream("e.s", allow_trace=False)], (2,))
    exports("service allow_trace", False, [_service("e.v", allow_trace=True)])
    exports("latency on a stream", True, [_stream("e.s", service_latency={"sampling": 50, "results": "l.r"})])
    exports("latency null on a stream", False, [_stream("e.s", service_latency=None)], (2,))
    exports("latency results absent", True, [_service("e.v", service_latency={"sampling": 50})])
    exports("latency results with a space", True, [_service("e.v", service_latency={"results": "l r"})], (2,))
    exports(
        "latency results with two dots", True, [_service("e.v", service_latency={"results": "l..r"})], (2,)
    )
    exports("latency results l.*", True, [_service("e.v", service_latency={"results": "l.*"})])
    exports("latency results l.>", True, [_service("e.v", service_latency={"results": "l.>"})], (2,))
    exports("latency results l* has no wildcard", False, [_service("e.v", service_latency={"results": "l*"})])
    exports("response threshold -1", True, [_service("e.v", response_threshold=-1)])
    exports("response threshold on a service", False, [_service("e.v", response_threshold=1_000_000_000)])
    exports("response threshold on a stream", True, [_stream("e.s", response_threshold=5)])
    exports("response threshold 0 on a stream", False, [_stream("e.s", response_threshold=0)], (2,))
    exports("response threshold 1.5", True, [_service("e.v", response_threshold=Raw(b"1.5"))], (2,))
    exports("response threshold as text", True, [_service("e.v", response_threshold="1s")], (2,))
    for subject, refused in (
        ("a b", True),
        (".a", True),
        ("a.", True),
        ("a..b", True),
        ("", True),
        ("a\tb", False),
        ("\u00e4.\u00f6", False),
        (">", False),
        ("a.>.b", False),
        ("*a.b*", False),
    ):
        exports(f"subject {subject!r}", refused, [_stream(subject)], both if refused else (2,))
    exports("subject absent", True, [{"name": "e", "type": "service"}], (2,))
    for subject, pos, refused in (
        ("a.*", 2, False),
        ("*.a", 1, False),
        ("a.*.>", 2, False),
        ("a.*", 0, False),
        ("a.b", 1, True),
        ("a.*", 3, True),
        ("a.*", 1, True),
        ("a.>", 2, True),
    ):
        exports(
            f"account token position {pos} in {subject!r}",
            refused,
            [_service(subject, account_token_position=pos)],
            both if refused else (2,),
        )
    exports("account token position -1", True, [_service("a.*", account_token_position=-1)], (2,))
    for first, second, refused in (
        (_stream("o.>"), _stream("o.b"), True),
        (_service("o.*"), _service("o.b"), True),
        (_stream("o.b"), _stream("o.b"), True),
        (_stream("o.*"), _stream("o.>"), True),
        (_stream("o.>"), _service("o.b"), False),
        (_stream("o.b"), _stream("o.c"), False),
        (_stream("o.b"), _stream("o.b.>"), False),
        (_service("o.*.x"), _service("o.a.>"), False),
        (_stream("o.b"), {"subject": "o.>"}, True),
    ):
        exports(
            f"overlap of {first.get('type', 'untyped')} {first['subject']!r} and "
            f"{second.get('type', 'untyped')} {second['subject']!r}",
            refused,
            [first, second],
        )
    exports(
        "name, token_req, advertise and revocations are not checked",
        False,
        [_stream("e.s", name="", token_req=True, advertise=True, revocations={"*": INT64_MAX, "k": -1})],
    )
    exports("wildcard service export", False, [_service("svc.>")], (2,))
    exports("types of token_req", True, [_stream("e.s", token_req="yes")], (2,))
    exports("types of revocations", True, [_stream("e.s", revocations=[1])], (2,))
    exports("types of service_latency", True, [_service("e.v", service_latency="x")], (2,))
    exports("types of allow_trace", True, [_service("e.v", allow_trace="yes")], (2,))
    exports("types of advertise", True, [_stream("e.s", advertise=1)], (2,))


def _import_cases(b: _Builder) -> None:
    both = (1, 2)
    exporter = new_keypair("A")[1]
    other = new_keypair("A")[1]

    def imports(name: str, refused: bool, entries: list[Any], versions: Iterable[int] = both) -> None:
        b.account(f"imports: {name}", refused, versions=versions, nats={"imports": entries})

    imports("stream and service", False, [_import("i.s"), _import("i.v", "service")])
    imports("null entry", True, [None])
    imports("null entry after a good one", True, [_import("i.s"), None], (2,))
    imports("type absent", True, [{"subject": "i.s", "account": exporter}])
    imports("account absent", True, [{"subject": "i.s", "type": "stream"}])
    imports("account empty", True, [_import("i.s", account="")], (2,))
    imports("account not a key is not checked", False, [_import("i.s", account="not-a-key")])
    imports("service allow_trace", True, [_import("i.v", "service", allow_trace=True)])
    imports("stream allow_trace", False, [_import("i.s", allow_trace=True)], (2,))
    imports("share on a stream", True, [_import("i.s", share=True)])
    imports("share on a service", False, [_import("i.v", "service", share=True)])
    imports("to is only deprecated", False, [_import("i.v", "service", to="loc.v")])
    imports("to and local_subject", True, [_import("i.v", "service", to="loc.v", local_subject="loc.w")])
    imports("to is not validated as a subject", False, [_import("i.v", "service", to="l o c")], (2,))
    for subject, refused in (("a b", True), ("", True), ("a..b", True), (".a", True), ("a\tb", False)):
        imports(f"subject {subject!r}", refused, [_import(subject)], both if refused else (2,))
    imports("wildcard service import", False, [_import("svc.>", "service")], (2,))
    for subject, local, refused in (
        ("a.>", "b.>", False),
        ("a.>", "b.c", True),
        ("a.b", "b.>", True),
        (">", ">", False),
        ("a.*", "b.$1", False),
        ("a.*", "b.$2", True),
        ("a.*.*", "b.$2.$1", False),
        ("a.*.*", "b.$1", True),
        ("a.*", "b.*", False),
        ("a.*", "b.$01", False),
        ("a.*", "b.$+1", False),
        ("a.*", "b.$0", False),
        ("a.*", "b.$-1", False),
        ("a.*", "b.$1.$1", True),
        ("a.b", "c.d", False),
        ("a.*", "c.d", True),
        ("a.b", "c.$99999999999999999999", False),
        ("a.b", "c d", True),
        ("a.b", "c..d", True),
        ("", "c.d", True),
    ):
        for kind in ("stream", "service"):
            if kind == "service" and subject in ("a.>", ">", "a.*.*", "") and local not in ("b.>",):
                continue
            imports(
                f"{kind} {subject!r} as local subject {local!r}",
                refused,
                [_import(subject, kind, local_subject=local)],
                both if kind == "stream" else (2,),
            )
    # overlap among service imports of the same account
    for first, second, same, refused in (
        (dict(subject="svc.*"), dict(subject="svc.a"), True, True),
        (dict(subject="svc.a"), dict(subject="svc.>"), True, True),
        (dict(subject="svc.a"), dict(subject="svc.a"), True, True),
        (dict(subject="svc.*"), dict(subject="svc.a"), False, False),
        (dict(subject="svc.a"), dict(subject="svc.b"), True, False),
        (dict(subject="svc.a", to="loc.x"), dict(subject="loc.x"), True, True),
        (dict(subject="svc.*", local_subject="loc.$1"), dict(subject="other.b"), True, False),
        (dict(subject="svc.*", local_subject="loc.$1"), dict(subject="loc.b"), True, True),
        (
            dict(subject="svc.a", local_subject="loc.a"),
            dict(subject="svc.a", local_subject="loc.b"),
            True,
            False,
        ),
    ):
        second_account = exporter if same else other
        imports(
            f"service imports {first} and {second} from {'one account' if same else 'two accounts'}",
            refused,
            [
                _import(kind="service", account=exporter, **first),
                _import(kind="service", account=second_account, **second),
            ],
        )
    imports(
        "stream imports never overlap",
        False,
        [_import("st.>", account=exporter), _import("st.a", account=exporter)],
    )
    imports(
        "stream and service import of one subject",
        False,
        [_import("x.a", account=exporter), _import("x.a", "service", account=exporter)],
        (2,),
    )
    imports("types of share", True, [_import("i.v", "service", share="no")], (2,))
    imports("types of account", True, [_import("i.s", account=5)], (2,))
    imports("types of local_subject", True, [_import("i.s", local_subject=["x"])], (2,))
    imports("types of token", True, [_import("i.s", token=5)], (2,))


def _token_cases(b: _Builder) -> None:
    tok = b.token_import
    tok("token: valid stream activation", False, versions=(1, 2))
    tok("token: valid v1 activation", False, versions=(1, 2), token_version=1)
    tok(
        "token: valid service activation",
        False,
        subject="svc.a",
        kind="service",
        token_subject="svc.a",
        token_kind="service",
    )
    tok(
        "token: service activation for a wildcard subject",
        False,
        subject="svc.a",
        kind="service",
        token_subject="svc.*",
        token_kind="service",
    )
    tok("token: trailing newline", False, token_fn=lambda t: t + "\n")
    tok("token: surrounding spaces", True, token_fn=lambda t: f" {t} ")
    tok("token: a URL is undecodable", True, versions=(1, 2), token_fn=lambda t: "http://example.com/act.jwt")
    tok("token: garbage", True, token_fn=lambda t: "not-a-token")
    tok("token: tampered payload", True, versions=(1, 2), token_fn=_tamper_payload)
    tok("token: kind Stream", True, token_kind="Stream")
    tok("token: kind null", True, token_kind=None)
    tok("token: kind absent", True, token_kind=DROP)
    tok("token: v1 activation without nats.type", True, token_version=1, token_kind=DROP)
    tok("token: kind differs from the import type", True, token_kind="service")
    tok(
        "token: service import with a stream activation",
        True,
        subject="svc.a",
        kind="service",
        token_subject="svc.a",
    )
    tok("token: issued by another account", True, versions=(1, 2), token_signer=new_keypair("A")[0])
    _issuer_account_cases(b)
    tok("token: sub is another account", True, versions=(1, 2), importer=lambda ident: new_keypair("A")[1])
    tok("token: subject with a space", True, token_subject="s a")
    tok("token: subject with two dots", True, token_subject="s..a")
    tok("token: empty subject", True, token_subject="")
    tok("token: import subject s.a.b not in s.*", True, versions=(1, 2), subject="s.a.b")
    tok("token: import subject s.> in s.* (a * matches >)", False, subject="s.>")
    tok("token: import subject s.a in s.>", False, token_subject="s.>")
    tok("token: import subject s.* in s.a", True, subject="s.*", token_subject="s.a")
    tok("token: import subject s in s.>", True, subject="s", token_subject="s.>")
    tok(
        "token: service import with to, checked against to",
        False,
        subject="svc.a",
        kind="service",
        token_subject="loc.x",
        token_kind="service",
        import_members={"to": "loc.x"},
    )
    tok(
        "token: service import with to, not checked against the subject",
        True,
        subject="svc.a",
        kind="service",
        token_subject="svc.a",
        token_kind="service",
        import_members={"to": "loc.x"},
    )
    tok(
        "token: local_subject plays no part in containment",
        False,
        subject="svc.a",
        kind="service",
        token_subject="svc.a",
        token_kind="service",
        import_members={"local_subject": "loc.a"},
    )
    tok(
        "token: expired activation is not checked here",
        False,
        versions=(1, 2),
        token_top={"exp": b.now - 30 * DAY},
    )
    tok("token: activation not yet valid is not checked here", False, token_top={"nbf": b.now + 30 * DAY})
    tok(
        "token: Kelvin-sign toKen member is token",
        True,
        token_name=f"to{KELVIN}en",
        token_fn=lambda t: "junk",
    )
    tok(
        "token: an account JWT is not an activation",
        True,
        token_fn=lambda t: sign(V2_HEADER, dump(b.claims(_new_ident(), 2)), b.op_seed, False),
    )
    tok("token: user key issuer", True, token_signer=new_keypair("U")[0])


def _tamper_payload(token: str) -> str:
    head, payload, sig = token.split(".")
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).replace(b'"s.*"', b'"s.>"')
    return f"{head}.{b64url(raw)}.{sig}"


def _issuer_account_cases(b: _Builder) -> None:
    """Activation tokens naming their account in `issuer_account`."""
    for label, signer_role, named, refused in (
        ("a signing key naming the exporter", "A", "exporter", False),
        ("the operator naming the exporter", "O", "exporter", False),
        ("the exporter naming another account", "exporter", "other", False),
        ("a signing key naming another account", "A", "other", True),
        ("the exporter with a non-key issuer_account", "exporter", "garbage", True),
        ("the exporter with an operator key as issuer_account", "exporter", "operator", True),
    ):
        exporter_seed, exporter_pub = new_keypair("A")
        signer_seed = exporter_seed if signer_role == "exporter" else new_keypair(signer_role)[0]
        issuer_account = {
            "exporter": exporter_pub,
            "other": new_keypair("A")[1],
            "garbage": "garbage",
            "operator": b.op_pub,
        }[named]

        def nats(
            ident: _Ident,
            seed: str = signer_seed,
            account: str = exporter_pub,
            issuer_account: str = issuer_account,
        ) -> dict[str, Any]:
            token = b.activation(ident.pub, seed, "s.*", nats={"issuer_account": issuer_account})
            return {"imports": [_import("s.a", account=account, token=token)]}

        b.account(
            f"token: issued by {label} in issuer_account", refused, nats, versions=(1, 2) if refused else (2,)
        )


def _signing_key_cases(b: _Builder) -> None:
    acc = b.account
    good = new_keypair("A")[1]
    for label, key, refused in (
        ("an account key", good, False),
        ("an operator key", new_keypair("O")[1], True),
        ("a user key", new_keypair("U")[1], True),
        ("garbage", "not-a-key", True),
        ("an account key in lower case", good.lower(), True),
        ("an account key with a bad checksum", good[:-1] + ("A" if good[-1] != "A" else "B"), True),
        ("an empty string", "", True),
        ("an account-prefixed key of 9 bytes with a valid checksum", public_key(0, os.urandom(9)), False),
        ("an account key whose prefix byte has low bits set", public_key(5, os.urandom(32)), False),
    ):
        acc(f"signing keys: plain {label}", refused, versions=(1, 2), nats={"signing_keys": [key]})
    acc(
        "signing keys: several plain keys and a repeat",
        False,
        versions=(1, 2),
        nats={"signing_keys": [good, new_keypair("A")[1], good]},
    )

    def scope(**members: Any) -> dict[str, Any]:
        return {"kind": "user_scope", "key": new_keypair("A")[1], "role": "r", **members}

    for label, entry, refused in (
        ("a valid scope", scope(), False),
        ("a scope with an operator key", scope(key=new_keypair("O")[1]), True),
        ("a scope with a bad key", scope(key="bad"), True),
        ("a scope without key", {"kind": "user_scope", "role": "r"}, True),
        ("kind User_scope", scope(kind="User_scope"), True),
        ("kind absent", {"key": new_keypair("A")[1]}, True),
        ("kind only as Kind", {"Kind": "user_scope", "key": new_keypair("A")[1]}, True),
        ("kind a number", scope(kind=1), True),
        ("a repeated KIND with a number", Obj(*scope().items(), ("KIND", 5)), True),
        (
            "key valid and KEY bad: the lower-case name sorts last and wins",
            Obj(*scope(key=new_keypair("A")[1]).items(), ("KEY", "bad")),
            False,
        ),
        (
            "key bad and KEY valid: the lower-case name sorts last and wins",
            Obj(*scope(key="bad").items(), ("KEY", new_keypair("A")[1])),
            True,
        ),
        ("description and role any text", scope(description="d" * 100, role=""), False),
        ("description a number", scope(description=5), True),
        (
            "template not checked",
            scope(
                template={
                    "pub": {"allow": ["a b c", ""]},
                    "sub": {"deny": ["..", " "]},
                    "src": ["not-a-cidr"],
                    "times": [{"start": "25:99:00", "end": "x"}],
                    "times_location": "Mars/Olympus",
                    "allowed_connection_types": ["NONSENSE"],
                    "bearer_token": True,
                    "subs": -5,
                }
            ),
            False,
        ),
        (
            "template src as a comma-separated string",
            scope(template={"src": "10.0.0.0/8, 1.2.3.4/32"}),
            False,
        ),
        ("template src a number", scope(template={"src": 5}), True),
        ("template subs 1.0 goes through a float", scope(template={"subs": Raw(b"1.0")}), False),
        ("template subs 1e3 goes through a float", scope(template={"subs": Raw(b"1e3")}), False),
        ("template subs 1.5", scope(template={"subs": Raw(b"1.5")}), True),
        (
            "template payload int64 max is out of range as a float",
            scope(template={"payload": INT64_MAX}),
            True,
        ),
        ("template bearer_token a string", scope(template={"bearer_token": "x"}), True),
        ("template times start a number", scope(template={"times": [{"start": 1, "end": "2"}]}), True),
        ("template a string", scope(template="x"), True),
    ):
        acc(f"signing keys: {label}", refused, nats={"signing_keys": [entry]})
    acc(
        "signing keys: plain then scoped entry for one key",
        False,
        nats={"signing_keys": [good, scope(key=good)]},
    )
    acc("signing keys: scoped then plain bad entries", True, nats={"signing_keys": [scope(), "bad"]})


def _authorization_cases(b: _Builder) -> None:
    acc = b.account

    def auth(auth_users: list[str] | None = None, **members: Any) -> Callable[[_Ident], dict[str, Any]]:
        """External authorization whose auth users are `auth_users`, by default the probe user (who then
        bypasses the callout nats-server would otherwise wait for)."""

        def spec(ident: _Ident) -> dict[str, Any]:
            users = [ident.user_pub] if auth_users is None else auth_users
            return {"authorization": {"auth_users": users, **members}}

        return spec

    account = new_keypair("A")[1]
    for label, spec, refused in (
        ("the probe user as auth user", auth(), False),
        ("auth users and allowed accounts", auth(allowed_accounts=[account, new_keypair("A")[1]]), False),
        ("allowed accounts *", auth(allowed_accounts=["*"]), False),
        ("allowed accounts * and an account", auth(allowed_accounts=["*", account]), True),
        ("allowed accounts with a non-key", auth(allowed_accounts=["bad"]), True),
        ("allowed accounts with an operator key", auth(allowed_accounts=[b.op_pub]), True),
        ("an auth user that is not a user key", auth(auth_users=["bad"]), True),
        ("an account key as auth user", auth(auth_users=[account]), True),
        ("a curve xkey", auth(xkey=_curve_key()), False),
        ("an account key as xkey", auth(xkey=account), True),
        ("a bad xkey", auth(xkey="X123"), True),
    ):
        acc(f"authorization: {label}", refused, nats=spec)
    acc(
        "authorization: allowed accounts without auth users",
        True,
        nats={"authorization": {"allowed_accounts": [account]}},
    )
    acc("authorization: only an xkey", False, nats={"authorization": {"xkey": _curve_key()}})
    acc("authorization: empty", False, nats={"authorization": {}})


def _trace_and_traffic_cases(b: _Builder) -> None:
    acc = b.account
    for label, trace, refused in (
        ("destination t.x", {"dest": "t.x"}, False),
        ("null", None, False),
        ("empty object", {}, True),
        ("destination with a space", {"dest": "t x"}, True),
        ("destination with two dots", {"dest": "t..x"}, True),
        ("destination t.*", {"dest": "t.*"}, True),
        ("destination >", {"dest": ">"}, True),
        ("destination t* has no wildcard", {"dest": "t*"}, False),
        ("sampling 0 means 100", {"dest": "t.x", "sampling": 0}, False),
        ("sampling 1", {"dest": "t.x", "sampling": 1}, False),
        ("sampling 100", {"dest": "t.x", "sampling": 100}, False),
        ("sampling 101", {"dest": "t.x", "sampling": 101}, True),
        ("sampling -1", {"dest": "t.x", "sampling": -1}, True),
    ):
        acc(f"trace: {label}", refused, nats={"trace": trace})
    for value, refused in (
        ("system", False),
        ("owner", False),
        ("", False),
        ("System", True),
        ("bogus", True),
    ):
        acc(f"cluster traffic: {value!r}", refused, nats={"cluster_traffic": value})


def _combined_cases(b: _Builder) -> None:
    """Realistic accounts with many members at once."""
    exporter_seed, exporter_pub = new_keypair("A")

    def full(ident: _Ident, bad: str = "") -> dict[str, Any]:
        token = b.activation(ident.pub, exporter_seed, "act.*")
        nats: dict[str, Any] = {
            "description": "an account",
            "info_url": "https://example.com/acc",
            "exports": [
                _stream("pub.>"),
                _service(
                    "svc.*",
                    response_type="Stream",
                    account_token_position=2,
                    service_latency={"sampling": 10, "results": "lat.x"},
                ),
            ],
            "imports": [
                _import("act.a", account=exporter_pub, token=token, local_subject="mine.a"),
                _import("other.*", "service", local_subject="o.$1"),
            ],
            "signing_keys": [new_keypair("A")[1], {"kind": "user_scope", "key": new_keypair("A")[1]}],
            "mappings": {"m.*": [{"subject": "n.$1", "weight": 40}, {"subject": "k.$1", "weight": 60}]},
            "default_permissions": {"pub": {"allow": ["pub.>"]}, "sub": {"allow": ["s q"]}},
            "revocations": {new_keypair("U")[1]: 5},
            "tags": ["prod"],
            "trace": {"dest": "trace.acc", "sampling": 20},
            "cluster_traffic": "owner",
        }
        if bad == "export":
            nats["exports"].append(_stream("pub.x"))
        elif bad == "import":
            nats["imports"].append(_import("o.x", "service", account=nats["imports"][1]["account"]))
        elif bad == "mapping":
            nats["mappings"]["m.*"][0]["weight"] = 41
        return nats

    b.account("combined: everything valid", False, full, limits={"tiered_limits": {"R1": {"streams": 5}}})
    b.account("combined: one overlapping export", True, lambda i: full(i, "export"))
    b.account("combined: one overlapping service import", True, lambda i: full(i, "import"))
    b.account("combined: weights of 101", True, lambda i: full(i, "mapping"))


def build_corpus(now: int | None = None) -> Corpus:
    """All cases, with fresh keys; `now` (Unix seconds) anchors every relative time."""
    b = _Builder(int(time.time()) if now is None else now)
    for section in (
        _decoding_cases,
        _json_cases,
        _type_cases,
        _time_cases,
        _limits_cases,
        _info_cases,
        _mapping_cases,
        _permission_cases,
        _export_cases,
        _import_cases,
        _token_cases,
        _signing_key_cases,
        _authorization_cases,
        _trace_and_traffic_cases,
        _combined_cases,
    ):
        section(b)
    names = [c.name for c in b.cases]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate case names: {duplicates}")
    sys_seed, sys_pub = new_keypair("A")
    sys_jwt = sign(
        V2_HEADER, dump(b.claims(_Ident(sys_seed, sys_pub, "", ""), 2, top={"name": "SYS"})), b.op_seed, False
    )
    operator = Obj(
        ("jti", "OPERATOR"),
        ("iat", b.now),
        ("iss", b.op_pub),
        ("name", "OP"),
        ("sub", b.op_pub),
        ("nats", {"signing_keys": [b.sk_pub], "system_account": sys_pub, "type": "operator", "version": 2}),
    )
    return Corpus(sign(V2_HEADER, dump(operator), b.op_seed, False), sys_pub, sys_jwt, b.cases)
