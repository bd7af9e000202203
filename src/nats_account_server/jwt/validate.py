"""Blocking validation issues for uploaded JWTs (SPEC 5.6 step 8).

Mirrors the time checks and the structural account checks of the NATS JWT library, all treated as
blocking. Import tokens are never fetched (the original's URL fetching was a request forgery hole).
"""

from __future__ import annotations

import json
import time
from typing import Any

from .codec import Token
from .nkeys import is_account_key

_WHITESPACE = frozenset(" \t\n\r\f\v")


def _q(value: object) -> str:
    """Quote a value for a one-line issue (JSON escaping keeps newlines out of the 400 body)."""
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:80] + "..."


def subject_problem(subject: object) -> str | None:
    """Why `subject` is not a valid NATS subject (None when it is one; wildcards allowed)."""
    if not isinstance(subject, str):
        return "is not a string"
    if subject == "":
        return "cannot be empty"
    if any(c in _WHITESPACE for c in subject):
        return "cannot contain whitespace"
    tokens = subject.split(".")
    if any(t == "" for t in tokens):
        return "cannot contain empty tokens"
    if ">" in tokens[:-1]:
        return "can only have `>` as the last token"
    return None


def has_wildcards(subject: str) -> bool:
    return any(t in ("*", ">") for t in subject.split("."))


def _limit(limits: dict[str, Any], name: str) -> int | None:
    """A non-negative limit, or None when unlimited (-1) or unset."""
    value = limits.get(name)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _list_member(nats: dict[str, Any], name: str, issues: list[str]) -> list[Any]:
    value = nats.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        issues.append(f"{name} must be a list")
        return []
    return value


def _check_subject(what: str, subject: object, issues: list[str]) -> None:
    problem = subject_problem(subject)
    if problem is not None:
        issues.append(f"{what} subject {_q(subject)} {problem}")


def _import_issues(imports: list[Any], issues: list[str]) -> None:
    for imp in imports:
        if not isinstance(imp, dict):
            issues.append("import must be an object")
            continue
        subject = imp.get("subject")
        _check_subject("import", subject, issues)
        for member in ("to", "local_subject"):
            if imp.get(member) not in (None, ""):
                _check_subject(f"import {member}", imp.get(member), issues)
        account = imp.get("account")
        if account in (None, ""):
            issues.append(f"import {_q(subject)}: account to import from is not specified")
        elif not is_account_key(account):
            issues.append(f"import {_q(subject)}: account {_q(account)} is not a valid account public key")


def _export_issues(exports: list[Any], wildcards_allowed: bool, issues: list[str]) -> None:
    for exp in exports:
        if not isinstance(exp, dict):
            issues.append("export must be an object")
            continue
        subject = exp.get("subject")
        _check_subject("export", subject, issues)
        if not isinstance(subject, str):
            continue
        if exp.get("type") == "service" and has_wildcards(subject):
            issues.append(f"services cannot have wildcard subject: {_q(subject)}")
        elif not wildcards_allowed and has_wildcards(subject):
            issues.append("the account contains wildcard exports that are not allowed by the operator")


def _signing_key_issues(tok: Token, issues: list[str]) -> None:
    for entry in _list_member(tok.nats, "signing_keys", issues):
        key = entry.get("key") if tok.version >= 2 and isinstance(entry, dict) else entry
        if not isinstance(key, str) or not is_account_key(key):
            issues.append(f"{_q(key)} is not a valid account signing key")


def account_issues(tok: Token) -> list[str]:
    """Structural checks of an account JWT's `nats` member."""
    issues: list[str] = []
    nats = tok.nats
    limits = nats.get("limits")
    if limits is None:
        limits = {}
    elif not isinstance(limits, dict):
        issues.append("limits must be an object")
        limits = {}
    imports = _list_member(nats, "imports", issues)
    exports = _list_member(nats, "exports", issues)
    _import_issues(imports, issues)
    _export_issues(exports, limits.get("wildcards") is not False, issues)
    max_imports, max_exports = _limit(limits, "imports"), _limit(limits, "exports")
    if max_imports is not None and len(imports) > max_imports:
        issues.append("the account contains more imports than allowed by the operator")
    if max_exports is not None and len(exports) > max_exports:
        issues.append("the account contains more exports than allowed by the operator")
    _signing_key_issues(tok, issues)
    return issues


def validation_issues(tok: Token, now: int | None = None) -> list[str]:
    """Blocking issues: time window for every claim type, plus structure for account claims."""
    current = int(time.time()) if now is None else now
    issues: list[str] = []
    if tok.exp > 0 and current > tok.exp:
        issues.append("claim is expired")
    if tok.nbf > 0 and tok.nbf > current:
        issues.append("claim is not yet valid")
    if tok.kind == "account":
        issues.extend(account_issues(tok))
    return list(dict.fromkeys(issues))
