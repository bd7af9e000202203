"""The HTTP front: one listener that outlives server instances, handing requests to the current app.

A reload whose HTTP settings are unchanged keeps the listener and every open connection: requests
that arrive while the old instance drains and the new one starts are held, then given to the new
app, so a reload under load answers every request. Changed HTTP settings (address, TLS, timeouts)
get a new listener; the listening socket is still kept when the address is the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from nats_account_server.http.listener import Bound, Listener, Sockets
from nats_account_server.records import record

HOLD_LIMIT = 10.0  # seconds a request may wait for the next instance before a 503
DRAIN_LIMIT = 15.0  # seconds an instance's requests in flight may take to finish before it stops
RELOADING = b"server is reloading its configuration, retry\n"

Handler = Callable[[Any, Any], Awaitable[None]]


@record(frozen=True)
class Listening:
    """The settings that need a new listener when they change."""

    host: str
    port: int
    cert: str = ""
    key: str = ""
    read_timeout_ms: int = 5000
    write_timeout_ms: int = 5000


class Draining(Protocol):
    """An RSGI app that counts its requests in flight, so its instance can wait for them."""

    active: int

    async def __rsgi__(self, scope: Any, proto: Any) -> None: ...


class Front:
    def __init__(self) -> None:
        self.sockets = Sockets()
        self._listener: Listener | None = None
        self._listening: Listening | None = None
        self._bound: Bound | None = None
        self._app: Draining | None = None
        self._handler: Handler = self._hold
        self._open = asyncio.Event()  # set while an app takes requests, or once the front is closed
        self._closed = False

    def __rsgi__(self, scope: Any, proto: Any) -> Awaitable[None]:
        """What granian calls: the current app's handler (a plain call, no extra coroutine)."""
        return self._handler(scope, proto)

    async def _hold(self, scope: Any, proto: Any) -> None:
        """Between two instances: wait for the next one, a bounded time."""
        try:
            await asyncio.wait_for(self._open.wait(), HOLD_LIMIT)
        except TimeoutError:
            pass
        app = self._app
        if app is None or self._closed:
            proto.response_bytes(503, [("content-type", "text/plain"), ("retry-after", "1")], RELOADING)
            return
        await app.__rsgi__(scope, proto)

    async def serve(self, app: Draining, listening: Listening) -> Bound:
        """Give `app` the requests; (re)start the listener first when its settings changed."""
        self._app, self._handler = app, app.__rsgi__  # first: a new listener's start probe needs it
        if self._listener is None or listening != self._listening:
            old = self._listener
            self._listener = None
            if old is not None:
                await old.stop()
            listener = Listener(
                self,
                listening.host,
                listening.port,
                cert=listening.cert,
                key=listening.key,
                read_timeout_ms=listening.read_timeout_ms,
                write_timeout_ms=listening.write_timeout_ms,
                sockets=self.sockets,
            )
            self._bound = await listener.start()
            self._listener, self._listening = listener, listening
            self.sockets.keep_only(listener.sock)
        self._open.set()
        assert self._bound is not None
        return self._bound

    async def release(self, app: Draining) -> None:
        """Stop giving `app` requests (new ones are held for the next app) and wait for its
        requests in flight, so that its instance can close what they use."""
        if self._app is app:
            self._open.clear()
            self._handler = self._hold
            self._app = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN_LIMIT
        while app.active > 0 and loop.time() < deadline:
            await asyncio.sleep(0.005)

    async def close(self) -> None:
        """Stop listening (at shutdown, or when no instance can start): held requests get a 503."""
        self._closed = True
        self._open.set()
        if self._listener is not None:
            await self._listener.stop()
            self._listener = None
        self.sockets.close()
