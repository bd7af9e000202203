"""Validation of decoded claims, check by check, as the NATS JWT library validates them.

Every applicable issue is reported, in the library's order and with its texts; issues are not
deduplicated, so some conditions report the same text twice. Who signed a token and whether its
subject is the one asked for are the server's rules, not checked here. The kinds of issue and the
shared checks are in `issues`, the checks of imports and exports in `sharing`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from nats_account_server.records import record

from .claims import JetStreamLimits, WeightedMapping
from .codec import JWTError, Token, decode_account, decode_activation, decode_operator
from .gotext import go_quote
from .gourl import URLError, parse
from .issues import BLOCKING, EXPIRED, TIME, WARNING, Crash, Issue, Issues, info_issues, time_issues
from .layouts import AccountClaims, ActivationClaims, OperatorClaims
from .nkeys import has_role
from .sharing import NULL_EXPORT_CRASH, activation_texts, exports_issues, imports_issues
from .subjects import go_atoi, has_wildcards, subject_issues

__all__ = [
    "BLOCKING",
    "EXPIRED",
    "NULL_EXPORT_CRASH",
    "TIME",
    "WARNING",
    "Issue",
    "Verdict",
    "account_issues",
    "activation_issues",
    "issues_of",
    "judge",
    "operator_issues",
]

_SERVICE_SCHEMES = ("nats", "tls", "ws", "wss")
_TOO_MANY_IMPORTS = "the account contains more imports than allowed by the operator"


# ---------------------------------------------------------------- limits, permissions, mappings
def _tiers(claims: AccountClaims, out: Issues) -> None:
    """With tiers, no flat JetStream limits and no tier named ""."""
    limits = claims.limits
    if not limits.tiered_limits:
        return
    if not JetStreamLimits.empty(limits):
        out.block("JetStream Limits and tiered JetStream Limits are mutually exclusive")
    if "" in limits.tiered_limits:
        out.block('Tiered JetStream Limits can not contain a blank "" tier name')


def _permission(entry: str, queue: bool, out: Issues) -> None:
    """A subject, or (split on single spaces) a subject and a queue group where queues are allowed."""
    parts = entry.split(" ")
    if len(parts) > 2:
        out.block(f'Permission Subject "{entry}" contains too many spaces')
        return
    for part in parts:
        out.blocks(subject_issues(part))
    if len(parts) == 2 and not queue:
        out.block(f'Permission Subject "{entry}" is not allowed to contain queue')


def _permissions(claims: AccountClaims, out: Issues) -> None:
    """Subscribe allow and deny (queue groups allowed), then publish allow and deny."""
    sub, pub = claims.default_permissions.sub, claims.default_permissions.pub
    for entries, queue in ((sub.allow, True), (sub.deny, True), (pub.allow, False), (pub.deny, False)):
        for entry in entries:
            _permission(entry, queue, out)


def _mapping(source: str, targets: list[WeightedMapping], out: Issues) -> None:
    """Valid subjects; each weight (0 is 100) at most 100, per cluster and in all at most 100."""
    q = go_quote(source)
    out.blocks(subject_issues(source))
    total = 0
    clusters: dict[str, int] = {}
    for target in targets:
        out.blocks(subject_issues(target.subject))
        weight = target.weight or 100
        if weight > 100:
            out.block(f"Mapping {q} has a weight {weight} that exceeds 100")
        if target.cluster:
            clusters[target.cluster] = clusters.get(target.cluster, 0) + weight
            if clusters[target.cluster] > 100:
                cluster = go_quote(target.cluster)
                out.block(
                    f"Mapping {q} in cluster {cluster} exceeds 100% among all of it's weighted to mappings"
                )
        else:
            total += weight
    if total > 100:
        out.block(f"Mapping {q} exceeds 100% among all of it's weighted to mappings")


def _mappings(claims: AccountClaims, out: Issues) -> None:
    for source, targets in claims.mappings.items():
        _mapping(source, targets, out)


def _info_of(claims: AccountClaims, out: Issues) -> None:
    info_issues(claims.description, claims.info_url, out)


def _authorization(claims: AccountClaims, out: Issues) -> None:
    """Accounts need users; users are user keys; accounts are account keys or a lone `*`; an xkey is a
    curve key."""
    auth = claims.authorization
    if auth.allowed_accounts and not auth.auth_users:
        out.block("External authorization cannot have accounts without users specified")
    for user in auth.auth_users:
        if not has_role(user, "U"):
            out.block(f"AuthUser {go_quote(user)} is not a valid user public key")
    for account in auth.allowed_accounts:
        if account == "*":
            if len(auth.allowed_accounts) > 1:
                out.block('AllowedAccounts can only be a list of accounts or "*"')
        elif not has_role(account, "A"):
            out.block(f"Account {go_quote(account)} is not a valid account public key")
    if auth.xkey and not has_role(auth.xkey, "X"):
        out.block(f"XKey {go_quote(auth.xkey)} is not a valid public xkey")


def _trace(claims: AccountClaims, out: Issues) -> None:
    """A trace destination is a valid publish subject (first subject issue only); sampling 0..100."""
    trace = claims.trace
    if trace is None:
        return
    found = subject_issues(trace.dest)
    if found:
        out.block(f"the account Trace.Destination {found[0]}")
    if has_wildcards(trace.dest):
        out.block(
            f"the account Trace.Destination subject {go_quote(trace.dest)} is not a valid publish subject"
        )
    if not 0 <= trace.sampling <= 100:
        value = trace.sampling
        out.block(f"the account Trace.Sampling value '{value}' is not valid, should be in the range [1..100]")


def _counts(claims: AccountClaims, out: Issues) -> None:
    """Import and export counts within the limits (-1: none), no wildcard exports unless allowed; the
    import limit is tested twice, so an excess is often reported twice."""
    limits, imports, exports = claims.limits, len(claims.imports), len(claims.exports)
    if not limits.empty() and limits.imports >= 0 and imports > limits.imports:
        out.block(_TOO_MANY_IMPORTS)
    if limits.imports != -1 and imports > limits.imports:
        out.block(_TOO_MANY_IMPORTS)
    if limits.exports == -1:
        return
    if exports > limits.exports:
        out.block("the account contains more exports than allowed by the operator")
    if limits.wildcards:
        return
    for exp in claims.exports:
        if exp is None:
            out.block(NULL_EXPORT_CRASH)
            raise Crash
        if has_wildcards(exp.subject):
            out.block("the account contains wildcard exports that are not allowed by the operator")


def _signing_keys(claims: AccountClaims, out: Issues) -> None:
    """Plain and scoped signing keys are account keys."""
    for key, scope in claims.signing_keys.items():
        if scope is None:
            if not has_role(key, "A"):
                out.block(f"{go_quote(key)} is not a valid account signing key")
        elif not has_role(scope.key, "A"):
            out.block(f"{scope.key} is not an account public key")


def _cluster_traffic(claims: AccountClaims, out: Issues) -> None:
    """Cluster traffic is empty, `system` or `owner`."""
    if claims.cluster_traffic not in ("", "system", "owner"):
        out.block(f"unknown cluster traffic option: {go_quote(claims.cluster_traffic)}")


_ACCOUNT_STEPS: tuple[Callable[[AccountClaims, Issues], None], ...] = (
    imports_issues,
    exports_issues,
    _tiers,
    _permissions,
    _mappings,
    _authorization,
    _trace,
    _counts,
    _signing_keys,
    _info_of,
    _cluster_traffic,
)


def account_issues(claims: AccountClaims, now: int) -> list[Issue]:
    """Times, imports, exports, tiers, default permissions, mappings, authorization, trace, counts,
    signing keys, info, cluster traffic; then a warning for limits in a self-signed account."""
    out = Issues()
    time_issues(claims, now, out)
    if claims.exp != 0 and claims.exp <= now and not any(i.text == EXPIRED for i in out):
        # nats-server's own expiry check, beyond the library's: any non-zero `exp` at or before now
        # (a negative one too) makes it refuse the account; its verdict is the one that counts
        out.append(Issue(EXPIRED, TIME))
    try:
        for step in _ACCOUNT_STEPS:
            step(claims, out)
    except Crash:
        return list(out)
    if has_role(claims.iss, "A") and not claims.limits.empty():
        out.warn("self-signed account JWTs shouldn't contain operator limits")
    return list(out)


# ---------------------------------------------------------------- activations and operators
def activation_issues(claims: ActivationClaims, now: int) -> list[Issue]:
    """Times, then the activation's own checks."""
    out = Issues()
    time_issues(claims, now, out)
    out.blocks(activation_texts(claims))
    return list(out)


def _account_server_url(url: str) -> str | None:
    """A non-empty account server URL parses and has a scheme."""
    if not url:
        return None
    try:
        parsed = parse(url)
    except URLError as exc:
        return f"error parsing account server url: {exc}"
    return None if parsed.scheme else f"account server url {go_quote(url)} requires a protocol"


def _service_url(url: str) -> str | None:
    """A non-empty service URL parses, without credentials or path, with a NATS scheme: the first
    failure only."""
    q = go_quote(url)
    try:
        parsed = parse(url)
    except URLError as exc:
        return f"error parsing operator service url {q}: {exc}"
    if parsed.user is not None:
        return f"operator service url {q} - credentials are not supported"
    if parsed.path:
        return f"operator service url {q} - paths are not supported"
    if parsed.scheme.lower() not in _SERVICE_SCHEMES:
        return f"operator service url {q} - protocol not supported (only 'nats', 'tls', 'ws', 'wss' only)"
    return None


def _server_version(version: str) -> str | None:
    """Three `.`-separated integers (Go's Atoi), none negative."""
    prefix = "assert server version error: asserted server version"
    parts = version.split(".")
    if len(parts) != 3:
        return f"{prefix} must be of the form <major>.<minor>.<update>"
    numbers: list[int] = []
    for part in parts:
        number = go_atoi(part)
        if number is None:
            return f"{prefix} cant parse {part} to int"
        numbers.append(number)
    if min(numbers) < 0:
        return f"{prefix} can'b contain negative values: {version}"
    return None


def operator_issues(claims: OperatorClaims, now: int) -> list[Issue]:
    """Times, the account server URL, each service URL, signing keys are operator keys, the system
    account is an account key, the asserted server version."""
    out = Issues()
    time_issues(claims, now, out)
    texts = [_account_server_url(claims.account_server_url)]
    texts.extend(_service_url(url) for url in claims.operator_service_urls if url)
    texts.extend(
        f"{key} is not an operator public key" for key in claims.signing_keys if not has_role(key, "O")
    )
    system = claims.system_account
    if system and not has_role(system, "A"):
        texts.append(f"{system} is not an account public key")
    if claims.assert_server_version:
        texts.append(_server_version(claims.assert_server_version))
    out.blocks([t for t in texts if t is not None])
    return list(out)


# ---------------------------------------------------------------- dispatch and verdicts
def issues_of(tok: Token, now: int | None = None) -> list[Issue]:
    """The issues of a decoded token by its claims' kind (other kinds: time checks only)."""
    current = int(time.time()) if now is None else now
    claims = tok.claims
    if isinstance(claims, AccountClaims):
        return account_issues(claims, current)
    if isinstance(claims, ActivationClaims):
        return activation_issues(claims, current)
    if isinstance(claims, OperatorClaims):
        return operator_issues(claims, current)
    out = Issues()
    time_issues(claims, current, out)
    return list(out)


@record(frozen=True)
class Verdict:
    """A decode error, or the decoded token and its issues."""

    error: str | None
    issues: tuple[Issue, ...]
    token: Token | None

    @property
    def refused(self) -> bool:
        """Refused when it did not decode or has any blocking or time issue."""
        return self.error is not None or any(i.blocks for i in self.issues)


_DECODERS: dict[str, Callable[[str], Token]] = {
    "account": decode_account,
    "activation": decode_activation,
    "operator": decode_operator,
}


def judge(raw: str, kind: str, *, now: int | None = None) -> Verdict:
    """Decode `raw` as `kind` ("account", "activation" or "operator") and validate it; bad input is
    a verdict, never an exception (an unknown `kind` is a ValueError)."""
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise ValueError(f"unknown claim kind {kind!r}")
    try:
        tok = decoder(raw)
    except JWTError as exc:
        return Verdict(str(exc), (), None)
    return Verdict(None, tuple(issues_of(tok, now)), tok)
