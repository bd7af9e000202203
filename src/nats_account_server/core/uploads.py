"""Uploads: the order of checks for accounts, the signing service and activations.

Transport-free: HTTP routes call these with the raw body and the client's address, and send the
answer. Every decision on an upload is logged here in one line, on every channel (the NATS claim
updates log through the same functions): a refusal at WRN (ERR when the server or a service it needs
failed) with the reason the client got, an accepted change at INF as an audit line (new and previous
jti, issuer, channel and client), an upload identical to the stored JWT at DBG only.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from nats_account_server.core.acceptance import Refused, accept_activation, blocking
from nats_account_server.core.kinds import Kind
from nats_account_server.core.notifier import NoResponders, NotConnected, RequestTimeout
from nats_account_server.core.service import Core, Failure
from nats_account_server.core.store import StoreUnavailable
from nats_account_server.core.verdict import Saved
from nats_account_server.jwt import (
    JWTError,
    Token,
    activation_hash,
    decode,
    decode_account,
    is_account_key,
    is_operator_key,
    peek_claims,
)
from nats_account_server.log import bounded, log, short_key
from nats_account_server.metrics import metrics
from nats_account_server.oserrors import error_text
from nats_account_server.records import record

if TYPE_CHECKING:  # applied-by reports: imported by the uploads that ask for one (?wait=)
    from nats_account_server.core.applied import Confirmations

ISSUES_HEADER = (
    "The server was unable to update the account JWT because one or more validation issues occurred:"
)
ACTIVATION_ISSUES_HEADER = ISSUES_HEADER.replace("account JWT", "activation JWT")
ACT = "activation"
NO_OPERATOR = (
    "no operator is configured, so this server cannot accept uploads;"
    " configure the operator JWT with -operator <file> or operatorjwtpath"
)
UNAVAILABLE = "store unavailable (JetStream KV cannot be reached), the JWT was not saved; try again later"


@record(frozen=True)
class Answer:
    """What an upload ends with: a status and a plain-text body (message + newline); an upload that
    waited for the nats-servers has their answers as `report` instead."""

    status: int
    message: str = ""
    report: Confirmations | None = None

    @property
    def body(self) -> bytes:
        return (self.message + "\n").encode() if self.message else b""


def _issues_answer(header: str, issues: tuple[str, ...]) -> Answer:
    return Answer(400, "\n".join([header, *(f"\t - {i}" for i in issues)]))


# ------------------------------------------------------------------------------ the decision lines


def via_http(client: str) -> str:
    """Where an HTTP upload came from, as its decision line shows it."""
    return f"http from {client or 'an unknown address'}"


def via_nats(subject: str) -> str:
    """Where a NATS claim update came from: the subject it came on."""
    return f"nats on {bounded(subject)}"


def _named(what: str, key: str) -> str:
    return f"{what} {short_key(key)}" if key else what


#: the reasons uploads are refused for, as the uploads metric labels them (a fixed set: the client
#: messages can carry the text of an error)
REASONS = {
    "bad JWT in request": "bad_jwt",
    "bad activation JWT in request": "bad_jwt",
    "pub keys don't match": "key_mismatch",
    "bad JWT Subject in request": "bad_subject",
    "bad activation JWT Subject in request": "bad_subject",
    "bad activation hash in request": "bad_subject",
    "bad JWT Issuer in request": "bad_issuer",
    "bad activation JWT Issuer in request": "bad_issuer",
    "bad JWT Issuer/Subject pair in request": "bad_issuer",
    "untrusted issuer in request": "untrusted_issuer",
    "bad JWT issuer is not trusted": "untrusted_issuer",
    NO_OPERATOR: "untrusted_issuer",  # no operator configured: no issuer is trusted
    "Signing service not enabled": "self_signed",
    "a newer JWT is already stored": "older",
    "request body too large": "too_large",
    "error saving JWT": "store_error",
    "error saving activation JWT": "store_error",
}


#: reasons whose text goes on with details, by their start (the NATS channel's "received error
#: when ..." lines carry the acceptance rule's reason after the prefix)
REASON_STARTS = (
    (ISSUES_HEADER, "validation"),
    (ACTIVATION_ISSUES_HEADER, "validation"),
    ("store unavailable", "store_unavailable"),
    ("Failure during signature request", "signing_service"),
    ("received error when decoding", "bad_jwt"),
)


def _reason_label(reason: str, fault: bool) -> str:
    label = REASONS.get(reason)
    if label is not None:
        return label
    for start, label in REASON_STARTS:
        if reason.startswith(start):
            return label
    if reason.startswith("received error when saving"):  # the store failed, or the rule refused it
        return "store_error" if fault else "rejected"
    return "server_error" if fault else "other"


def _count(what: str, via: str, result: str, reason: str = "") -> None:
    metrics.uploads[(what, via.split(" ", 1)[0], result, reason)] += 1


def log_refused(what: str, key: str, via: str, reason: str, detail: str = "", *, fault: bool = False) -> None:
    """The one line of a refused upload: the account (or activation hash) if known, the reason the
    client got, what the server found (``detail``) and where the upload came from. WRN, for an upload
    the client got wrong; ERR (``fault``) when the server or a service it needs failed."""
    _count(what, via, "refused", _reason_label(reason, fault))
    line = f"{_named(what, key)} refused: {reason}{f' ({detail})' if detail else ''}, via {via}"
    if fault:
        log.error(line)
    else:
        log.warn(line)


def log_accepted(what: str, key: str, tok: Token, previous: str | None, via: str, about: str = "") -> None:
    """The audit line of an accepted change: new jti, the jti it replaced (or "new"), the issuer, and
    where it came from; ``about`` adds what else identifies it (an activation's subject)."""
    _count(what, via, "accepted")
    was = f"was {bounded(previous)}" if previous else "new"
    log.info(
        f"{_named(what, key)} updated: jti {bounded(tok.jti)} ({was}), issuer {short_key(tok.iss)}"
        f"{about}, via {via}"
    )


def activation_about(tok: Token) -> str:
    """What an activation's audit line adds: the subject it grants, and the importing account."""
    return f', subject "{bounded(tok.activation.subject)}" for {short_key(tok.sub)}'


def log_unchanged(what: str, key: str, tok: Token, via: str) -> None:
    """An upload identical to the stored JWT (same jti): no change, so DBG only."""
    _count(what, via, "unchanged")
    if log.debug_enabled:
        log.debug(f"{_named(what, key)} unchanged: jti {bounded(tok.jti)} is already stored, via {via}")


def _refused(
    key: str, via: str, status: int, message: str, detail: str = "", what: str = "account"
) -> Answer:
    """A refused upload: answered with its one-line reason, logged once (see `log_refused`), so an
    operator can tell afterwards why an `nsc push` failed; a 5xx is the server's fault."""
    log_refused(what, key, via, message, detail, fault=status >= 500)
    return Answer(status, message)


def refused_body(key: str | None, client: str, status: int, message: str, detail: str = "") -> Answer:
    """A POST refused before its body was read whole (too large, cut short, too slow): ``key`` is the
    account of the URL, None for the activations route."""
    what = "account" if key is not None else "activation"
    return _refused(key or "", via_http(client), status, message, detail, what)


def _issues_refused(what: str, key: str, via: str, header: str, issues: tuple[str, ...]) -> Answer:
    """Validation issues: the client gets one line per issue, the log one line with all of them."""
    log_refused(what, key, via, f"{header} {'; '.join(issues)}")
    return _issues_answer(header, issues)


def _text(body: bytes) -> str | None:
    try:
        return body.decode("utf-8").strip(" \t\r\n")
    except UnicodeDecodeError:
        return None


async def _signing_service(
    core: Core, key: str, tok: Token, subject: str, timeout: float, via: str
) -> Token | Answer:
    """Forward a self-signed JWT to the signing service; its answer replaces the JWT."""
    known = core.load_local(key)
    if not known and core.notifier.connected:
        reply = await core.notifier.request_many(f"$SYS.REQ.ACCOUNT.{key}.CLAIMS.LOOKUP", b"", timeout)
        known = reply.decode(errors="replace") if reply else None
    if not known and tok.iss != tok.sub:
        return _refused(
            key, via, 400, "bad JWT Issuer/Subject pair in request", f"issued by {short_key(tok.iss)}"
        )
    if known and tok.iss != tok.sub:
        return _refused(key, via, 400, "bad JWT issuer is not trusted", f"issued by {short_key(tok.iss)}")
    prefix = "Failure during signature request."
    try:
        reply = await core.notifier.request(subject, tok.raw.encode(), timeout)
    except NotConnected as exc:  # the detail says which: not configured, not connected yet, lost
        return _refused(key, via, 500, f"{prefix} nats-server unavailable.", str(exc))
    except RequestTimeout:
        return _refused(key, via, 500, f"{prefix} signing service unavailable.")
    except NoResponders as exc:
        return _refused(key, via, 500, f"{prefix} Try again at a later time. Error: {exc or 'no responders'}")
    except Exception as exc:  # any client error is reported, never raised
        return _refused(key, via, 500, f"{prefix} Try again at a later time. Error: {error_text(exc)}")
    text = reply.decode(errors="replace").strip()
    try:
        signed = decode_account(text)
    except JWTError:
        log.info(f"{short_key(key)} Initiated JWT signing process for {bounded(tok.jti)}, via {via}")
        return Answer(202, text)
    if signed.sub != key:
        return _refused(
            key, via, 400, "pub keys don't match", f"the signing service signed {short_key(signed.sub)}"
        )
    return signed


async def post_account(
    core: Core,
    key: str,
    body: bytes,
    *,
    client: str = "",
    sign_subject: str = "",
    sign_timeout: float = 1.0,
    wait: float | None = None,
) -> Answer:
    """Validate, store and announce an account JWT; in the original server's order of checks.
    ``client`` is the address the upload came from, for its decision line; with ``wait`` (seconds)
    the answer reports which nats-servers applied it (see core/applied.py)."""
    via = via_http(client)
    text = _text(body)
    if text is None:
        return _refused(key, via, 400, "bad JWT in request", "the body is not UTF-8 text")
    try:
        tok = decode_account(text)
    except JWTError as exc:
        return _refused(key, via, 400, "bad JWT in request", bounded(str(exc)))
    if tok.sub != key:
        return _refused(key, via, 400, "pub keys don't match", f"the JWT is for {short_key(tok.sub)}")
    if not is_account_key(tok.sub):
        return _refused(key, via, 400, "bad JWT Subject in request")
    trust = core.trust
    if not trust.configured:  # no issuer can be trusted: say so, not "untrusted issuer"
        return _refused(key, via, 400, NO_OPERATOR, f"issued by {short_key(tok.iss)}")
    if sign_subject and not trust.trusts(tok.iss):
        signed = await _signing_service(core, key, tok, sign_subject, sign_timeout, via)
        if isinstance(signed, Answer):
            return signed
        tok = signed
    if not tok.iss.startswith("O"):
        if tok.iss == tok.sub:
            return _refused(key, via, 400, "Signing service not enabled", "the JWT is self-signed")
        return _refused(key, via, 400, "bad JWT Issuer in request", f"issued by {short_key(tok.iss)}")
    if not trust.trusts(tok.iss):
        return _refused(key, via, 400, "untrusted issuer in request", f"issued by {short_key(tok.iss)}")
    issues = blocking(tok)
    if issues:
        return _issues_refused("account", key, via, ISSUES_HEADER, issues)
    try:
        change = await core.save_change(Kind.ACCOUNT, key, tok)
    except StoreUnavailable as exc:
        return _refused(key, via, 503, UNAVAILABLE, error_text(exc))
    except Exception as exc:
        return _refused(key, via, 500, "error saving JWT", error_text(exc))
    if change.saved is Saved.OLDER:
        return _refused(
            key, via, 409, "a newer JWT is already stored", f"jti {bounded(tok.jti)} has iat {tok.iat}"
        )
    if change.saved is Saved.UNCHANGED:
        log_unchanged("account", key, tok, via)
    else:  # logged once stored: a failed notification below does not undo the change
        log_accepted("account", key, tok, change.previous, via)
    try:
        if wait is not None:
            from nats_account_server.core.applied import notify_confirmed

            return Answer(200, report=await notify_confirmed(core, key, tok, wait))
        await core.notify(Kind.ACCOUNT, key, tok.raw)
    except Failure as exc:
        return Answer(exc.status, exc.message)
    return Answer(200)


def _stored_jti(core: Core, key: str) -> str | None:
    """The jti of the stored JWT under ``key`` (None: none, or unreadable), for the audit line."""
    stored = core.stored_jwt(key)
    if not stored:
        return None
    try:
        return peek_claims(stored).jti or None
    except (JWTError, ValueError):
        return None


def _hash_of(tok: Token) -> str:
    """The hash a refused activation would have been stored under, if it has one."""
    try:
        return activation_hash(tok.iss, tok.sub, tok.activation.subject)
    except JWTError:
        return ""


async def post_activation(core: Core, body: bytes, *, client: str = "") -> Answer:
    """Validate, store and announce an activation under its hash; ``client`` as for `post_account`."""
    via = via_http(client)
    text = _text(body)
    if text is None:
        return _refused("", via, 400, "bad activation JWT in request", "the body is not UTF-8 text", ACT)
    try:
        tok = decode(text)
    except JWTError as exc:
        return _refused("", via, 400, "bad activation JWT in request", bounded(str(exc)), ACT)
    if tok.kind != "activation":
        return _refused(
            "", via, 400, "bad activation JWT in request", f"a JWT of type {bounded(tok.kind)}", ACT
        )
    if not (is_account_key(tok.iss) or is_operator_key(tok.iss)):
        return _refused(
            "", via, 400, "bad activation JWT Issuer in request", f"issued by {short_key(tok.iss)}", ACT
        )
    if not is_account_key(tok.sub):
        return _refused(
            "", via, 400, "bad activation JWT Subject in request", f"for {short_key(tok.sub)}", ACT
        )
    subject = tok.activation.subject
    if not tok.iss or not subject:
        return _refused("", via, 400, "bad activation hash in request", "no subject", ACT)
    try:
        key, tok = accept_activation(tok)
    except Refused as exc:
        return _issues_refused(ACT, _hash_of(tok), via, ACTIVATION_ISSUES_HEADER, exc.issues or (exc.reason,))
    async with core.lock(key):  # the previous jti is the one this save replaces
        try:
            previous = await asyncio.to_thread(_stored_jti, core, key)
            await core.save(key, tok.raw)
        except StoreUnavailable as exc:
            return _refused(
                key, via, 503, UNAVAILABLE.replace("the JWT", "the activation JWT"), error_text(exc), ACT
            )
        except Exception as exc:
            return _refused(key, via, 500, "error saving activation JWT", error_text(exc), ACT)
    if previous == tok.jti:
        log_unchanged(ACT, key, tok, via)
    else:
        log_accepted(ACT, key, tok, previous, via, activation_about(tok))
    try:
        await core.notify(Kind.ACTIVATION, key, tok.raw, tok.iss)
    except Failure:
        return Answer(500, "error saving activation JWT")
    return Answer(200)
