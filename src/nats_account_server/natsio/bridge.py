"""The NATS connection: the core's notifier, and the NATS-side services that answer for the core.

The bridge is built before the core (it is the core's notifier) and started with the core, whose
requests its responders and JWT sync answer.

HTTP must never depend on NATS (nats-servers with a URL resolver need us up first), so `start()`
gives the first connect attempt a short bound and keeps retrying in the background every
`reconnectwait` ms. Once connected, nats-py's own reconnect logic takes over; when it gives up
(`maxreconnects` exhausted) the server exits non-zero through `on_closed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import nats
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from nats_account_server.core.lifecycle import StartupError
from nats_account_server.core.notifier import NoResponders, NotConnected, RequestTimeout
from nats_account_server.core.service import Core
from nats_account_server.log import log
from nats_account_server.natsclient import (
    ClientFileError,
    check_credentials,
    connect_once,
    describe,
    server_urls,
    tls_context,
)
from nats_account_server.natsio import responders as rs
from nats_account_server.natsio.responders import Responders
from nats_account_server.natsio.sync import PACK, QUEUE, Sync

if TYPE_CHECKING:
    from nats_account_server.config import Settings

CLIENT_NAME = "nats-account-server"
FIRST_ATTEMPT_BOUND = 2.0  # seconds start() waits for the first connect attempt at most
Handler = Callable[[str, str, bytes], Awaitable[None]]


def _is_no_responders(msg: Msg) -> bool:
    return not msg.data and msg.headers is not None and msg.headers.get("Status") == "503"


class NatsBridge:
    """Owns the nats-py client; implements the core's notifier and runs the NATS-side services."""

    configured = True

    def __init__(self, settings: Settings, on_closed: Callable[[], None]) -> None:
        n = settings.nats
        self.on_closed = on_closed
        self.servers = server_urls(list(n.servers))
        self.connect_timeout = max(n.connecttimeout, 1) / 1000
        self.reconnect_wait = max(n.reconnectwait, 0) / 1000
        self.max_reconnects: int = n.maxreconnects
        self.credentials: str = n.usercredentials
        try:
            self.tls = tls_context(n.tls.root, n.tls.cert, n.tls.key)
        except (OSError, ssl.SSLError) as exc:
            raise StartupError(f"error loading NATS TLS files: {exc}") from exc
        if self.credentials:
            try:  # a missing or broken creds file would be retried for ever
                check_credentials(self.credentials)
            except ClientFileError as exc:
                raise StartupError(str(exc)) from exc
        self.replica_mode = bool(settings.primary)
        self.sync_interval = max(n.syncinterval or n.reconnectwait, 100) / 1000
        self.sync: Sync | None = None
        self.responders: Responders | None = None
        self._nc: Client | None = None
        self._stopping = False
        self._tasks: list[asyncio.Task[Any]] = []
        self._first_attempt = asyncio.Event()

    # ------------------------------------------------------------ notifier

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def publish(self, subject: str, payload: bytes) -> None:
        nc = self._nc
        if nc is None or nc.is_closed:
            raise NotConnected("not connected to NATS")
        await nc.publish(subject, payload)

    async def request(self, subject: str, payload: bytes, timeout: float) -> bytes:
        nc = self._nc
        if nc is None or not nc.is_connected:
            raise NotConnected("not connected to NATS")
        try:
            msg = await nc.request(subject, payload, timeout=timeout)
        except nats.errors.NoRespondersError as exc:
            raise NoResponders("no responders available for request") from exc
        except nats.errors.TimeoutError as exc:
            raise RequestTimeout("timeout") from exc
        except (nats.errors.ConnectionClosedError, nats.errors.ConnectionReconnectingError) as exc:
            raise NotConnected(str(exc) or "not connected to NATS") from exc
        return bytes(msg.data)

    async def request_many(self, subject: str, payload: bytes, timeout: float) -> bytes | None:
        """Several resolvers may answer; empty answers mean 'absent', so wait for a non-empty one."""
        nc = self._nc
        if nc is None or not nc.is_connected:
            return None
        inbox = nc.new_inbox()
        try:
            sub = await nc.subscribe(inbox)
        except nats.errors.Error:
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            await nc.publish(subject, payload, reply=inbox)
            while (remaining := deadline - loop.time()) > 0:
                try:
                    msg = await sub.next_msg(timeout=remaining)
                except (TimeoutError, nats.errors.TimeoutError):
                    return None
                if _is_no_responders(msg):
                    return None
                if msg.data:
                    return bytes(msg.data)
            return None
        except nats.errors.Error as exc:
            log.debug(f"request on {subject} failed - {exc}")
            return None
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    # ------------------------------------------------------------ life cycle

    async def start(self, core: Core) -> None:
        """Serve `core` over NATS. Never blocks on a NATS outage for long: the connect loop continues
        in the background. A writable store (not a replica) also takes part in the JWT sync."""
        self.responders = Responders(core, self.publish)
        if not core.store.readonly and not self.replica_mode:
            self.sync = Sync(core, self.publish, interval=self.sync_interval)
        log.info("connecting to NATS for notifications")
        if self.sync is not None:
            self.sync.start_scan()
        self._tasks.append(asyncio.create_task(self._connect_loop()))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._first_attempt.wait(), min(self.connect_timeout, FIRST_ATTEMPT_BOUND))

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks.clear()
        nc, self._nc = self._nc, None
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), 5)
        if self.sync is not None:
            await self.sync.close()

    async def _connect_loop(self) -> None:
        while not self._stopping:
            nc = await self._attempt()
            if nc is not None:
                await self._on_connected(nc)
                self._first_attempt.set()
                return
            self._first_attempt.set()
            await asyncio.sleep(self.reconnect_wait)

    def _options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {
            "servers": self.servers,
            "name": CLIENT_NAME,
            "no_echo": True,
            "connect_timeout": self.connect_timeout,
            "reconnect_time_wait": self.reconnect_wait,
            # nats-py retries forever with 0; Go's 0 means "never reconnect"
            "max_reconnect_attempts": self.max_reconnects if self.max_reconnects != 0 else -1,
            "allow_reconnect": self.max_reconnects != 0,
        }
        if self.credentials:
            opts["user_credentials"] = self.credentials
        if self.tls is not None:
            opts["tls"] = self.tls
        return opts

    async def _attempt(self) -> Client | None:
        """One pass over the servers (see `natsclient.connect_once`)."""

        async def error(nc: Client, exc: Exception | None) -> None:
            if exc is not None:
                await self._on_error(nc, exc)

        async def disconnected(nc: Client, _: Exception | None) -> None:
            if not self._stopping and self._nc is nc:
                log.warn("nats disconnected")

        async def reconnected(nc: Client, _: Exception | None) -> None:
            if not self._stopping and self._nc is nc:
                log.warn("nats reconnected")

        async def closed(nc: Client, _: Exception | None) -> None:
            if not self._stopping and self._nc is nc:
                self.on_closed()

        async def discovered(nc: Client, _: Exception | None) -> None:
            urls = [uri.geturl() for uri in nc.discovered_servers]
            log.debug(f"discovered NATS servers: {', '.join(urls)}")

        nc, failure = await connect_once(
            self._options(),
            error=error,
            disconnected=disconnected,
            reconnected=reconnected,
            closed=closed,
            discovered=discovered,
        )
        if nc is not None:
            self._nc = nc
            return nc
        log.error(f"failed to connect to NATS, {describe(failure)}")
        log.error(f"will try to connect again in {round(self.reconnect_wait * 1000)} milliseconds")
        return None

    async def _on_error(self, nc: Client, exc: Exception) -> None:
        """Failed reconnect attempts also arrive here; they are expected while disconnected."""
        if self._stopping:
            return
        if nc.is_connected:
            log.warn(f"nats error {describe(exc)}")
        else:
            log.debug(f"nats error while reconnecting {describe(exc)}")

    # ------------------------------------------------------------ services

    async def _on_connected(self, nc: Client) -> None:
        """Subscriptions are made once; nats-py replays them after every reconnect."""
        log.info("connected to NATS for account and activation notifications")
        r = self.responders
        assert r is not None  # made by start
        try:
            if self.replica_mode:
                await self._subscribe(nc, rs.UPDATE_OLD, r.replica_update)
                await self._subscribe(nc, rs.ACTIVATE, r.activation)
            else:
                await self._subscribe(nc, rs.LOOKUP, r.lookup)
            if self.sync is not None:
                for subject in (rs.UPDATE_OLD, rs.UPDATE_NEW, rs.UPDATE_ANY):
                    await self._subscribe(nc, subject, r.update)
                await self._subscribe(nc, rs.ACTIVATE, r.activation)
                await self._subscribe(nc, rs.LIST, r.list_accounts)
                await self._subscribe(nc, rs.DELETE, r.delete)
                await self._subscribe(nc, PACK, self.sync.pack_request, queue=QUEUE)
                inbox = nc.new_inbox()
                await self._subscribe(nc, inbox, self.sync.pack_reply)

                async def send(payload: bytes) -> None:
                    await nc.publish(PACK, payload, reply=inbox)

                self._tasks.append(asyncio.create_task(self.sync.run(send, lambda: nc.is_connected)))
            # two round trips: nats-py writes a flush PING ahead of still-buffered SUBs, so only the
            # second PONG proves the subscriptions are live before we announce them
            for _ in range(2):
                await nc.flush(timeout=max(round(self.connect_timeout), 1))
            if self.sync is not None:
                log.info("connected to NATS for JWT syncing")
        except Exception as exc:  # a reconnect replays whatever subscriptions were made
            log.error(f"error subscribing to NATS subjects - {describe(exc)}")

    async def _subscribe(self, nc: Client, subject: str, handler: Handler, queue: str = "") -> Subscription:
        async def cb(msg: Msg) -> None:
            if _is_no_responders(msg):  # the server's "503" to a request nobody listened to
                return
            try:
                await handler(msg.subject, msg.reply, bytes(msg.data))
            except Exception as exc:  # one bad message must not kill the subscription
                log.error(f"error handling message on {msg.subject} - {describe(exc)}")

        return await nc.subscribe(subject, queue=queue, cb=cb)
