"""Uploads: the order of checks for accounts, the signing service and activations.

Transport-free: HTTP routes call these with the raw body and send the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats_account_server.core.acceptance import Refused, accept_activation, blocking
from nats_account_server.core.kinds import Kind
from nats_account_server.core.notifier import NoResponders, NotConnected, RequestTimeout
from nats_account_server.core.service import Core, Failure, Saved
from nats_account_server.core.store import StoreUnavailable
from nats_account_server.jwt import JWTError, Token, decode, decode_account, is_account_key, is_operator_key
from nats_account_server.log import bounded, log, short_key

ISSUES_HEADER = (
    "The server was unable to update the account JWT because one or more validation issues occurred:"
)
ACTIVATION_ISSUES_HEADER = ISSUES_HEADER.replace("account JWT", "activation JWT")
UNAVAILABLE = "store unavailable (JetStream KV cannot be reached), the JWT was not saved; try again later"


@dataclass(frozen=True, slots=True)
class Answer:
    """What an upload ends with: a status and a plain-text body (message + newline)."""

    status: int
    message: str = ""

    @property
    def body(self) -> bytes:
        return (self.message + "\n").encode() if self.message else b""


def _issues_answer(header: str, issues: tuple[str, ...]) -> Answer:
    return Answer(400, "\n".join([header, *(f"\t - {i}" for i in issues)]))


def _refused(key: str, status: int, message: str, detail: str = "") -> Answer:
    """A refused upload: answered with its one-line reason and logged at ERR (as the original
    does), so an operator can tell afterwards why an `nsc push` failed."""
    who = f"{short_key(key)} - " if key else ""
    log.error(f"{who}{message}{f' - {detail}' if detail else ''}")
    return Answer(status, message)


def _text(body: bytes) -> str | None:
    try:
        return body.decode("utf-8").strip(" \t\r\n")
    except UnicodeDecodeError:
        return None


async def _signing_service(core: Core, key: str, tok: Token, subject: str, timeout: float) -> Token | Answer:
    """Forward a self-signed JWT to the signing service; its answer replaces the JWT."""
    known = core.load_local(key)
    if not known and core.notifier.connected:
        reply = await core.notifier.request_many(f"$SYS.REQ.ACCOUNT.{key}.CLAIMS.LOOKUP", b"", timeout)
        known = reply.decode(errors="replace") if reply else None
    if not known and tok.iss != tok.sub:
        return Answer(400, "bad JWT Issuer/Subject pair in request")
    if known and tok.iss != tok.sub:
        return Answer(400, "bad JWT issuer is not trusted")
    prefix = "Failure during signature request."
    try:
        reply = await core.notifier.request(subject, tok.raw.encode(), timeout)
    except NotConnected:
        return Answer(500, f"{prefix} nats-server unavailable.")
    except RequestTimeout:
        return Answer(500, f"{prefix} signing service unavailable.")
    except NoResponders as exc:
        return Answer(500, f"{prefix} Try again at a later time. Error: {exc or 'no responders'}")
    except Exception as exc:  # any client error is reported, never raised
        return Answer(500, f"{prefix} Try again at a later time. Error: {exc}")
    text = reply.decode(errors="replace").strip()
    try:
        signed = decode_account(text)
    except JWTError:
        log.info(f"{short_key(key)} Initiated JWT signing process for {tok.jti}")
        return Answer(202, text)
    if signed.sub != key:
        return Answer(400, "pub keys don't match")
    return signed


async def post_account(
    core: Core, key: str, body: bytes, *, sign_subject: str = "", sign_timeout: float = 1.0
) -> Answer:
    """Validate, store and announce an account JWT; in the original server's order of checks."""
    text = _text(body)
    if text is None:
        return _refused(key, 400, "bad JWT in request", "the body is not UTF-8 text")
    try:
        tok = decode_account(text)
    except JWTError as exc:
        return _refused(key, 400, "bad JWT in request", str(exc))
    if tok.sub != key:
        return _refused(key, 400, "pub keys don't match", f"the JWT is for {short_key(tok.sub)}")
    if not is_account_key(tok.sub):
        return _refused(key, 400, "bad JWT Subject in request")
    trust = core.trust
    if sign_subject and not trust.trusts(tok.iss):
        signed = await _signing_service(core, key, tok, sign_subject, sign_timeout)
        if isinstance(signed, Answer):
            return signed
        tok = signed
    if not tok.iss.startswith("O"):
        if tok.iss == tok.sub:
            return _refused(key, 400, "Signing service not enabled", "the JWT is self-signed")
        return _refused(key, 400, "bad JWT Issuer in request", f"issued by {short_key(tok.iss)}")
    if not trust.trusts(tok.iss):
        return _refused(key, 400, "untrusted issuer in request", short_key(tok.iss))
    issues = blocking(tok)
    if issues:
        log.error(f"{short_key(key)} - validation issues in request - {'; '.join(issues)}")
        return _issues_answer(ISSUES_HEADER, issues)
    try:
        saved = await core.save_if_newer(Kind.ACCOUNT, key, tok)
    except StoreUnavailable as exc:
        log.error(f"{short_key(key)} - error saving JWT - {exc}")
        return Answer(503, UNAVAILABLE)
    except Exception as exc:
        log.error(f"{short_key(key)} - error saving JWT - {exc}")
        return Answer(500, "error saving JWT")
    if saved is Saved.OLDER:
        return _refused(key, 409, "a newer JWT is already stored", f"this one ({tok.jti}) has iat {tok.iat}")
    try:
        await core.notify(Kind.ACCOUNT, key, tok.raw)
    except Failure as exc:
        return Answer(exc.status, exc.message)
    log.info(f"updated JWT for account - {short_key(key)} - {tok.jti}")
    return Answer(200)


async def post_activation(core: Core, body: bytes) -> Answer:
    """Validate, store and announce an activation under its hash."""
    text = _text(body)
    try:
        if text is None:
            raise JWTError("body is not UTF-8")
        tok = decode(text)
    except JWTError as exc:
        log.error(f"bad activation JWT in request - {exc}")
        return Answer(400, "bad activation JWT in request")
    if tok.kind != "activation":
        return Answer(400, "bad activation JWT in request")
    if not (is_account_key(tok.iss) or is_operator_key(tok.iss)):
        return Answer(400, "bad activation JWT Issuer in request")
    if not is_account_key(tok.sub):
        return Answer(400, "bad activation JWT Subject in request")
    subject = tok.activation.subject
    if not tok.iss or not subject:
        return Answer(400, "bad activation hash in request")
    try:
        key, tok = accept_activation(tok)
    except Refused as exc:
        log.error(f"bad activation JWT in request - {exc}")
        return _issues_answer(ACTIVATION_ISSUES_HEADER, exc.issues or (exc.reason,))
    try:
        await core.save(key, tok.raw)
    except StoreUnavailable as exc:
        log.error(f"{short_key(key)} - error saving activation JWT - {exc}")
        return Answer(503, UNAVAILABLE.replace("the JWT", "the activation JWT"))
    except Exception as exc:
        log.error(f"{short_key(key)} - error saving activation JWT - {exc}")
        return Answer(500, "error saving activation JWT")
    try:
        await core.notify(Kind.ACTIVATION, key, tok.raw, tok.iss)
    except Failure:
        return Answer(500, "error saving activation JWT")
    log.info(f'updated activation JWT - {short_key(tok.iss)}-{short_key(tok.sub)} - "{bounded(subject)}"')
    return Answer(200)
