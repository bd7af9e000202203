"""Whether the running nats-servers applied a change: an upload that waits for their answers, and an
account's status on each server.

The notification of an upload that waits is the same single message on
`$SYS.ACCOUNT.<a>.CLAIMS.UPDATE`, with a reply subject added: each nats-server answers it once,
"jwt updated" when it now runs that JWT, "jwt update skipped" when it does not have the account
loaded (it fetches the stored JWT when it next needs the account), or its reason for refusing it.
The status asks every server for the account as it runs it (`$SYS.REQ.ACCOUNT.<a>.INFO`, which
never makes a server load it) and compares each one's jti with the stored one.
"""

from __future__ import annotations

from typing import Any

from nats_account_server.core.heard import Heard, ServerAnswer
from nats_account_server.core.kinds import Kind
from nats_account_server.core.notifications import announce
from nats_account_server.core.notifier import NotConnected, info_subject
from nats_account_server.core.service import Core, Failure
from nats_account_server.jwt import JWTError, Token, peek_claims
from nats_account_server.log import bounded, log, short_key
from nats_account_server.oserrors import error_text
from nats_account_server.records import record

APPLIED = "jwt updated"
SKIPPED = "jwt update skipped"
NOT_LOADED = "does not exist"  # the end of nats-server's "Account <a> does not exist"


def _message(answer: ServerAnswer) -> str:
    data = answer.data
    return str(data.get("message", "")) if isinstance(data, dict) else ""


def _result(answer: ServerAnswer) -> str:
    if answer.error:
        return "refused"
    message = _message(answer)
    return {APPLIED: "confirmed", SKIPPED: "not_loaded"}.get(message, "other")


@record(frozen=True)
class Confirmations:
    """What the nats-servers answered to the notification of one upload."""

    account: str
    jti: str
    wait_ms: int
    heard: Heard
    reason: str = ""  # why nothing was sent ("" when the notification went out)

    def count(self, result: str) -> int:
        return sum(1 for a in self.heard.answers if _result(a) == result)

    def body(self) -> dict[str, Any]:
        answers = self.heard.answers
        out: dict[str, Any] = {
            "account": self.account,
            "jti": self.jti,
            "wait_ms": self.wait_ms,
            "notified": not self.reason,
        }
        if self.reason:
            out["reason"] = self.reason
        out |= {
            "answered": len(answers),
            "confirmed": self.count("confirmed"),
            "not_loaded": self.count("not_loaded"),
            "refused": [{**a.about(), "reason": a.error} for a in answers if a.error],
            "missing": list(self.heard.missing),
            "complete": self.heard.complete,
            "servers": [
                {**a.about(), "result": _result(a), "message": a.error or _message(a)} for a in answers
            ],
        }
        return out


async def notify_confirmed(core: Core, key: str, tok: Token, wait: float) -> Confirmations:
    """Announce an account upload as `Core.notify` does, as one message with a reply subject, and
    gather the nats-servers' answers for at most `wait` seconds; logged and counted as `notify`."""
    wait_ms = round(wait * 1000)

    async def ask(subject: str, payload: bytes) -> Heard:
        return await core.notifier.ask_servers(subject, payload, wait)

    waiting = f", waiting up to {wait_ms} ms for the nats-servers"
    sent = await announce(core, Kind.ACCOUNT, key, tok.raw, "", ask, waiting=waiting)
    if isinstance(sent, str):
        return Confirmations(key, tok.jti, wait_ms, Heard(), sent)
    heard = sent.answer
    jti = tok.jti if sent.jwt == tok.raw else str(peek_claims(sent.jwt).jti)
    report = Confirmations(key, jti, wait_ms, heard)
    _log_report(report)
    return report


def _log_report(report: Confirmations) -> None:
    """One line: how many servers applied the jti, and each refusal with its reason."""
    heard = report.heard
    refused = "".join(f"; {bounded(a.name)} refused it: {bounded(a.error)}" for a in heard.answers if a.error)
    missing = f"; no answer from {', '.join(bounded(m) for m in heard.missing)}" if heard.missing else ""
    line = (
        f"{short_key(report.account)} - jti {bounded(report.jti)} applied by {report.count('confirmed')}"
        f" of {len(heard.answers)} nats-servers ({report.count('not_loaded')} without the account"
        f" loaded){refused}{missing}"
    )
    if refused or missing:
        log.warn(line)
    else:
        log.info(line)


# ------------------------------------------------------------------------------------- status


def _running_jti(data: dict[str, Any]) -> str:
    """The jti a server runs, from its decoded claims or else its JWT ("" when it shows neither)."""
    decoded = data.get("decoded_jwt")
    if isinstance(decoded, dict) and isinstance(decoded.get("jti"), str) and decoded["jti"]:
        return str(decoded["jti"])
    raw = data.get("jwt")
    if isinstance(raw, str) and raw:
        try:
            return str(peek_claims(raw).jti or "")
        except (JWTError, ValueError):
            return ""
    return ""


@record(frozen=True)
class Status:
    """The stored jti of an account and what each nats-server runs."""

    account: str
    jti: str
    wait_ms: int
    heard: Heard

    def body(self) -> dict[str, Any]:
        servers: list[dict[str, Any]] = []
        not_loaded: list[str] = []
        errors: list[dict[str, str]] = []
        for answer in self.heard.answers:
            data = answer.data
            if answer.error:
                if answer.error.endswith(NOT_LOADED):
                    not_loaded.append(answer.name)
                else:
                    errors.append({**answer.about(), "reason": answer.error})
                continue
            if not isinstance(data, dict):
                errors.append({**answer.about(), "reason": "answer without account information"})
                continue
            jti = _running_jti(data)
            servers.append(
                {
                    **answer.about(),
                    "jti": jti,
                    "current": jti == self.jti,
                    "updated": data.get("update_time", ""),
                    "connections": data.get("client_connections", 0),
                }
            )
        outdated = sum(1 for s in servers if not s["current"])
        return {
            "account": self.account,
            "jti": self.jti,
            "wait_ms": self.wait_ms,
            "up_to_date": self.heard.complete and not outdated and not errors,
            "loaded": len(servers),
            "current": len(servers) - outdated,
            "outdated": outdated,
            "servers": servers,
            "not_loaded": not_loaded,
            "errors": errors,
            "missing": list(self.heard.missing),
            "complete": self.heard.complete,
        }


async def account_status(core: Core, key: str, wait: float) -> Status | None:
    """The account's status on every nats-server; None when no JWT is stored for `key`. Raises
    Failure: 503 when NATS is not configured or not connected (the reason as the log says it)."""
    entry = await core.entry(Kind.ACCOUNT, key)
    if entry is None:
        return None
    notifier = core.notifier
    if not notifier.connected:
        raise Failure(503, f"cannot ask the nats-servers: {notifier.outage}")
    try:
        heard = await notifier.ask_servers(info_subject(key), b"", wait)
    except NotConnected as exc:
        raise Failure(503, f"cannot ask the nats-servers: {exc}") from exc
    except Exception as exc:
        log.error(f"{short_key(key)} - error asking the nats-servers for the account - {error_text(exc)}")
        raise Failure(500, "error asking the nats-servers for the account") from exc
    return Status(key, entry.jti, round(wait * 1000), heard)
