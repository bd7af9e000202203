"""Message handlers for the resolver protocol: lookups, updates, list and delete requests.

Transport-free: each handler gets (subject, reply, payload) and answers through `publish`, so the
trust rules can be tested without a NATS server. Updates received over NATS are checked like a POST
(subject token = `sub`, trusted issuer, validation) and are never re-published: nats-servers got
the same message, and re-publishing would loop between account servers.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from nats_account_server import __version__
from nats_account_server.core.acceptance import Refused, accept_account, accept_activation
from nats_account_server.core.deletion import delete_accounts
from nats_account_server.core.kinds import Kind
from nats_account_server.core.service import Core, Failure
from nats_account_server.core.uploads import (
    activation_about,
    log_accepted,
    log_refused,
    log_unchanged,
    via_nats,
)
from nats_account_server.core.verdict import Change, Saved
from nats_account_server.jwt import JWTError, Token, decode_account, decode_activation, is_account_key
from nats_account_server.jwt.nkeys import encode_public_key
from nats_account_server.log import bounded, log, short_key
from nats_account_server.oserrors import error_text

Publish = Callable[[str, bytes], Awaitable[None]]

# subjects; `*` tokens carry the account key or the activation hash
LOOKUP = "$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP"
UPDATE_OLD = "$SYS.ACCOUNT.*.CLAIMS.UPDATE"
UPDATE_NEW = "$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE"
UPDATE_ANY = "$SYS.REQ.CLAIMS.UPDATE"
ACTIVATE = "$SYS.ACCOUNT.*.CLAIMS.ACTIVATE.*"
LIST = "$SYS.REQ.CLAIMS.LIST"
DELETE = "$SYS.REQ.CLAIMS.DELETE"

SERVER_NAME = "nats-account-server"
OLDER = "a newer JWT is already stored"


class Rejected(Exception):
    """An update that must not be stored; `str()` is the reason sent back to the requester."""

    def __init__(self, message: str, detail: str, account: str = "n/a") -> None:
        super().__init__(f"{message} - {detail}")
        self.account = account


def new_server_id() -> str:
    """A server NKey public key (`N…`) made fresh per process: nsc shows it, nobody verifies it."""
    return encode_public_key("N", os.urandom(32))


def subject_account(subject: str) -> str | None:
    """The account token of `$SYS.ACCOUNT.<k>.…` / `$SYS.REQ.ACCOUNT.<k>.…`, None for other subjects."""
    tokens = subject.split(".")
    if len(tokens) >= 4 and tokens[:2] == ["$SYS", "ACCOUNT"]:
        return tokens[2]
    if len(tokens) >= 5 and tokens[:3] == ["$SYS", "REQ", "ACCOUNT"]:
        return tokens[3]
    return None


def _text(payload: bytes) -> str:
    try:
        return payload.decode("utf-8").strip(" \t\r\n")
    except UnicodeDecodeError as exc:
        raise JWTError("payload is not UTF-8") from exc


def check_account_update(core: Core, subject: str, payload: bytes) -> Token:
    """An account update passes the acceptance rule under the account its subject names; raises Rejected."""
    named = subject_account(subject)
    try:
        tok = decode_account(_text(payload))
    except JWTError as exc:
        raise Rejected("received error when decoding jwt", str(exc), named or "n/a") from exc
    account = tok.sub if is_account_key(tok.sub) else named or "n/a"
    try:
        return accept_account(core.trust, tok, named)
    except Refused as exc:
        raise Rejected("received error when saving jwt", str(exc), account) from exc


def check_activation_update(subject: str, payload: bytes) -> tuple[str, Token]:
    """An activation notification: the rule for activations, under the hash its subject names."""
    tokens = subject.split(".")
    try:
        tok = decode_activation(_text(payload))
    except JWTError as exc:
        raise Rejected("received error when decoding activation jwt", str(exc)) from exc
    named = tokens[5] if len(tokens) == 6 and tokens[2] == tok.iss else "-"
    try:
        return accept_activation(tok, named)
    except Refused as exc:
        raise Rejected("received error when saving activation jwt", str(exc)) from exc


class Responders:
    """The handlers a connected bridge subscribes; `replica` mode only saves and marks fresh."""

    def __init__(self, core: Core, publish: Publish, *, host: str | None = None) -> None:
        self.core = core
        self.publish = publish
        self.server_id = new_server_id()
        self.host = host if host is not None else socket.gethostname()
        self._seq = itertools.count(1)

    # ---------------------------------------------------------------- replies

    def server_info(self) -> dict[str, Any]:
        now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        return {
            "host": self.host,
            "id": self.server_id,
            "name": SERVER_NAME,
            "seq": next(self._seq),
            "time": now,
            "ver": __version__,
        }

    def _json(self, body: dict[str, Any]) -> bytes:
        return json.dumps({**body, "server": self.server_info()}, indent=2, sort_keys=True).encode()

    async def _reply(self, reply: str, body: dict[str, Any]) -> None:
        if reply:
            await self.publish(reply, self._json(body))

    async def _reply_error(self, reply: str, account: str, description: str) -> None:
        await self._reply(reply, {"error": {"account": account, "code": 500, "description": description}})

    # ---------------------------------------------------------------- lookup

    async def lookup(self, subject: str, reply: str, payload: bytes) -> None:
        """Local store only (never forwarded); an empty reply means 'absent'."""
        if not reply:
            log.trace("lookup is not a request")
            return
        tokens = subject.split(".")
        if len(tokens) != 6 or not tokens[3]:
            log.error(f"lookup {bounded(subject)} failed parsing")
            return
        key = tokens[3]
        jwt: str | None = None
        if is_account_key(key):
            try:
                jwt = await asyncio.to_thread(self.core.load_local, key)
            except Failure:
                jwt = None
            if not jwt and key == self.core.trust.system_account_key:
                jwt = self.core.trust.system_account_jwt  # configured, hence local too
        log.trace(f"lookup for {short_key(key)} - {'found' if jwt else 'not found'}")
        await self.publish(reply, (jwt or "").encode())

    # ---------------------------------------------------------------- updates

    async def _checked(self, subject: str, reply: str, payload: bytes) -> Token | None:
        """The update's JWT if it passes the checks; else the rejection is logged and answered."""
        try:
            return check_account_update(self.core, subject, payload)
        except Rejected as exc:
            key = "" if exc.account == "n/a" else exc.account
            log_refused("account", key, via_nats(subject), str(exc))
            await self._reply_error(reply, exc.account, str(exc))
            return None

    async def update(self, subject: str, reply: str, payload: bytes) -> None:
        """A writable primary: check, save newer-wins, answer, never re-publish."""
        tok = await self._checked(subject, reply, payload)
        if tok is None:
            return
        via = via_nats(subject)
        try:
            change = await self.core.save_change(Kind.ACCOUNT, tok.sub, tok)
        except Exception as exc:  # a store failure is answered, not raised into the client
            reason = f"received error when saving jwt - {error_text(exc)}"
            log_refused("account", tok.sub, via, reason, fault=True)
            await self._reply_error(reply, tok.sub, reason)
            return
        self._log_change("account", tok.sub, tok, change, via)
        # an older JWT is answered as an update, as nats-server's own resolver answers it
        await self._reply(reply, {"data": {"account": tok.sub, "code": 200, "message": "Updated jwt"}})

    @staticmethod
    def _log_change(what: str, key: str, tok: Token, change: Change, via: str) -> None:
        """The decision line of an update that passed the checks (see core/uploads.py)."""
        if change.saved is Saved.SAVED:
            about = activation_about(tok) if what == "activation" else ""
            log_accepted(what, key, tok, change.previous, via, about)
        elif change.saved is Saved.UNCHANGED:
            log_unchanged(what, key, tok, via)
        else:
            log_refused(what, key, via, OLDER, f"jti {bounded(tok.jti)} has iat {tok.iat}")

    async def replica_update(self, subject: str, reply: str, payload: bytes) -> None:
        """A replica: undecodable messages are ignored; saved keys are fresh for an hour."""
        tok = await self._checked(subject, reply, payload)
        if tok is None:
            return
        await self._save_fresh(Kind.ACCOUNT, tok.sub, tok, subject)
        await self._reply(reply, {"data": {"account": tok.sub, "code": 200, "message": "Updated jwt"}})

    async def activation(self, subject: str, reply: str, payload: bytes) -> None:
        """Activation notifications (replica, and MAY on a writable primary): store under the hash."""
        try:
            key, tok = check_activation_update(subject, payload)
        except Rejected as exc:
            tokens = subject.split(".")
            log_refused("activation", tokens[5] if len(tokens) == 6 else "", via_nats(subject), str(exc))
            return
        await self._save_fresh(Kind.ACTIVATION, key, tok, subject)

    async def _save_fresh(self, kind: Kind, key: str, tok: Token, subject: str) -> None:
        what, via = kind.value[:-1], via_nats(subject)
        try:
            change = await self.core.save_change(kind, key, tok)
        except Exception as exc:
            log_refused(what, key, via, "error saving JWT", error_text(exc), fault=True)
            return
        if change.saved is not Saved.OLDER:
            self.core.source.vouch(key)
        self._log_change(what, key, tok, change, via)

    # ------------------------------------------------------------ list/delete

    async def list_accounts(self, subject: str, reply: str, payload: bytes) -> None:
        if reply:
            keys = await asyncio.to_thread(self.core.store.account_keys)
            await self._reply(reply, {"data": keys})

    async def delete(self, subject: str, reply: str, payload: bytes) -> None:
        """A delete request (core/deletion.py), answered as nats-server's full resolver answers it:
        `data` with `deleted N accounts`, or `error` with `delete accounts request by <signer> failed
        - <reason>`. Never forwarded: the nats-servers got the same message."""
        outcome = await delete_accounts(self.core, payload, via=via_nats(subject))
        if outcome.repeat and not reply:
            return  # a copy of a request applied already (forwarded by another account server)
        if outcome.status == 200:
            await self._reply(reply, {"data": {"code": 200, "message": outcome.message}})
            return
        description = f"delete accounts request by {outcome.signer} failed - {outcome.message}"
        await self._reply(reply, {"error": {"code": 500, "description": description}})
