"""Granian, embedded in our asyncio loop, serving the RSGI app.

Granian binds inside its worker; we check the address ourselves first so that a port in use,
an unresolvable host or bad TLS files become one clear startup error (exit 1), and so that
port 0 can be resolved to the port we then print in the `resolver: URL(...)` line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from granian.constants import HTTPModes, Interfaces, SSLProtocols
from granian.http import HTTP1Settings
from granian.server.embed import Server


class ListenError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Bound:
    ip: str
    port: int
    family: int
    tls: bool


def check_tls(cert: str, key: str) -> None:
    """Load the pair once with Python's ssl so a bad file is reported before we serve."""
    try:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key or None)
    except (OSError, ssl.SSLError) as exc:
        raise ListenError(f"error loading X509 certificate/key pair: {exc}") from exc
    if not key:
        raise ListenError("error loading X509 certificate/key pair: no key file configured")


def reserve(host: str, port: int) -> tuple[str, int, int]:
    """Resolve the host and find out whether (and which) port we can bind."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ListenError(f"error listening on {host}:{port}: {exc}") from exc
    family, _, _, _, addr = infos[0]
    if not host:
        family, addr = socket.AF_INET, ("0.0.0.0", port)
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(addr)
        except OSError as exc:
            raise ListenError(f"error listening on {host}:{port}: {exc.strerror or exc}") from exc
        return str(addr[0]), int(probe.getsockname()[1]), int(family)


class Listener:
    """Owns one embedded granian server for the lifetime of one server instance."""

    def __init__(
        self, app: Any, host: str, port: int, *, cert: str = "", key: str = "", read_timeout_ms: int = 5000
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.cert = cert
        self.key = key
        self.read_timeout_ms = read_timeout_ms
        self._server: Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> Bound:
        if self.cert:
            check_tls(self.cert, self.key)
        ip, port, family = reserve(self.host, self.port)
        os.environ.setdefault("RUST_BACKTRACE", "0")
        logging.getLogger("granian").disabled = True
        tls: dict[str, Any] = {}
        if self.cert:
            tls = {
                "ssl_cert": Path(self.cert),
                "ssl_key": Path(self.key),
                "ssl_protocol_min": SSLProtocols.tls12,
            }
        header_timeout = self.read_timeout_ms if self.read_timeout_ms > 0 else 3_600_000
        self._server = Server(
            self.app,
            address=ip,
            port=port,
            interface=Interfaces.RSGI,
            websockets=False,
            # HTTP/1.1 only (SPEC 5.1): granian's "auto" mode sniffs for HTTP/2 without any timeout, so a
            # client that connects and sends nothing would hold its connection forever
            http=HTTPModes.http1,
            log_enabled=False,
            backlog=1024,
            http1_settings=HTTP1Settings(header_read_timeout=header_timeout),
            **tls,
        )
        self._task = asyncio.get_running_loop().create_task(self._server.serve())
        await self._wait_listening(ip if ip not in ("0.0.0.0", "::") else None, port, family)
        return Bound(ip, port, family, bool(self.cert))

    async def _wait_listening(self, ip: str | None, port: int, family: int) -> None:
        target = ip or ("::1" if family == socket.AF_INET6 else "127.0.0.1")
        for _ in range(200):
            task = self._task
            if task is not None and task.done():
                exc = task.exception()
                raise ListenError(f"error listening on {self.host}:{port}: {exc}")
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection(target, port)
                writer.close()
                return
            await asyncio.sleep(0.01)
        raise ListenError(f"error listening on {self.host}:{port}: server did not start")

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._task, 10)
        self._server = None
        self._task = None
