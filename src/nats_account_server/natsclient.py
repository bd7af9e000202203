"""What every nats-py client we open shares (the system account's bridge, the JetStream KV store):
its connection options and one connect pass over the configured servers."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client

__all__ = ["Hook", "connect_once", "describe", "server_urls", "tls_context"]

#: a client event once the connection is up: (the client, the error or None)
Hook = Callable[[Client, Exception | None], Awaitable[None]]


def server_urls(servers: list[str]) -> list[str]:
    """Go's client takes a comma-joined list, so entries may themselves hold several URLs."""
    return [url.strip() for entry in servers for url in entry.split(",") if url.strip()]


def tls_context(root: str, cert: str, key: str) -> ssl.SSLContext | None:
    """Client TLS from `nats.tls`; None leaves nats-py's default (used for `tls://` URLs)."""
    if not root and not cert:
        return None
    ctx = ssl.create_default_context(cafile=root or None)
    if cert:
        ctx.load_cert_chain(cert, key or None)
    return ctx


def describe(exc: BaseException | None) -> str:
    """An error as a log line shows it: its text, or its type when it has none."""
    if exc is None:
        return "unknown error"
    text = str(exc)
    return text if text else type(exc).__name__


async def connect_once(
    options: dict[str, Any], *, timeout: float | None = None, **hooks: Hook
) -> tuple[Client | None, BaseException | None]:
    """One pass over `options["servers"]`: the client, or None and the last error.

    nats-py's `connect()` alone would loop for ever with unlimited reconnects, so it is cancelled
    once every server has failed once (or after `timeout`). Until the connection is up, errors count
    as the pass's failures; afterwards each event goes to its hook (`error`, `disconnected`,
    `reconnected`, `closed`, `discovered`), called with the client.
    """
    nc = Client()
    failures: list[BaseException] = []
    all_failed = asyncio.Event()
    live = False
    servers = len(options["servers"])

    def relay(name: str) -> Callable[..., Awaitable[None]]:
        hook = hooks.get(name)

        async def event(exc: Exception | None = None) -> None:
            if live and hook is not None:
                await hook(nc, exc)
            elif name == "error" and not live and exc is not None:
                failures.append(exc)
                if len(failures) >= servers:
                    all_failed.set()

        return event

    callbacks: dict[str, Any] = {
        f"{name}_cb": relay(name) for name in ("error", "disconnected", "reconnected", "closed")
    }
    if "discovered" in hooks:
        callbacks["discovered_server_cb"] = relay("discovered")
    connecting = asyncio.create_task(nc.connect(**options, **callbacks))
    failed = asyncio.create_task(all_failed.wait())
    await asyncio.wait({connecting, failed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    failed.cancel()
    if connecting.done() and not connecting.cancelled() and connecting.exception() is None:
        live = True
        return nc, None
    connecting.cancel()
    with contextlib.suppress(BaseException):
        await connecting
    error = None if connecting.cancelled() else connecting.exception()
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(nc.close(), 1)
    return None, error or (failures[-1] if failures else None)
