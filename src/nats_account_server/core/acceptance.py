"""The one rule every JWT from outside passes before it is stored, served or announced.

A JWT is accepted when it decodes as the JWT library decodes it, its subject is the key it is stored
or asked under, its issuer is trusted, and validation finds no blocking issue. Every channel applies
it: HTTP uploads, NATS claim updates, pack merges (HTTP and NATS), replica imports and fetches,
answers to our NATS lookups, and entries read from a store that others can write (a JetStream KV
bucket). The channels differ only where a reason forces them to, each stated here:

* Without an operator configured there is no trust anchor: any issuer with a valid signature of the
  right role is accepted (the server then only hosts what it is given, as a URL resolver backend).
* Activations are issued by accounts, whose keys the server does not keep: their issuer is checked
  for its role and its signature, not against the operator. An activation that is not yet valid may
  be uploaded ahead of time; an expired one is refused.
* Copies of stored JWTs (pack merges, replica imports and fetches, KV entries) are judged without the
  time checks: an account that expired after it was stored is kept and served, as a file is, unless
  `?check=true` asks; uploads and claim updates are new JWTs and must be valid now.
* Files an operator placed in a directory or nsc store keep the file rule: a correctly signed file is
  served (a forged one is a load error); the operator is the one who vouches for them.
* Delete requests (generic claims naming accounts) must be signed by the operator or one of its
  signing keys, with the signer as subject, as nats-server's full resolver requires; without an
  operator nobody may delete, since nothing says whose request to trust.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from nats_account_server.core.kinds import Kind, kind_of
from nats_account_server.core.trust import Trust
from nats_account_server.jwt import (
    JWTError,
    Token,
    activation_hash,
    decode_account,
    decode_activation,
    is_account_key,
)
from nats_account_server.jwt.checks import TIME, Issue, issues_of
from nats_account_server.jwt.deletion import MALFORMED, DeleteRequest, decode_delete_request
from nats_account_server.log import bounded, short_key

__all__ = [
    "Refused",
    "accept",
    "accept_account",
    "accept_activation",
    "accept_delete",
    "blocking",
    "vetting",
]


EXPIRED = "claim is expired"


class Refused(Exception):
    """Why a JWT is not accepted: a one-line reason, and the validation issues when those decided."""

    def __init__(self, reason: str, issues: tuple[str, ...] = ()) -> None:
        super().__init__(reason if not issues else f"{reason}: {'; '.join(issues)}")
        self.reason = reason
        self.issues = issues


def blocking(tok: Token, *, now: int | None = None, times: bool = True) -> tuple[str, ...]:
    """The issue texts that refuse `tok` (with `times=False`, time checks do not count)."""
    found: list[Issue] = issues_of(tok, int(time.time()) if now is None else now)
    if not found:
        return ()
    return tuple(i.text for i in found if i.blocks and (times or i.kind != TIME))


def _trusted(trust: Trust, tok: Token) -> None:
    if trust.configured and not trust.trusts(tok.iss):
        raise Refused(f"untrusted issuer {short_key(tok.iss)}")


def accept_account(trust: Trust, jwt: str | Token, key: str | None = None, *, stored: bool = False) -> Token:
    """The account JWT, if accepted under `key` (None: under its own subject); raises Refused."""
    try:
        tok = jwt if isinstance(jwt, Token) else decode_account(jwt)
    except JWTError as exc:
        raise Refused(f"bad JWT - {exc}") from None
    if key is not None and tok.sub != key:
        raise Refused(f"JWT subject {short_key(tok.sub)} does not match the key {short_key(key)}")
    if not is_account_key(tok.sub):
        raise Refused("JWT subject is not an account public key")
    _trusted(trust, tok)
    issues = blocking(tok, times=not stored)
    if issues:
        raise Refused("validation issues", issues)
    return tok


def accept_activation(jwt: str | Token, key: str | None = None, *, stored: bool = False) -> tuple[str, Token]:
    """The activation JWT and its hash, if accepted under `key` (None: any); raises Refused."""
    try:
        tok = jwt if isinstance(jwt, Token) else decode_activation(jwt)
    except JWTError as exc:
        raise Refused(f"bad activation JWT - {exc}") from None
    if not is_account_key(tok.sub):
        raise Refused("activation JWT subject is not an account public key")
    try:
        hashed = activation_hash(tok.iss, tok.sub, tok.activation.subject)
    except JWTError as exc:
        raise Refused(str(exc)) from None
    if key is not None and hashed != key:
        raise Refused("activation hash does not match the JWT")
    now = int(time.time())
    issues = tuple(
        i.text
        for i in issues_of(tok, now)
        if i.blocks and (i.kind != TIME or (not stored and i.text == EXPIRED))
    )
    if issues:
        raise Refused("validation issues", issues)
    return hashed, tok


def accept(trust: Trust, kind: Kind, jwt: str, key: str | None, *, stored: bool = False) -> Token:
    """Either rule by kind, for channels that carry both (packs, replicas, stores)."""
    if kind is Kind.ACCOUNT:
        return accept_account(trust, jwt, key, stored=stored)
    return accept_activation(jwt, key, stored=stored)[1]


def vetting(trust: Trust) -> Callable[[str, str], str | None]:
    """The rule for entries others wrote to a shared store (a stored copy: no time checks), as a
    function from (key, JWT) to why the entry is refused, or None when it is accepted."""

    def vet(key: str, jwt: str) -> str | None:
        kind = kind_of(key)
        if kind is None:
            return "not an account key or activation hash"
        try:
            accept(trust, kind, jwt, key, stored=True)
        except Refused as exc:
            return str(exc)
        return None

    return vet


def accept_delete(trust: Trust, raw: str) -> tuple[DeleteRequest, tuple[str, ...]]:
    """The delete request and the distinct account keys it names, in order, if accepted; raises
    Refused with nats-server's reason (`not self signed`, `not trusted`, `malformed request`, `not
    allowed to delete system account`) or the decoder's."""
    try:
        req = decode_delete_request(raw)
    except JWTError as exc:
        raise Refused(f"bad delete request JWT - {exc}") from None
    if not trust.configured:
        raise Refused("no operator is configured, so this server cannot accept delete requests")
    if req.sub != req.iss:
        raise Refused("not self signed")
    if not trust.trusts(req.iss):
        raise Refused("not trusted")
    if not isinstance(req.accounts, list):
        raise Refused(MALFORMED, ("nats.accounts must be a list of account public keys",))
    system = {trust.system_account_key, trust.operator.operator.system_account if trust.operator else ""}
    system.discard("")
    keys: list[str] = []
    for entry in req.accounts:
        if not isinstance(entry, str) or not is_account_key(entry):
            raise Refused(MALFORMED, (f"{bounded(repr(entry), 64)} is not an account public key",))
        if entry in system:
            raise Refused("not allowed to delete system account")
        if entry not in keys:
            keys.append(entry)
    if not keys:
        raise Refused(MALFORMED, ("nats.accounts names no account",))
    return req, tuple(keys)
