"""Trust material for tests: an operator with one signing key, a SYS account, accounts A/B/C, users.

Claims are built here in the shape nsc/jwt-go produce for each version and signed with
``nats_account_server.jwt.encode.encode`` (v2: header ``ed25519-nkey``, signs ``header.payload``;
v1: header ``ed25519``, signs the payload only, claim type at top level).

Finding (experiment against nats-server v2.15.1, ``resolver: MEMORY`` + ``resolver_preload``):
nats-server 2.x DOES accept v1 JWTs.  Every combination of v1/v2 operator, account and user JWTs
worked (the user connected), and a v1 account JWT whose signature covered ``header.payload``
instead of the payload alone was rejected with ``invalid account JWT`` - so the server really
verifies v1 signatures the v1 way.  v1 tokens can therefore be used both for the account server's
HTTP tests and end to end with a real nats-server.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nats_account_server.jwt.encode import DEFAULT_ACCOUNT_LIMITS, encode, new_keypair

from .natsserver import operator_config

__all__ = ["CREDS_TEMPLATE", "KeyPair", "Trust", "User", "format_creds"]

# Exactly what nsc / jwt-go FormatUserConfig writes.
CREDS_TEMPLATE = """-----BEGIN NATS USER JWT-----
{jwt}
------END NATS USER JWT------

************************* IMPORTANT *************************
NKEY Seed printed below can be used to sign and prove identity.
NKEYs are sensitive and should be treated as secrets.

-----BEGIN USER NKEY SEED-----
{seed}
------END USER NKEY SEED------

*************************************************************
"""

# Top-level (standard) claim names; any other override goes into the "nats" section.
STANDARD_CLAIMS = frozenset({"jti", "iat", "iss", "name", "sub", "exp", "nbf", "aud"})


def format_creds(jwt: str, seed: str) -> str:
    return CREDS_TEMPLATE.format(jwt=jwt, seed=seed)


@dataclass(frozen=True, slots=True)
class KeyPair:
    seed: str
    pub: str

    @classmethod
    def new(cls, role: str) -> KeyPair:
        seed, pub = new_keypair(role)
        return cls(seed, pub)


@dataclass(frozen=True, slots=True)
class User:
    name: str
    account: str  # account *name* in the Trust
    keys: KeyPair


def _apply_overrides(claims: dict[str, Any], nats: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    """Standard names go top-level, the rest into ``nats``; ``None`` removes; dicts merge shallowly."""
    for key, value in overrides.items():
        target = claims if key in STANDARD_CLAIMS else nats
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(target.get(key), dict):
            target[key] = {**target[key], **value}
        else:
            target[key] = value


class Trust:
    """Operator ``OP`` (identity + one signing key, ``system_account`` = SYS, ``account_server_url``),
    accounts ``SYS``, ``A``, ``B``, ``C`` and users ``sys``, ``a``, ``b``, ``c`` (one per account).

    ``version`` is the default JWT version of everything minted (``operator_version`` may differ).
    The operator JWT is written to ``operator_jwt_path`` at construction.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        version: int = 2,
        *,
        operator_version: int | None = None,
        account_server_url: str = "http://127.0.0.1:9090/jwt/v1",
        accounts: Iterable[str] = ("A", "B", "C"),
        operator_name: str = "OP",
    ) -> None:
        if version not in (1, 2):
            raise ValueError("version must be 1 or 2")
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.version = version
        self.operator_version = operator_version or version
        self.account_server_url = account_server_url
        self.operator_name = operator_name
        self.operator = KeyPair.new("O")
        self.operator_signing = KeyPair.new("O")
        self.accounts: dict[str, KeyPair] = {}
        self.users: dict[str, User] = {}
        self.add_account("SYS", user="sys")
        for name in accounts:
            self.add_account(name, user=name.lower())
        self.operator_jwt = self.make_operator_jwt()
        self.operator_jwt_path = self.dir / "operator.jwt"
        self.operator_jwt_path.write_text(self.operator_jwt, encoding="utf-8")

    # ------------------------------------------------------------------ identities
    def add_account(self, name: str, *, user: str | None = None) -> KeyPair:
        """Create account ``name`` (and optionally a user for it)."""
        if name in self.accounts:
            raise ValueError(f"account {name} exists")
        kp = KeyPair.new("A")
        self.accounts[name] = kp
        if user is not None:
            self.add_user(user, name)
        return kp

    def add_user(self, name: str, account: str) -> User:
        if account not in self.accounts:
            raise KeyError(account)
        u = User(name, account, KeyPair.new("U"))
        self.users[name] = u
        return u

    def pub(self, account: str) -> str:
        """Public key of account ``account`` (name)."""
        return self.accounts[account].pub

    def seed(self, account: str) -> str:
        return self.accounts[account].seed

    @property
    def system_account(self) -> str:
        return self.accounts["SYS"].pub

    def _signer_seed(self, signer: str) -> str:
        if signer == "operator":
            return self.operator.seed
        if signer == "signing_key":
            return self.operator_signing.seed
        if signer in self.accounts:
            return self.accounts[signer].seed
        if signer.startswith("S"):
            return signer  # a raw seed
        raise ValueError(f"unknown signer {signer!r}")

    # ------------------------------------------------------------------ JWTs
    def sign(self, claims: dict[str, Any], signer: str = "operator", version: int | None = None) -> str:
        """Sign prepared claims (``signer``: "operator", "signing_key", an account name or a seed)."""
        return encode(claims, self._signer_seed(signer), version=version or self.version)

    def operator_claims(self, version: int | None = None, **overrides: Any) -> dict[str, Any]:
        version = version or self.operator_version
        claims: dict[str, Any] = {
            "iat": int(time.time()),
            "iss": self.operator.pub,
            "name": self.operator_name,
            "sub": self.operator.pub,
        }
        nats: dict[str, Any] = {
            "signing_keys": [self.operator_signing.pub],
            "system_account": self.system_account,
            "account_server_url": self.account_server_url,
        }
        return self._finish(claims, nats, "operator", version, overrides)

    def make_operator_jwt(self, version: int | None = None, **overrides: Any) -> str:
        version = version or self.operator_version
        return encode(self.operator_claims(version, **overrides), self.operator.seed, version=version)

    def account_claims(self, name: str, version: int | None = None, **overrides: Any) -> dict[str, Any]:
        """Claims of account ``name``; overrides: ``exp=``, ``iat=``, ``nbf=``, ``limits={...}`` (merged),
        ``exports=[...]``, ``imports=[...]``, ``signing_keys=[...]``; ``None`` removes a claim."""
        version = version or self.version
        kp = self.accounts[name]
        claims: dict[str, Any] = {"iat": int(time.time()), "name": name, "sub": kp.pub}
        nats: dict[str, Any] = {"limits": dict(DEFAULT_ACCOUNT_LIMITS)}
        if version == 2:
            nats["default_permissions"] = {"pub": {}, "sub": {}}
        return self._finish(claims, nats, "account", version, overrides)

    def account_jwt(
        self, name: str, version: int | None = None, *, signer: str = "operator", **overrides: Any
    ) -> str:
        """Account JWT; ``signer="signing_key"`` uses the operator signing key, ``signer=name`` self-signs."""
        version = version or self.version
        return self.sign(self.account_claims(name, version, **overrides), signer, version)

    def user_claims(self, user: str, version: int | None = None, **overrides: Any) -> dict[str, Any]:
        version = version or self.version
        u = self.users[user]
        claims: dict[str, Any] = {"iat": int(time.time()), "name": user, "sub": u.keys.pub}
        nats: dict[str, Any] = {"pub": {}, "sub": {}}
        if version == 2:
            nats.update({"subs": -1, "data": -1, "payload": -1})
        return self._finish(claims, nats, "user", version, overrides)

    def user_jwt(self, user: str, version: int | None = None, **overrides: Any) -> str:
        version = version or self.version
        return self.sign(self.user_claims(user, version, **overrides), self.users[user].account, version)

    def activation_claims(
        self,
        exporter: str,
        importer: str,
        subject: str,
        kind: str = "stream",
        version: int | None = None,
        **overrides: Any,
    ) -> dict[str, Any]:
        """Activation token issued by account ``exporter`` for account ``importer`` (names)."""
        version = version or self.version
        claims: dict[str, Any] = {"iat": int(time.time()), "name": subject, "sub": self.pub(importer)}
        nats: dict[str, Any] = {"subject": subject}
        nats["kind" if version == 2 else "type"] = kind
        return self._finish(claims, nats, "activation", version, overrides)

    def activation_jwt(
        self,
        exporter: str,
        importer: str,
        subject: str,
        kind: str = "stream",
        version: int | None = None,
        **overrides: Any,
    ) -> str:
        version = version or self.version
        claims = self.activation_claims(exporter, importer, subject, kind, version, **overrides)
        return self.sign(claims, exporter, version)

    @staticmethod
    def _finish(
        claims: dict[str, Any], nats: dict[str, Any], kind: str, version: int, overrides: Mapping[str, Any]
    ) -> dict[str, Any]:
        if version == 2:
            nats.update({"type": kind, "version": 2})
        else:
            claims["type"] = kind
        _apply_overrides(claims, nats, overrides)
        claims["nats"] = nats
        return claims

    # ------------------------------------------------------------------ files
    def creds(
        self,
        user: str,
        version: int | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        **overrides: Any,
    ) -> Path:
        """Write ``<dir>/creds/<user>.creds`` (nsc format, accepted by nats-py ``user_credentials=``)."""
        target = Path(path) if path is not None else self.dir / "creds" / f"{user}.creds"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(format_creds(self.user_jwt(user, version, **overrides), self.users[user].keys.seed))
        return target

    def write_account_jwt(self, name: str, version: int | None = None, **overrides: Any) -> Path:
        """Write ``<dir>/accounts/<name>.jwt`` (e.g. for ``systemaccountjwtpath``); returns the path."""
        target = self.dir / "accounts" / f"{name}.jwt"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.account_jwt(name, version, **overrides), encoding="utf-8")
        return target

    @property
    def system_account_jwt_path(self) -> Path:
        path = self.dir / "accounts" / "SYS.jwt"
        return path if path.exists() else self.write_account_jwt("SYS")

    def nats_config(
        self,
        resolver: str | Mapping[str, object] = "MEMORY",
        *,
        preload: Iterable[str] = (),
        extra: str = "",
    ) -> str:
        """Operator-mode nats-server config for this trust; ``preload`` names accounts to preload."""
        jwts = {self.pub(name): self.account_jwt(name) for name in preload}
        return operator_config(
            self.operator_jwt_path, self.system_account, resolver, preload=jwts, extra=extra
        )
