"""Helpers for store tests: real keys and signed JWTs minted with the project's own encoder."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nats_account_server.jwt.encode import encode, new_keypair


@dataclass
class Minter:
    """Mints an operator and account JWTs signed by it; remembers seeds so JWTs can be re-issued."""

    op_seed: str = ""
    op_pub: str = ""
    accounts: dict[str, str] = field(default_factory=dict)  # pub -> seed

    def __post_init__(self) -> None:
        self.op_seed, self.op_pub = new_keypair("O")

    def account_key(self) -> str:
        seed, pub = new_keypair("A")
        self.accounts[pub] = seed
        return pub

    def account_jwt(self, pub: str | None = None, name: str = "A", **extra: Any) -> tuple[str, str]:
        """(pub, jwt) of a v2 account JWT issued by the operator."""
        pub = pub or self.account_key()
        claims: dict[str, Any] = {"sub": pub, "name": name, "nats": {"type": "account", "version": 2}}
        claims.update(extra)
        return pub, encode(claims, self.op_seed)

    def operator_jwt(self, name: str = "Op") -> str:
        claims = {"sub": self.op_pub, "name": name, "nats": {"type": "operator", "version": 2}}
        return encode(claims, self.op_seed)

    def user_jwt(self, account_pub: str, name: str = "u") -> tuple[str, str]:
        _, upub = new_keypair("U")
        claims = {"sub": upub, "name": name, "nats": {"type": "user", "version": 2}}
        return upub, encode(claims, self.accounts[account_pub])


def activation_hash(seed_text: str) -> str:
    """A syntactically valid activation hash."""
    return base64.b32encode(hashlib.sha256(seed_text.encode()).digest()).decode()


def tree(root: Path) -> set[str]:
    """Every path below ``root`` (relative), to prove that nothing was created."""
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def make_nsc(base: Path, minter: Minter, accounts: dict[str, str], op_name: str = "Op") -> Path:
    """An nsc operator folder laid out exactly like ``nsc`` does; ``accounts`` maps name -> jwt."""
    op = base / op_name
    (op / "accounts").mkdir(parents=True)
    (op / ".nsc").write_text(json.dumps({"name": op_name, "kind": "operator", "version": "1"}))
    (op / f"{op_name}.jwt").write_text(minter.operator_jwt(op_name))
    for name, jwt in accounts.items():
        write_nsc_account(op, name, jwt)
    return op


def write_nsc_account(op: Path, name: str, jwt: str) -> Path:
    d = op / "accounts" / name
    d.mkdir(parents=True, exist_ok=True)
    p = d / f"{name}.jwt"
    p.write_text(jwt)
    return p


def umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old
