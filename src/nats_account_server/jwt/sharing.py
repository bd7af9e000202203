"""Checks of what an account shares and takes: its exports, and its imports with their activation
tokens, as the JWT library validates them."""

from __future__ import annotations

from .claims import Export, Import
from .codec import JWTError, decode_activation
from .gotext import go_quote
from .issues import Issues, info_issues
from .layouts import AccountClaims, ActivationClaims
from .nkeys import has_role
from .subjects import (
    contained_in,
    has_wildcards,
    renaming_issues,
    renaming_to_subject,
    subject_issues,
)

__all__ = ["NULL_EXPORT_CRASH", "UNKNOWN_IMPORT", "activation_texts", "exports_issues", "imports_issues"]

#: The library dereferences a null export while counting wildcard exports and crashes; refused here.
NULL_EXPORT_CRASH = "a null export crashes the validation of wildcard exports"
UNKNOWN_IMPORT = 'invalid import type: "unknown"'
_RESPONSE_TYPES = ("", "Singleton", "Stream", "Chunked")


# ---------------------------------------------------------------- imports (with activation tokens)
def _local_subject(imp: Import) -> str:
    """Where a service import lands: `to`, else `local_subject` with references as `*`, else `subject`."""
    if imp.to:
        return imp.to
    if imp.local_subject:
        return renaming_to_subject(imp.local_subject)
    return imp.subject


def _overlaps(imp: Import, seen: dict[str, list[str]], out: Issues) -> None:
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


def _import(imp: Import, claims: AccountClaims, out: Issues) -> None:
    """Typed, from a named account, valid subjects and renaming, sharing only for services, and an
    embedded activation token that fits."""
    service = imp.type == "service"
    if not imp.type:
        out.block(UNKNOWN_IMPORT)
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
    out.extend(activation_texts(act))
    imported = imp.to if imp.type == "service" and imp.to else imp.subject
    if not contained_in(imported, act.subject):
        out.append(f"activation token import subject {go_quote(act.subject)} doesn't match import {q}")
    return out


def imports_issues(claims: AccountClaims, out: Issues) -> None:
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
def _latency(exp: Export, out: Issues) -> None:
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


def _token_position(subject: str, position: int, out: Issues) -> None:
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


def _export(exp: Export, out: Issues) -> None:
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
    info_issues(exp.description, exp.info_url, out)


def _export_overlaps(subjects: list[str], kind: str, out: Issues) -> None:
    """One issue per subject containing another entry's subject, naming the first such subject."""
    found: dict[str, str] = {}
    for i, contained in enumerate(subjects):
        for j, container in enumerate(subjects):
            if i != j and container not in found and contained_in(contained, container):
                found[container] = contained
    for container, contained in found.items():
        out.block(f"{kind} export subject {go_quote(container)} already exports {go_quote(contained)}")


def exports_issues(claims: AccountClaims, out: Issues) -> None:
    """Each export in order (a null entry is refused), then overlaps among services and among the rest."""
    for exp in claims.exports:
        if exp is None:
            out.block("null export is not allowed")
        else:
            _export(exp, out)
    present = [e for e in claims.exports if e is not None]
    _export_overlaps([e.subject for e in present if e.type == "service"], "service", out)
    _export_overlaps([e.subject for e in present if e.type != "service"], "stream", out)


def activation_texts(claims: ActivationClaims) -> list[str]:
    """An import type, a valid subject, an `issuer_account` that is an account key if set."""
    out = [UNKNOWN_IMPORT] if not claims.kind else []
    out.extend(subject_issues(claims.subject))
    if claims.issuer_account and not has_role(claims.issuer_account, "A"):
        out.append("account_id is not an account public key")
    return out
