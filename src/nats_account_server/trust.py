"""The operator's trust anchor: which issuer keys may sign account JWTs.

Read once at startup from the operator JWT (and the optional system account JWT), so request
handling only does set lookups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nats_account_server.jwt import JWTError, Token, decode_account, decode_operator, is_operator_key


class TrustError(Exception):
    """A startup problem with the operator or system account files (exit 1)."""


@dataclass(frozen=True, slots=True)
class Trust:
    """Trusted issuers plus the raw operator / system account JWTs that routes serve."""

    operator_jwt: str = ""
    operator: Token | None = None
    keys: frozenset[str] = field(default_factory=frozenset)
    system_account_jwt: str = ""
    system_account: Token | None = None

    @property
    def configured(self) -> bool:
        return self.operator is not None

    @property
    def system_account_key(self) -> str:
        return self.system_account.sub if self.system_account else ""

    def trusts(self, issuer: str) -> bool:
        return issuer in self.keys


def _signing_keys(op: Token) -> list[str]:
    """v2 lists plain keys; newer nsc versions may also emit objects with a `key` member."""
    out: list[str] = []
    for item in op.nats.get("signing_keys") or []:
        key = item.get("key", "") if isinstance(item, dict) else item
        if isinstance(key, str) and is_operator_key(key):
            out.append(key)
    return out


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise TrustError(f"error reading {what} JWT {path}: {exc}") from exc


def load_trust(operator_path: str, system_account_path: str) -> Trust:
    """Load and cross-check the operator and system account files named in the settings."""
    operator_jwt = ""
    operator: Token | None = None
    keys: set[str] = set()
    if operator_path:
        operator_jwt = _read(operator_path, "operator")
        try:
            operator = decode_operator(operator_jwt)
        except JWTError as exc:
            raise TrustError(f"error decoding operator JWT {operator_path}: {exc}") from exc
        keys.update(_signing_keys(operator))
        if not operator.nats.get("strict_signing_key_usage"):
            keys.add(operator.sub or operator.iss)
    sys_jwt = ""
    sys_tok: Token | None = None
    if system_account_path:
        sys_jwt = _read(system_account_path, "system account")
        try:
            sys_tok = decode_account(sys_jwt)
        except JWTError as exc:
            raise TrustError(f"error decoding system account JWT {system_account_path}: {exc}") from exc
        op_sys = operator.nats.get("system_account", "") if operator else ""
        if op_sys and op_sys != sys_tok.sub:
            raise TrustError(
                f"the Operator System Account {op_sys} differs from configured System Account {sys_tok.sub}"
            )
    return Trust(operator_jwt, operator, frozenset(keys), sys_jwt, sys_tok)
