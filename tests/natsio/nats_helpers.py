"""Helpers for the NATS tests: our server's config text, nats-py clients, bounded message collection."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.aio.client import Client
from nats.aio.msg import Msg

from tests.support.polling import eventually  # noqa: F401 - shared by this folder's tests
from tests.support.procs import ServerProcess
from tests.support.trust import Trust

TIMEOUT = 10.0


def server_config(
    nats_url: str | None,
    trust: Trust | None = None,
    *,
    store: Path | None = None,
    creds: Path | None = None,
    nats_extra: str = "",
    extra: str = "",
    system_account: bool = True,
) -> str:
    """Our server's config: operator trust, optional directory store, NATS with a short reconnect wait."""
    lines = ["logging { colors: false, debug: true }", "http { host: 127.0.0.1, port: 0 }"]
    if trust is not None:
        lines.append(f'operatorjwtpath: "{trust.operator_jwt_path}"')
        if system_account:
            lines.append(f'systemaccountjwtpath: "{trust.system_account_jwt_path}"')
    if store is not None:
        lines.append(f'store {{ dir: "{store}" }}')
    if nats_url is not None:
        nats_lines = [f'servers: ["{nats_url}"]', "reconnectwait: 200", "connecttimeout: 1000"]
        if creds is not None:
            nats_lines.append(f'usercredentials: "{creds}"')
        if nats_extra:
            nats_lines.append(nats_extra)
        lines.append("nats {\n  " + "\n  ".join(nats_lines) + "\n}")
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n"


async def wait_line(
    proc: ServerProcess, pattern: str, timeout: float = TIMEOUT, since: int | None = None
) -> str:
    """`proc.wait_for_line` off the event loop, so nats-py clients keep running meanwhile."""
    return await asyncio.to_thread(proc.wait_for_line, pattern, timeout, since=since)


@contextlib.asynccontextmanager
async def client(url: str, **kwargs: Any) -> AsyncIterator[Client]:
    """A nats-py client that never retries forever (tests must not hang)."""
    kwargs.setdefault("connect_timeout", 2)
    kwargs.setdefault("max_reconnect_attempts", 2)
    kwargs.setdefault("reconnect_time_wait", 0.2)
    kwargs.setdefault("allow_reconnect", False)
    nc = await nats.connect(url, **kwargs)
    try:
        yield nc
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.close(), 5)


class Collector:
    """Messages of one subscription, with bounded waits."""

    def __init__(self) -> None:
        self.msgs: list[Msg] = []
        self._event = asyncio.Event()

    async def handle(self, msg: Msg) -> None:
        self.msgs.append(msg)
        self._event.set()

    async def wait_for(self, count: int = 1, timeout: float = TIMEOUT) -> list[Msg]:
        deadline = time.monotonic() + timeout
        while len(self.msgs) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"expected {count} messages, got {len(self.msgs)}")
            self._event.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._event.wait(), remaining)
        return self.msgs


async def connects(url: str, creds: Path) -> bool:
    """Whether a user with these credentials can connect (nats-server resolved its account)."""
    try:
        async with client(url, user_credentials=str(creds)) as nc:
            return bool(nc.is_connected)
    except (TimeoutError, nats.errors.Error, OSError):
        return False


async def flushed(nc: Client) -> None:
    """Make sure the server has processed everything sent so far.

    nats-py 2.16 writes the PING of `flush()` straight to the socket while earlier SUB/PUB commands
    may still sit in its pending buffer, so one PONG proves nothing; after a first round trip the
    buffer has been written, and the second PING is queued behind it.
    """
    await nc.flush()
    await nc.flush()


async def collect(nc: Client, subject: str) -> Collector:
    col = Collector()
    await nc.subscribe(subject, cb=col.handle)
    await flushed(nc)
    return col


async def request_all(
    nc: Client, subject: str, payload: bytes, *, until_empty: bool = True, timeout: float = 5.0
) -> list[bytes]:
    """Publish with a private inbox; gather replies until an empty one (end marker) or the timeout."""
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    out: list[bytes] = []
    try:
        await nc.publish(subject, payload, reply=inbox)
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                msg = await sub.next_msg(timeout=remaining)
            except (TimeoutError, nats.errors.TimeoutError):
                break
            out.append(bytes(msg.data))
            if until_empty and not msg.data:
                break
    finally:
        await sub.unsubscribe()
    return out


async def post(http: httpx.AsyncClient, base: str, pub: str, jwt: str) -> httpx.Response:
    """What `nsc push` does: POST the JWT to <url>/jwt/v1/accounts/<pubkey>."""
    return await http.post(
        f"{base}/jwt/v1/accounts/{pub}", content=jwt, headers={"Content-Type": "application/jwt"}
    )
