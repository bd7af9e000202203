"""The operator's trust anchor: which issuer keys may sign account JWTs.

Read once at startup from the operator JWT (and the optional system account JWT), so request
handling only does set lookups.
"""

from __future__ import annotations

from dataclasses import field

from nats_account_server.boundedfiles import plain, read_regular
from nats_account_server.jwt import JWTError, Token, decode_account, decode_operator, is_operator_key
from nats_account_server.jwt.checks import issues_of
from nats_account_server.jwt.codec import MAX_TOKEN_SIZE
from nats_account_server.jwt.gotext import go_quote
from nats_account_server.log import log
from nats_account_server.records import record

_SLACK = 64  # the whitespace of a hand edit around the largest JWT


class TrustError(Exception):
    """A startup problem with the operator or system account files (exit 1)."""


@record(frozen=True)
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


def _trusted_keys(op: Token) -> set[str]:
    """The operator's signing keys, and its own key unless it asks for strict signing key usage;
    each must be an operator key, as nats-server requires before it trusts any of them."""
    claims = op.operator
    keys = set(claims.signing_keys)
    if not claims.strict_signing_key_usage:
        keys.add(claims.sub or claims.iss)
    for key in sorted(keys):
        if not is_operator_key(key):
            raise TrustError(f"trusted Keys {go_quote(key)} are required to be a valid public operator nkey")
    return keys


def _read(path: str, what: str) -> str:
    """The JWT in the file at ``path``: a regular file of at most a JWT's size (see boundedfiles),
    so that no file can hang or exhaust the start."""
    try:
        return read_regular(path, MAX_TOKEN_SIZE, slack=_SLACK).decode("utf-8").strip()
    except UnicodeDecodeError:
        raise TrustError(f"error reading {what} JWT {path}: not valid UTF-8 text") from None
    except OSError as exc:
        raise TrustError(f"error reading {what} JWT {path}: {plain(exc)}") from None


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
        keys = _trusted_keys(operator)
        for issue in issues_of(operator):  # nats-server does not validate its operator either: logged only
            log.warn(f"operator JWT {operator_path}: {issue.text}")
    sys_jwt = ""
    sys_tok: Token | None = None
    if system_account_path:
        sys_jwt = _read(system_account_path, "system account")
        try:
            sys_tok = decode_account(sys_jwt)
        except JWTError as exc:
            raise TrustError(f"error decoding system account JWT {system_account_path}: {exc}") from exc
        op_sys = operator.operator.system_account if operator else ""
        if op_sys and op_sys != sys_tok.sub:
            raise TrustError(
                f"the Operator System Account {op_sys} differs from configured System Account {sys_tok.sub}"
            )
    return Trust(operator_jwt, operator, frozenset(keys), sys_jwt, sys_tok)
