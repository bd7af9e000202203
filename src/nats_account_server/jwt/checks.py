"""Validation of decoded claims, check by check, as the NATS JWT library validates them.

An issue is blocking (the claims are invalid), a time check (`exp` / `nbf` say "not now") or a
warning (advisory); nats-server refuses an account on any blocking or time issue and ignores
warnings. Every applicable issue is reported, in the library's order and with its texts; issues are
not deduplicated, so some conditions report the same text twice. Who signed a token and whether its
subject is the one asked for are the server's rules, not checked here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .claims import Export, Import, JetStreamLimits, WeightedMapping
from .codec import JWTError, Token, decode_account, decode_activation, decode_operator
from .gotext import go_quote
from .gourl import URLError, info_url_issue, parse
from .layouts import AccountClaims, ActivationClaims, Claims, OperatorClaims
from .nkeys import has_role
from .subjects import (
    contained_in,
    go_atoi,
    has_wildcards,
    renaming_issues,
    renaming_to_subject,
    subject_issues,
)

__all__ = [
    "BLOCKING",
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

BLOCKING, TIME, WARNING = "blocking", "time", "warning"
#: The library dereferences a null export while counting wildcard exports and crashes; refused here.
NULL_EXPORT_CRASH = "a null export crashes the validation of wildcard exports"
MAX_INFO_LENGTH = 8192
_RESPONSE_TYPES = ("", "Singleton", "Stream", "Chunked")
_SERVICE_SCHEMES = ("nats", "tls", "ws", "wss")
_UNKNOWN_IMPORT = 'invalid import type: "unknown"'
_TOO_MANY_IMPORTS = "the account contains more imports than allowed by the operator"


@dataclass(frozen=True, slots=True)
class Issue:
    """One validation issue: its text and kind (blocking, time check or warning)."""

    text: str
    kind: str

    @property
    def blocks(self) -> bool:
        """Blocking issues and time checks refuse; warnings never do."""
        return self.kind in (BLOCKING, TIME)


class _Issues(list[Issue]):
    """Issues in the order found."""

    def block(self, text: str) -> None:
        self.append(Issue(text, BLOCKING))

    def warn(self, text: str) -> None:
        self.append(Issue(text, WARNING))

    def blocks(self, texts: list[str]) -> None:
        self.extend(Issue(t, BLOCKING) for t in texts)


class _Crash(Exception):
    """The library would crash here: no further checks run."""


EXPIRED = "claim is expired"


def _time(claims: Claims, now: int, out: _Issues) -> None:
    """Expired when now is past `exp`; not yet valid when `nbf` is after now (0 or less: none)."""
    if claims.exp > 0 and now > claims.exp:
        out.append(Issue(EXPIRED, TIME))
    if claims.nbf > 0 and claims.nbf > now:
        out.append(Issue("claim is not yet valid", TIME))


def _info(description: str, info_url: str, out: _Issues) -> None:
    """Description and info URL at most 8192 UTF-8 bytes; a non-empty URL must parse with a scheme
    and a host name (an overlong URL is also parsed)."""
    if len(description.encode("utf-8", "surrogatepass")) > MAX_INFO_LENGTH:
        out.block("Description is too long")
    if info_url:
        if len(info_url.encode("utf-8", "surrogatepass")) > MAX_INFO_LENGTH:
            out.block("Info URL is too long")
        problem = info_url_issue(info_url)
        if problem is not None:
            out.block(problem)


# ---------------------------------------------------------------- imports (with activation tokens)
def _local_subject(imp: Import) -> str:
    """Where a service import lands: `to`, else `local_subject` with references as `*`, else `subject`."""
    if imp.to:
        return imp.to
    if imp.local_subject:
        return renaming_to_subject(imp.local_subject)
    return imp.subject


def _overlaps(imp: Import, seen: dict[str, list[str]], out: _Issues) -> None:
    """A service import's local subject must neither contain nor be contained in that of an earlier
    service import from the same account; an exact repeat is reported a second time."""
    local = _local_subject(imp)
    earlier = seen.setdefault(imp.account, [])
    q, account = go_quote(local), go_quote(imp.account)
    for other in earlier:
        if contained_in(local, other) or contained_in(other, local):
            out.block(
                f"overlapping subject namespace for {q} and {go_quote(other)} in same account {account}"
            )
    if local in earlier:
        out.block(f"overlapping subject namespace for {q} in account {account}")
    else:
        earlier.append(local)


def _import(imp: Import, claims: AccountClaims, out: _Issues) -> None:
    """Typed, from a named account, valid subjects and renaming, sharing only for services, and an
    embedded activation token that fits."""
    service = imp.type == "service"
    if not imp.type:
        out.block(_UNKNOWN_IMPORT)
    if service and imp.allow_trace:
        out.block("AllowTrace only valid for stream import")
    if not imp.account:
        out.block("account to import from is not specified")
    if imp.to:
        out.warn("the field to has been deprecated (use LocalSubject instead)")
    out.blocks(subject_issues(imp.subject))
    if imp.local_subject:
        out.blocks(renaming_issues(imp.local_subject, imp.subject))
        if imp.to:
            out.block("Local Subject replaces To")
    if imp.share and not service:
        out.block(
            f"sharing information (for latency tracking) is only valid for services: {go_quote(imp.subject)}"
        )
    if imp.token:
        out.blocks(_token_issues(imp, claims.sub))


def _token_issues(imp: Import, account_sub: str) -> list[str]:
    """The embedded activation must decode, be issued by (or for) the exporting account, name this
    account, be of the import's type, be valid itself (times aside) and cover the imported subject."""
    q = go_quote(imp.subject)
    try:
        act = decode_activation(imp.token).activation
    except JWTError:
        return [f"import {q} contains an invalid activation token"]
    out: list[str] = []
    if imp.account not in (act.iss, act.issuer_account):
        out.append(f"activation token doesn't match account for import {q}")
    if act.sub != account_sub:
        out.append(f"activation token doesn't match account it is being included in, {q}")
    if act.kind != imp.type:
        kinds = act.kind or "unknown", imp.type or "unknown"
        out.append(f"mismatch between token import type {kinds[0]} and type of import {kinds[1]}")
    out.extend(_activation_texts(act))
    imported = imp.to if imp.type == "service" and imp.to else imp.subject
    if not contained_in(imported, act.subject):
        out.append(f"activation token import subject {go_quote(act.subject)} doesn't match import {q}")
    return out


def _imports(claims: AccountClaims, out: _Issues) -> None:
    """Each import in order: a null entry is refused; a service import is first overlap-checked."""
    seen: dict[str, list[str]] = {}
    for imp in claims.imports:
        if imp is None:
            out.block("null import is not allowed")
            continue
        if imp.type == "service":
            _overlaps(imp, seen, out)
        _import(imp, claims, out)


# ---------------------------------------------------------------- exports
def _latency(exp: Export, out: _Issues) -> None:
    """Latency tracking only for services, sampling headers (0) or 1..100, a valid results subject
    without wildcards."""
    latency = exp.service_latency
    if latency is None:
        return
    if exp.type != "service":
        out.block("latency tracking only permitted for services")
    if latency.sampling != 0 and not 1 <= latency.sampling <= 100:
        out.block("sampling percentage needs to be between 1-100")
    out.blocks(subject_issues(latency.results))
    if has_wildcards(latency.results):
        out.block("results subject can not contain wildcards")


def _token_position(subject: str, position: int, out: _Issues) -> None:
    """A token position needs a wildcard subject whose token at that position (from 1) is `*`."""
    if position <= 0:
        return
    tokens = subject.split(".")
    if not has_wildcards(subject):
        out.block(f"Account Token Position can only be used with wildcard subjects: {subject}")
    elif position > len(tokens):
        out.block(f"Account Token Position {position} exceeds length of subject '{subject}'")
    elif tokens[position - 1] != "*":
        token = tokens[position - 1]
        out.block(f"Account Token Position {position} matches '{token}' but must match a * in: {subject}")


def _export(exp: Export, out: _Issues) -> None:
    """Typed; response types, tracing, latency and thresholds only where they apply; a valid subject,
    token position and info."""
    service, stream = exp.type == "service", exp.type == "stream"
    if not exp.type:
        out.block('invalid export type: "unknown"')
    if service and exp.response_type not in _RESPONSE_TYPES:
        out.block(f"invalid response type for service: {go_quote(exp.response_type)}")
    if stream and exp.response_type:
        out.block(f"invalid response type for stream: {go_quote(exp.response_type)}")
    if stream and exp.allow_trace:
        out.block("AllowTrace only valid for service export")
    _latency(exp, out)
    if exp.response_threshold < 0:
        out.block("negative response threshold is invalid")
    if exp.response_threshold > 0 and not service:
        out.block("response threshold only valid for services")
    out.blocks(subject_issues(exp.subject))
    _token_position(exp.subject, exp.account_token_position, out)
    _info(exp.description, exp.info_url, out)


def _export_overlaps(subjects: list[str], kind: str, out: _Issues) -> None:
    """One issue per subject containing another entry's subject, naming the first such subject."""
    found: dict[str, str] = {}
    for i, contained in enumerate(subjects):
        for j, container in enumerate(subjects):
            if i != j and container not in found and contained_in(contained, container):
                found[container] = contained
    for container, contained in found.items():
        out.block(f"{kind} export subject {go_quote(container)} already exports {go_quote(contained)}")


def _exports(claims: AccountClaims, out: _Issues) -> None:
    """Each export in order (a null entry is refused), then overlaps among services and among the rest."""
    for exp in claims.exports:
        if exp is None:
            out.block("null export is not allowed")
        else:
            _export(exp, out)
    present = [e for e in claims.exports if e is not None]
    _export_overlaps([e.subject for e in present if e.type == "service"], "service", out)
    _export_overlaps([e.subject for e in present if e.type != "service"], "stream", out)


# ---------------------------------------------------------------- limits, permissions, mappings
def _tiers(claims: AccountClaims, out: _Issues) -> None:
    """With tiers, no flat JetStream limits and no tier named ""."""
    limits = claims.limits
    if not limits.tiered_limits:
        return
    if not JetStreamLimits.empty(limits):
        out.block("JetStream Limits and tiered JetStream Limits are mutually exclusive")
    if "" in limits.tiered_limits:
        out.block('Tiered JetStream Limits can not contain a blank "" tier name')


def _permission(entry: str, queue: bool, out: _Issues) -> None:
    """A subject, or (split on single spaces) a subject and a queue group where queues are allowed."""
    parts = entry.split(" ")
    if len(parts) > 2:
        out.block(f'Permission Subject "{entry}" contains too many spaces')
        return
    for part in parts:
        out.blocks(subject_issues(part))
    if len(parts) == 2 and not queue:
        out.block(f'Permission Subject "{entry}" is not allowed to contain queue')


def _permissions(claims: AccountClaims, out: _Issues) -> None:
    """Subscribe allow and deny (queue groups allowed), then publish allow and deny."""
    sub, pub = claims.default_permissions.sub, claims.default_permissions.pub
    for entries, queue in ((sub.allow, True), (sub.deny, True), (pub.allow, False), (pub.deny, False)):
        for entry in entries:
            _permission(entry, queue, out)


def _mapping(source: str, targets: list[WeightedMapping], out: _Issues) -> None:
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


def _mappings(claims: AccountClaims, out: _Issues) -> None:
    for source, targets in claims.mappings.items():
        _mapping(source, targets, out)


def _info_of(claims: AccountClaims, out: _Issues) -> None:
    _info(claims.description, claims.info_url, out)


def _authorization(claims: AccountClaims, out: _Issues) -> None:
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


def _trace(claims: AccountClaims, out: _Issues) -> None:
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


def _counts(claims: AccountClaims, out: _Issues) -> None:
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
            raise _Crash
        if has_wildcards(exp.subject):
            out.block("the account contains wildcard exports that are not allowed by the operator")


def _signing_keys(claims: AccountClaims, out: _Issues) -> None:
    """Plain and scoped signing keys are account keys."""
    for key, scope in claims.signing_keys.items():
        if scope is None:
            if not has_role(key, "A"):
                out.block(f"{go_quote(key)} is not a valid account signing key")
        elif not has_role(scope.key, "A"):
            out.block(f"{scope.key} is not an account public key")


def _cluster_traffic(claims: AccountClaims, out: _Issues) -> None:
    """Cluster traffic is empty, `system` or `owner`."""
    if claims.cluster_traffic not in ("", "system", "owner"):
        out.block(f"unknown cluster traffic option: {go_quote(claims.cluster_traffic)}")


_ACCOUNT_STEPS: tuple[Callable[[AccountClaims, _Issues], None], ...] = (
    _imports,
    _exports,
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
    out = _Issues()
    _time(claims, now, out)
    if claims.exp != 0 and claims.exp <= now and not any(i.text == EXPIRED for i in out):
        # nats-server's own expiry check, beyond the library's: any non-zero `exp` at or before now
        # (a negative one too) makes it refuse the account; its verdict is the one that counts
        out.append(Issue(EXPIRED, TIME))
    try:
        for step in _ACCOUNT_STEPS:
            step(claims, out)
    except _Crash:
        return list(out)
    if has_role(claims.iss, "A") and not claims.limits.empty():
        out.warn("self-signed account JWTs shouldn't contain operator limits")
    return list(out)


# ---------------------------------------------------------------- activations and operators
def _activation_texts(claims: ActivationClaims) -> list[str]:
    """An import type, a valid subject, an `issuer_account` that is an account key if set."""
    out = [_UNKNOWN_IMPORT] if not claims.kind else []
    out.extend(subject_issues(claims.subject))
    if claims.issuer_account and not has_role(claims.issuer_account, "A"):
        out.append("account_id is not an account public key")
    return out


def activation_issues(claims: ActivationClaims, now: int) -> list[Issue]:
    """Times, then the activation's own checks."""
    out = _Issues()
    _time(claims, now, out)
    out.blocks(_activation_texts(claims))
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
    out = _Issues()
    _time(claims, now, out)
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
    out = _Issues()
    _time(claims, current, out)
    return list(out)


@dataclass(frozen=True, slots=True)
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
