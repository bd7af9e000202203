"""Announcing changes to the nats-servers: a change's notification, and announcing it again.

A notification carries the newest version the store holds (see announce.py) and is marked before it
leaves; another instance's write of a key this instance announced lately is announced again, in the
background, so that this instance's last announcement is the newest version. The core's `notify`
and `remote_changed` call in here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from nats_account_server.core.failure import Failure
from nats_account_server.core.kinds import Kind, kind_of
from nats_account_server.core.notifier import NotConnected, account_subject, activation_subject
from nats_account_server.jwt import JWTError, decode_activation
from nats_account_server.log import log, short_key
from nats_account_server.metrics import metrics
from nats_account_server.oserrors import error_text
from nats_account_server.records import record

if TYPE_CHECKING:
    from nats_account_server.core.service import Core

__all__ = ["Sent", "announce", "announce_again", "notify"]

T = TypeVar("T")


@record(frozen=True)
class Sent(Generic[T]):
    """An announcement that went out: the JWT it carried (the store's newest) and what `send` gave."""

    jwt: str
    answer: T


async def announce(
    core: Core,
    kind: Kind,
    key: str,
    jwt: str,
    issuer: str,
    send: Callable[[str, bytes], Awaitable[T]],
    *,
    waiting: str = "",
) -> Sent[T] | str:
    """Send a change's one message through `send(subject, payload)` (a publish, or a request that
    gathers the servers' answers): what went out, or why nothing did (no NATS connection: logged and
    counted as skipped, not an error). A failed send is logged, counted and raised as a Failure."""
    notifier = core.notifier
    if not notifier.connected:
        return _skipped(kind, key, notifier.outage)
    jwt = core.announced.newest(key, jwt)  # a newer version another instance stored meanwhile
    subject = account_subject(key) if kind is Kind.ACCOUNT else activation_subject(issuer, key)
    core.announced.mark(key, jwt)
    try:
        answer = await send(subject, jwt.encode())
    except NotConnected as exc:  # lost between the check and the send: nothing went out
        return _skipped(kind, key, str(exc))
    except Exception as exc:
        log.error(f"{short_key(key)} - error sending notification of change - {error_text(exc)}")
        metrics.notifications[(kind.name.lower(), "failed")] += 1
        raise Failure(500, "error sending notification of change") from exc
    metrics.notifications[(kind.name.lower(), "sent")] += 1
    log.debug(f"sent notification on {subject}{waiting}")
    return Sent(jwt, answer)


def _skipped(kind: Kind, key: str, why: str) -> str:
    log.info(f"skipping notification for {short_key(key)}, {why}")
    metrics.notifications[(kind.name.lower(), "skipped")] += 1
    return why


async def notify(core: Core, kind: Kind, key: str, jwt: str, issuer: str = "") -> None:
    """Publish a change; without a NATS connection this is skipped (logged), not an error."""
    await announce(core, kind, key, jwt, issuer, core.notifier.publish)


def announce_again(core: Core, key: str, jwt: str, tasks: set[asyncio.Task[None]]) -> None:
    """Announce `jwt`, another instance's newer version of `key`, in the background (the task is
    kept in `tasks` until it ends)."""
    task = asyncio.ensure_future(_announce_again(core, key, jwt))
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def _announce_again(core: Core, key: str, jwt: str) -> None:
    kind = kind_of(key)
    try:
        issuer = decode_activation(jwt).iss if kind is Kind.ACTIVATION else ""
    except JWTError:
        return  # the bucket's entry is not served either (the store vets it)
    if kind is None:
        return
    log.debug(f"{short_key(key)} - another instance stored a newer version, announcing it again")
    with contextlib.suppress(Failure):  # logged by notify
        await core.notify(kind, key, jwt, issuer)
