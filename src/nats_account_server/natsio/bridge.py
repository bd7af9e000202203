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
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import nats
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from nats_account_server.core.heard import Heard
from nats_account_server.core.lifecycle import StartupError
from nats_account_server.core.notifier import NoResponders, NotConnected, RequestTimeout
from nats_account_server.core.service import Core
from nats_account_server.log import log
from nats_account_server.metrics import metrics
from nats_account_server.natsclient import (
    ClientFileError,
    check_client_files,
    connect_once,
    describe,
    server_urls,
    shown_url,
)
from nats_account_server.natsio import responders as rs
from nats_account_server.natsio.applied import ask
from nats_account_server.natsio.census import Census, is_no_responders
from nats_account_server.natsio.responders import Responders
from nats_account_server.natsio.sync import PACK, QUEUE, Sync

if TYPE_CHECKING:
    from nats_account_server.config import Settings

CLIENT_NAME = "nats-account-server"
FIRST_ATTEMPT_BOUND = 2.0  # seconds start() waits for the first connect attempt at most
Handler = Callable[[str, str, bytes], Awaitable[None]]


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
        try:  # a missing or broken file is a startup error, as on `-t` and on a reload
            self.tls = check_client_files("nats", self.credentials, n.tls.root, n.tls.cert, n.tls.key)
        except ClientFileError as exc:
            raise StartupError(str(exc)) from exc
        self.replica_mode = bool(settings.primary)
        self.sync_interval = max(n.syncinterval or n.reconnectwait, 100) / 1000
        self.sync: Sync | None = None
        self.responders: Responders | None = None
        self._nc: Client | None = None
        self.census = Census()
        self.lookup_timeout = settings.signrequesttimeout / 1000
        self._url = ""  # the server we are (or were last) connected to, as logs show it
        self._ever_connected = False
        self._file_problem = ""  # the credentials file's problem, logged once per outage
        self._stopping = False
        self._tasks: list[asyncio.Task[Any]] = []
        self._first_attempt = asyncio.Event()

    # ------------------------------------------------------------ notifier

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    @property
    def outage(self) -> str:
        """Why there is no NATS connection right now ("" while connected)."""
        nc = self._nc
        if nc is not None and nc.is_connected:
            return ""
        why = f" ({self._file_problem})" if self._file_problem else ""
        if self._stopping:
            return "the NATS connection is closing: the server stops"
        if nc is not None and nc.is_closed:
            return f"the connection to NATS is closed for good{why}"
        if self._ever_connected:
            return f"connection to NATS server {self._url} lost, reconnecting{why}"
        return f"not connected to NATS yet, retrying every {self._wait_ms} ms{why}"

    @property
    def _wait_ms(self) -> int:
        return round(self.reconnect_wait * 1000)

    async def publish(self, subject: str, payload: bytes) -> None:
        nc = self._nc
        if nc is None or nc.is_closed:
            raise NotConnected(self.outage)
        await nc.publish(subject, payload)

    async def request(self, subject: str, payload: bytes, timeout: float) -> bytes:
        nc = self._nc
        if nc is None or not nc.is_connected:
            raise NotConnected(self.outage)
        try:
            msg = await nc.request(subject, payload, timeout=timeout)
        except nats.errors.NoRespondersError as exc:
            raise NoResponders("no responders available for request") from exc
        except nats.errors.TimeoutError as exc:
            raise RequestTimeout("timeout") from exc
        except (nats.errors.ConnectionClosedError, nats.errors.ConnectionReconnectingError) as exc:
            raise NotConnected(self.outage or describe(exc)) from exc
        return bytes(msg.data)

    async def request_many(self, subject: str, payload: bytes, timeout: float) -> bytes | None:
        """Several resolvers may answer; empty answers mean 'absent', so wait for a non-empty one,
        or until every resolver the census knows of has answered (see census.py)."""
        nc = self._nc
        if nc is None or not nc.is_connected:
            return None
        return await self.census.request(nc, subject, payload, timeout)

    async def ask_servers(self, subject: str, payload: bytes, timeout: float) -> Heard:
        """One message with a reply subject; every nats-server's answer (see natsio/applied.py)."""
        nc = self._nc
        if nc is None or not nc.is_connected:
            raise NotConnected(self.outage)
        try:
            return await ask(nc, subject, payload, timeout)
        except (nats.errors.ConnectionClosedError, nats.errors.ConnectionReconnectingError) as exc:
            raise NotConnected(self.outage or describe(exc)) from exc

    # ------------------------------------------------------------ life cycle

    async def start(self, core: Core) -> None:
        """Serve `core` over NATS. Never blocks on a NATS outage for long: the connect loop continues
        in the background. A writable store (not a replica) also takes part in the JWT sync."""
        self.responders = Responders(core, self.publish)
        if not core.store.readonly and not self.replica_mode:
            self.sync = Sync(core, self.publish, interval=self.sync_interval)
        log.info(f"connecting to NATS for notifications at {self._shown_servers}")
        if self.sync is not None:
            self.sync.start_scan()
        self._tasks.append(asyncio.create_task(self._connect_loop()))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._first_attempt.wait(), min(self.connect_timeout, FIRST_ATTEMPT_BOUND))

    async def stop(self) -> None:
        self._stopping = True
        await self.census.close()
        tasks = list(self._tasks)  # a finished probe leaves the list meanwhile
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks.clear()
        nc, self._nc = self._nc, None
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), 5)
        if self.sync is not None:
            await self.sync.close()

    @property
    def _shown_servers(self) -> str:
        return ", ".join(shown_url(url) for url in self.servers)

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
                again = f", reconnecting every {self._wait_ms} ms" if self.max_reconnects != 0 else ""
                log.warn(f"nats disconnected from {self._url}{again}")

        async def reconnected(nc: Client, _: Exception | None) -> None:
            if not self._stopping and self._nc is nc:
                self._url = shown_url(nc.connected_url)
                self._credentials_back()
                metrics.nats_reconnects += 1
                log.warn(f"nats reconnected to {self._url}")
                self._count_resolvers(nc)

        async def closed(nc: Client, _: Exception | None) -> None:
            if not self._stopping and self._nc is nc:
                self.on_closed()

        async def discovered(nc: Client, _: Exception | None) -> None:
            urls = [shown_url(uri) for uri in nc.discovered_servers]
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
            self._credentials_back()
            return nc
        if isinstance(failure, ClientFileError):  # checked before each attempt: said once per outage
            self._credentials_gone(str(failure), "connecting to NATS")
            return None
        log.error(f"failed to connect to NATS at {self._shown_servers}: {describe(failure)}")
        log.error(f"will try to connect again in {self._wait_ms} milliseconds")
        return None

    def _credentials_gone(self, problem: str, what: str) -> None:
        """A credentials file that is missing or broken: an ERR line once, until it is back."""
        if problem == self._file_problem:
            log.debug(f"{problem} (still)")
            return
        self._file_problem = problem
        log.error(f"{problem}; {what} fails until it is fixed, retrying every {self._wait_ms} ms")

    def _credentials_back(self) -> None:
        if self._file_problem:
            log.info(f"NATS credentials file {self.credentials} is readable again")
            self._file_problem = ""

    async def _on_error(self, nc: Client, exc: Exception) -> None:
        """Failed reconnect attempts also arrive here; they are expected while disconnected. nats-py
        reads the credentials file on every reconnect: a file that went away is said once."""
        if self._stopping:
            return
        if nc.is_connected:
            log.warn(f"nats error {describe(exc)}")
        elif isinstance(exc, OSError) and self.credentials and exc.filename == self.credentials:
            self._credentials_gone(f"NATS credentials file {describe(exc)}", "reconnecting to NATS")
        else:
            log.debug(f"nats error while reconnecting {describe(exc)}")

    # ------------------------------------------------------------ services

    def _count_resolvers(self, nc: Client) -> None:
        """Learn how many resolvers answer lookups on this connection, without holding anything up."""
        self.census.forget()
        task = asyncio.create_task(self.census.probe(nc, self.lookup_timeout))
        self._tasks.append(task)
        task.add_done_callback(self._forget_task)

    def _forget_task(self, task: asyncio.Task[Any]) -> None:
        with contextlib.suppress(ValueError):
            self._tasks.remove(task)

    async def _on_connected(self, nc: Client) -> None:
        """Subscriptions are made once; nats-py replays them after every reconnect."""
        self._url = shown_url(nc.connected_url)
        self._ever_connected = True
        log.info(f"connected to NATS for account and activation notifications at {self._url}")
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
            self._count_resolvers(nc)
            if self.sync is not None:
                log.info(f"connected to NATS for JWT syncing at {self._url}")
        except Exception as exc:  # a reconnect replays whatever subscriptions were made
            log.error(f"error subscribing to NATS subjects - {describe(exc)}")

    async def _subscribe(self, nc: Client, subject: str, handler: Handler, queue: str = "") -> Subscription:
        async def cb(msg: Msg) -> None:
            if is_no_responders(msg):  # the server's "503" to a request nobody listened to
                return
            try:
                await handler(msg.subject, msg.reply, bytes(msg.data))
            except Exception as exc:  # one bad message must not kill the subscription
                log.error(f"error handling message on {msg.subject} - {describe(exc)}")

        return await nc.subscribe(subject, queue=queue, cb=cb)
