"""Deleting accounts on an operator's signed request: the policy, the order of checks, the audit
line, the tombstones that keep a deleted account deleted, and what nats-servers are told.

A delete request is the JWT nsc sends to nats-server's full resolver (`nsc push --prune`, `-R`): generic
claims signed by the operator or one of its signing keys, naming accounts. It arrives over HTTP
(`DELETE /jwt/v1/accounts/<key>`) or NATS (`$SYS.REQ.CLAIMS.DELETE`) and is checked in this order,
the first failure answering with its reason and deleting nothing: the server deletes at all (not a
replica or a read-only store: the answer says where to delete), deletion is enabled (`allow_delete`),
the request passes the acceptance rule (core/acceptance.py), names the URL's account (HTTP), is not
expired, every account it names is stored, and it was issued no earlier than each account's stored
JWT (so a captured old request cannot delete an account uploaded again since). Then each account is
deleted under its write lock, soft or hard as configured, leaving a tombstone with the deleted JWT's
`iat`: the newer-wins rule reads it, so packs and sync peers cannot bring the account back with that
JWT, while an upload issued later does.

A request that came over HTTP is then forwarded once on `$SYS.REQ.CLAIMS.DELETE`, so nats-servers
whose full or cache resolver allows deletes drop the account and disconnect its clients; one that came
over NATS already reached them (and our connection gets no echo of what it sends). Requests applied
lately are remembered: a repeat (a retry) is answered as applied without deleting again, and one
naming accounts deleted already (a copy another instance on the same KV bucket forwarded) deletes
only the rest.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from dataclasses import field
from typing import TYPE_CHECKING, cast

from nats_account_server.core.acceptance import Refused, accept_delete
from nats_account_server.core.store import (
    AsyncDeletingStore,
    DeletingStore,
    Store,
    StoreError,
    StoreUnavailable,
    Writes,
    deleting,
)
from nats_account_server.jwt import JWTError, peek_claims
from nats_account_server.log import bounded, log, short_key
from nats_account_server.oserrors import error_text
from nats_account_server.records import record

if TYPE_CHECKING:
    from nats_account_server.config import Settings
    from nats_account_server.core.service import Core

__all__ = [
    "DELETE_SUBJECT",
    "DISABLED",
    "DeletePolicy",
    "Outcome",
    "buried",
    "buried_async",
    "delete_accounts",
    "policy_of",
]

DELETE_SUBJECT = "$SYS.REQ.CLAIMS.DELETE"
DISABLED = "delete must be enabled in server config"
HANDLED_KEPT = 256  # requests applied lately: enough for retries and forwarded copies


@record
class DeletePolicy:
    """What delete requests may do here: `allow` (off by default, as in nats-server), `hard` (remove
    the JWT instead of keeping it aside), and `refused`: why this server takes no deletions at all and
    where to send them ("" when it takes them)."""

    allow: bool = False
    hard: bool = False
    refused: str = ""
    # digests of the requests applied lately. Not their jti: the JWT library hashes only the
    # registered claims into it, so requests for other accounts signed in the same second share one
    handled: OrderedDict[bytes, None] = field(default_factory=OrderedDict)

    def applied(self, request: str) -> bool:
        return _digest(request) in self.handled

    def remember(self, request: str) -> None:
        self.handled[_digest(request)] = None
        while len(self.handled) > HANDLED_KEPT:
            self.handled.popitem(last=False)


def _digest(request: str) -> bytes:
    return hashlib.sha256(request.encode()).digest()


@record(frozen=True)
class Outcome:
    """The answer to a delete request: an HTTP-like status, one line, the accounts deleted, the
    signer (when the request decoded) and whether it repeats one applied already."""

    status: int
    message: str
    deleted: tuple[str, ...] = ()
    signer: str = ""
    repeat: bool = False


def policy_of(settings: Settings) -> DeletePolicy:
    """The policy of a server with these settings; `refused` says where to delete instead."""
    st = settings.store
    refused = ""
    if settings.primary:
        refused = (
            "this server is a replica (-primary) and deletes nothing; send the delete request to the"
            f" primary {settings.primary}"
        )
    elif st.nsc:
        refused = f"the store is the nsc folder {st.nsc}, served read-only (-nsc); delete accounts with nsc"
    elif st.readonly:
        where = "a writable account server"
        if st.dir:
            where += f", or remove the account's file from {st.dir}"
        elif st.kv.enabled:
            where += " of the same KV bucket"
        refused = (
            f"the store is read-only (store {{ readonly: true }} or -ro); send the delete request to {where}"
        )
    return DeletePolicy(allow=st.allow_delete, hard=st.hard_delete, refused=refused)


def buried(store: Store, key: str, iat: int) -> bool:
    """True when `key` was deleted with a JWT issued at or after `iat` (blocking: a file read)."""
    capable = deleting(store)
    tomb = capable.tombstone(key) if capable is not None else None
    return tomb is not None and iat <= tomb


async def buried_async(store: Store, key: str, iat: int) -> bool:
    """`buried` for a networked store (asks it only for keys it shows deleted)."""
    capable = deleting(store)
    if capable is None:
        return False
    tomb = await cast(AsyncDeletingStore, capable).tombstone_async(key)
    return tomb is not None and iat <= tomb


async def _deleted(store: DeletingStore, key: str) -> bool:
    """Was `key` deleted here before (it has a tombstone)? A request naming it again, such as the
    copy a sibling instance on the same KV bucket forwards, is then not about an unknown account."""
    if store.writes is Writes.NETWORKED:
        return await cast(AsyncDeletingStore, store).tombstone_async(key) is not None
    return await asyncio.to_thread(store.tombstone, key) is not None


def _refused(status: int, reason: str, via: str, signer: str = "") -> Outcome:
    """A refused request: one WRN line (ERR when the server failed), nothing deleted."""
    by = f", signed by {short_key(signer)}" if signer else ""
    line = f"delete request refused: {reason}{by}, via {via}"
    if status >= 500:
        log.error(line)
    else:
        log.warn(line)
    return Outcome(status, reason, signer=signer)


def _signer(text: str) -> str:
    try:
        return peek_claims(text).sub
    except (JWTError, ValueError):
        return ""


def _stored(core: Core, keys: tuple[str, ...]) -> dict[str, tuple[int, str]]:
    """(iat, jti) of the stored JWT of each key that has one (blocking: file reads). A JWT that does
    not decode counts as stored with iat 0: a broken account must be deletable too."""
    found: dict[str, tuple[int, str]] = {}
    for key in keys:
        try:
            jwt = core.store.load(key)
        except StoreError:
            found[key] = (0, "")
            continue
        if not jwt:
            continue
        try:
            claims = peek_claims(jwt)
        except (JWTError, ValueError):
            found[key] = (0, "")
            continue
        found[key] = (claims.iat, claims.jti)
    return found


async def delete_accounts(
    core: Core, body: bytes | str, *, via: str, url_key: str | None = None, forward: bool = False
) -> Outcome:
    """Check and apply one delete request (see the module's docstring for the order)."""
    policy = core.deletion
    store = deleting(core.store)
    if policy.refused or store is None:
        return _refused(405, policy.refused or "the store is read-only", via)
    try:
        text = body.decode("utf-8").strip() if isinstance(body, bytes) else body.strip()
    except UnicodeDecodeError:
        text = ""
    if not policy.allow:  # named after its (unverified) signer, as nats-server's answer is
        return _refused(405, f"{DISABLED} (store {{ allow_delete: true }})", via, _signer(text))
    if not text:
        return _refused(400, "bad delete request JWT - empty or not UTF-8 text", via)
    try:
        req, keys = accept_delete(core.trust, text)
    except Refused as exc:  # named after the subject it claims, as nats-server's answer is
        return _refused(400, str(exc), via, _signer(text))
    signer = req.iss
    if policy.applied(text):
        log.debug(
            f"delete request {bounded(req.jti)} signed by {short_key(signer)} applied already, via {via}"
        )
        return Outcome(
            200, "deleted 0 accounts (the request was applied already)", signer=signer, repeat=True
        )
    if url_key is not None and url_key not in keys:
        return _refused(400, f"the request does not name the account {url_key} of the URL", via, signer)
    exp = peek_claims(text).exp
    if 0 < exp <= int(time.time()):
        return _refused(400, "delete request is expired", via, signer)
    stored = await asyncio.to_thread(_stored, core, keys)
    missing = [k for k in keys if k not in stored and not await _deleted(store, k)]
    if missing:
        which = "account" if len(missing) == 1 else "accounts"
        return _refused(404, f"unknown {which} {', '.join(missing)}; nothing was deleted", via, signer)
    newer = [k for k in keys if k in stored and stored[k][0] > req.iat]
    if newer:
        return _refused(
            400,
            f"the stored JWT of {', '.join(newer)} was issued after the request; sign a new request",
            via,
            signer,
        )
    mode = "hard" if policy.hard else "soft"
    deleted: list[str] = []
    for key in keys:
        if key not in stored:  # deleted already (e.g. by a sibling on the same KV bucket)
            log.debug(f"account {short_key(key)} is deleted already, via {via}")
            continue
        async with core.lock(key):
            iat, jti = stored[key]
            try:
                if store.writes is Writes.NETWORKED:
                    done = await cast(AsyncDeletingStore, store).delete_async(key, iat, hard=policy.hard)
                else:
                    done = await asyncio.to_thread(store.delete, key, iat, hard=policy.hard)
            except StoreError as exc:
                status = 503 if isinstance(exc, StoreUnavailable) else 500
                reason = f"error deleting {key} - {error_text(exc)}"
                if deleted:
                    reason += f" (deleted {', '.join(deleted)} before)"
                return _refused(status, reason, via, signer)
            if not done:
                continue  # removed meanwhile by someone else: nothing of ours to log
            core.changed(key, "")
            deleted.append(key)
            log.info(
                f"account {short_key(key)} deleted ({mode}): jti {bounded(jti) or 'unknown'}, by request"
                f" {bounded(req.jti)} signed by {short_key(signer)}, via {via}"
            )
    policy.remember(text)
    if forward and deleted:
        await _forward(core, text)
    return Outcome(200, f"deleted {len(deleted)} accounts", tuple(deleted), signer)


async def _forward(core: Core, request: str) -> None:
    """The request, once, to the nats-servers: full and cache resolvers allowing deletes drop the
    accounts and disconnect their clients. Without NATS this is skipped (logged), never an error."""
    if not core.notifier.connected:
        log.info(f"skipping forwarding of the delete request to nats-servers, {core.notifier.outage}")
        return
    try:
        await core.notifier.publish(DELETE_SUBJECT, request.encode())
    except Exception as exc:
        log.error(f"error forwarding the delete request on {DELETE_SUBJECT} - {error_text(exc)}")
        return
    log.debug(f"forwarded the delete request to nats-servers on {DELETE_SUBJECT}")
