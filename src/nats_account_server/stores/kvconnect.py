"""The KV store's own NATS connection: connect rounds until `connecttimeout`, its events logged and
handed to the writes (`KVLink`), and permissions violations turned into a prompt, named failure.

nats-server refuses a subject the user may not use with `-ERR 'Permissions Violation for Publish to
"<subject>"'`; nats-py passes that to the error callback, and the request it refused then simply
times out. So the callback records the violation and `unless_denied` ends the waiting request at
once with `Denied`, naming the subject and the permission it needs.
"""

from __future__ import annotations

import asyncio
import secrets
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from nats.aio.client import Client

from ..core.store import StoreUnavailable
from ..log import log
from ..natsclient import connect_once, describe, permission_denied, shown_url
from .kvwrite import KVLink, unless

__all__ = ["CLIENT_NAME", "Denied", "KVConnection"]

R = TypeVar("R")

CLIENT_NAME = "nats-account-server-kv"


class Denied(StoreUnavailable):
    """The KV user lacks a permission the store needs (the server said so): retrying cannot help."""


class KVConnection:
    """Connects to the KV servers and follows the connection's events (`on_reconnect` after each
    reconnect, `link` kept current); `closed` silences the logs of a stopping store."""

    def __init__(
        self,
        bucket: str,
        servers: list[str],
        link: KVLink,
        *,
        credentials: str,
        tls: ssl.SSLContext | None,
        connect_timeout: float,
        reconnect_wait: float,
        on_reconnect: Callable[[], None],
    ) -> None:
        self.bucket = bucket
        self.servers = servers
        self.link = link
        self.credentials = credentials
        self.tls = tls
        self.connect_timeout = connect_timeout
        self.reconnect_wait = reconnect_wait
        self.on_reconnect = on_reconnect
        self.closed = False
        self.url = ""  # the server connected to (or last connected to), as logs show it
        self.denied = ""  # the permissions violation the server reported last
        self.denials: set[str] = set()  # every one reported (each logged once)
        # this connection's own inboxes (watch deliveries, replies), so its consumers can be told apart
        self.inbox_prefix = f"_INBOX.{secrets.token_hex(8)}"
        self._denial = asyncio.Event()

    def may(self, api: str) -> bool:
        """False once the server refused us a JetStream API subject containing `api`."""
        return not any(api in denial for denial in self.denials)

    def subjects(self) -> list[str]:
        """The subjects the store uses (their case, for messages about them)."""
        stream = f"KV_{self.bucket}"
        api = [f"$JS.API.{verb}.{stream}" for verb in ("STREAM.CREATE", "STREAM.INFO", "STREAM.MSG.GET")]
        api += [f"$JS.API.CONSUMER.{verb}.{stream}" for verb in ("CREATE", "INFO", "DELETE", "LIST")]
        return [*api, f"$JS.FC.{stream}", f"$KV.{self.bucket}.", "_INBOX."]

    async def unless_denied(self, work: Awaitable[R]) -> R:
        """`work`'s result, or Denied as soon as the server reports a permissions violation."""
        self._denial.clear()
        return await unless(
            work, self._denial, lambda: Denied(f"unable to use KV bucket {self.bucket}: {self.denied}")
        )

    async def connect(self, deadline: float) -> Client:
        """Rounds over the servers until one answers; nats-py alone would retry forever."""
        while True:
            nc, error = await self._attempt(deadline)
            if nc is not None:
                self.url = shown_url(nc.connected_url)
                log.info(f"KV store connected to NATS at {self.url}")
                self.link.connected(nc)
                return nc
            if time.monotonic() + self.reconnect_wait >= deadline:
                servers = ", ".join(shown_url(url) for url in self.servers)
                raise StoreUnavailable(f"unable to connect to the JetStream KV servers {servers}: {error}")
            log.error(f"KV store failed to connect to NATS, {error}; retrying")
            await asyncio.sleep(self.reconnect_wait)

    async def _attempt(self, deadline: float) -> tuple[Client | None, str]:
        """One pass over the servers, cancelled once each has failed (or at the deadline)."""

        async def error(nc: Client, exc: Exception | None) -> None:
            denied = permission_denied(exc, self.subjects())
            if denied is not None:
                self.denied = denied
                self._denial.set()
                if denied not in self.denials:
                    self.denials.add(denied)
                    log.warn(f"KV store: {denied}")
            elif not self.closed:
                log.debug(f"KV connection error - {describe(exc)}")

        async def disconnected(nc: Client, _: Exception | None) -> None:
            self.link.disconnected()
            if not self.closed:
                log.warn(
                    f"KV store disconnected from NATS at {self.url}, serving bucket {self.bucket} from"
                    " its local view, reconnecting"
                )

        async def reconnected(nc: Client, _: Exception | None) -> None:
            self.link.connected(nc)
            if not self.closed:
                self.url = shown_url(nc.connected_url)
                log.warn(f"KV store reconnected to NATS at {self.url}")
                self.on_reconnect()

        options: dict[str, Any] = {
            "servers": self.servers,
            "name": CLIENT_NAME,
            "user_credentials": self.credentials or None,
            "tls": self.tls,
            "connect_timeout": self.connect_timeout,
            "reconnect_time_wait": self.reconnect_wait,
            "max_reconnect_attempts": -1,
            "allow_reconnect": True,
            "pending_size": 0,  # never buffer a write while disconnected: fail it (503) instead
            "inbox_prefix": self.inbox_prefix,
        }
        nc, failure = await connect_once(
            options,
            timeout=max(deadline - time.monotonic(), 0.1),
            error=error,
            disconnected=disconnected,
            reconnected=reconnected,
        )
        return nc, "" if nc is not None else describe(failure)
