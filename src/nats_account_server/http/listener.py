"""Granian, embedded in our asyncio loop, serving the RSGI app.

We bind the listening socket ourselves and hand granian a copy: a port in use, an unresolvable
host or bad TLS files become one clear startup error (exit 1), port 0 resolves to the port we
print in the `resolver: URL(...)` line, and we can set what granian has no knob for:
`TCP_USER_TIMEOUT` (inherited by every accepted connection) enforces `http.writetimeout` on
clients that stop reading, and the handshake guard cuts TLS clients that never finish a handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import socket
import ssl
from pathlib import Path
from typing import Any

from nats_account_server.http.guard import HandshakeGuard
from nats_account_server.http.stack import (
    HTTP1Settings,
    HTTPModes,
    Interfaces,
    Server,
    SocketHolder,
    SSLProtocols,
)
from nats_account_server.log import log
from nats_account_server.natsclient import check_file
from nats_account_server.oserrors import error_text, os_reason
from nats_account_server.records import record

BACKLOG = 4096  # the kernel caps it at net.core.somaxconn
RESERVED_FILES = 256  # descriptors kept for the store, NATS, TLS files and logs
WANTED_CONNECTIONS = 10_000
MAX_FILES = 1 << 20


class ListenError(Exception):
    pass


@record(frozen=True)
class Bound:
    """The address the listening socket is bound to, and whether it serves TLS."""

    ip: str
    port: int
    family: int
    tls: bool


def check_tls(cert: str, key: str) -> None:
    """Load the pair once with Python's ssl so a bad file is reported before we serve."""
    try:
        check_file(cert, "TLS certificate")  # a FIFO or /dev/zero must not hang the start
        if key:
            check_file(key, "TLS key")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key or None)
    except (OSError, ssl.SSLError) as exc:
        raise ListenError(f"error loading X509 certificate/key pair: {error_text(exc)}") from exc
    if not key:
        raise ListenError("error loading X509 certificate/key pair: no key file configured")


def connection_capacity() -> int:
    """How many connections granian may hold at once: the process's open-file limit, first raised
    to its hard limit, minus a reserve. granian's default (its backlog, 1,024) lets a thousand slow
    or idle clients starve everyone else; past the capacity new connections wait in the backlog."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ceiling = MAX_FILES if hard == resource.RLIM_INFINITY else min(hard, MAX_FILES)
    if soft != resource.RLIM_INFINITY and soft < ceiling:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))
            soft = ceiling
    files = MAX_FILES if soft == resource.RLIM_INFINITY else min(soft, MAX_FILES)
    capacity = max(64, files - RESERVED_FILES)
    if capacity < WANTED_CONNECTIONS:
        log.warn(
            f"open file limit is {files}: at most {capacity} HTTP connections at once "
            "(raise it with `ulimit -n` or LimitNOFILE=)"
        )
    else:
        log.debug(f"open file limit is {files}: up to {capacity} HTTP connections at once")
    return capacity


def set_write_timeout(sock: socket.socket, write_timeout_ms: int) -> None:
    """`http.writetimeout` by the kernel: the accepted sockets inherit the listening socket's
    TCP_USER_TIMEOUT, so one whose sent data stays unacknowledged that long is aborted."""
    if write_timeout_ms > 0 and hasattr(socket, "TCP_USER_TIMEOUT"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, write_timeout_ms)


def bind(host: str, port: int, write_timeout_ms: int) -> socket.socket:
    """Resolve the host and bind a non-blocking listening socket."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ListenError(f"error listening on {host}:{port}: {os_reason(exc)}") from exc
    family, _, _, _, addr = infos[0]
    if not host:
        family, addr = socket.AF_INET, ("0.0.0.0", port)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        set_write_timeout(sock, write_timeout_ms)
        sock.bind(addr)
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ListenError(f"error listening on {host}:{port}: {os_reason(exc)}") from exc
    return sock


class Sockets:
    """Listening sockets that outlive one instance. A reload that listens where the old
    configuration did gets the same socket back, so clients that connect while the instances
    change places wait in its queue instead of being refused."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, int], socket.socket] = {}

    def take(self, host: str, port: int, write_timeout_ms: int) -> socket.socket:
        sock = self._held.get((host, port))
        if sock is None:
            sock = self._held[(host, port)] = bind(host, port, write_timeout_ms)
        else:
            set_write_timeout(sock, write_timeout_ms)
        return sock

    def keep_only(self, kept: socket.socket | None) -> None:
        """Close every held socket but `kept` (after a reload moved to another address)."""
        for where, sock in list(self._held.items()):
            if sock is not kept:
                sock.close()
                del self._held[where]

    def close(self) -> None:
        self.keep_only(None)


class _Embedded(Server):
    """granian's embedded server, serving on a socket we bound (granian closes its copy on stop)."""

    def __init__(self, *args: Any, fd: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fd = fd

    def _init_shared_socket(self) -> None:
        holder: Any = SocketHolder  # granian's stub leaves out its constructor (fd, is_uds, backlog)
        self._ssp = None
        self._shd = holder(self._fd, False, BACKLOG)
        self._sfd = self._fd  # type: ignore[assignment]


class Listener:
    """Owns one embedded granian server for the lifetime of one server instance."""

    def __init__(
        self,
        app: Any,
        host: str,
        port: int,
        *,
        cert: str = "",
        key: str = "",
        read_timeout_ms: int = 5000,
        write_timeout_ms: int = 5000,
        sockets: Sockets | None = None,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.cert = cert
        self.key = key
        self.read_timeout_ms = read_timeout_ms
        self.write_timeout_ms = write_timeout_ms
        self._server: Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None
        self._sockets = sockets  # when given, it owns the listening socket, which outlives us
        self._guard: asyncio.Task[None] | None = None

    async def start(self) -> Bound:
        if self.cert:
            check_tls(self.cert, self.key)
        if self._sockets is not None:
            self._sock = sock = self._sockets.take(self.host, self.port, self.write_timeout_ms)
        else:
            self._sock = sock = bind(self.host, self.port, self.write_timeout_ms)
        ip, port = str(sock.getsockname()[0]), int(sock.getsockname()[1])
        family = int(sock.family)
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
        self._server = _Embedded(
            self.app,
            fd=os.dup(sock.fileno()),
            address=ip,
            port=port,
            interface=Interfaces.RSGI,
            websockets=False,
            # HTTP/1.1 only: granian's "auto" mode sniffs for HTTP/2 without any timeout, so a
            # client that connects and sends nothing would hold its connection forever
            http=HTTPModes.http1,
            log_enabled=False,
            backlog=BACKLOG,
            backpressure=connection_capacity(),
            http1_settings=HTTP1Settings(header_read_timeout=header_timeout),
            **tls,
        )
        self._task = asyncio.get_running_loop().create_task(self._server.serve())
        try:
            await self._wait_serving(ip if ip not in ("0.0.0.0", "::") else None, port, family)
        except ListenError:
            await self.stop()
            raise
        if self.cert and self.read_timeout_ms > 0:
            guard = HandshakeGuard(port, self.read_timeout_ms / 1000)
            self._guard = asyncio.get_running_loop().create_task(guard.run())
        return Bound(ip, port, family, bool(self.cert))

    @property
    def sock(self) -> socket.socket | None:
        """The listening socket while serving."""
        return self._sock

    async def _wait_serving(self, ip: str | None, port: int, family: int) -> None:
        """The kernel accepts connections as soon as we listen: only an answer proves granian serves."""
        target = ip or ("::1" if family == socket.AF_INET6 else "127.0.0.1")
        tls: ssl.SSLContext | None = None
        if self.cert:
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            tls.check_hostname = False
            tls.verify_mode = ssl.CERT_NONE
        probe = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        for _ in range(200):
            task = self._task
            if task is not None and task.done():
                exc = task.exception()
                raise ListenError(f"error listening on {self.host}:{port}: {error_text(exc)}")
            with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
                reader, writer = await asyncio.wait_for(asyncio.open_connection(target, port, ssl=tls), 1)
                try:
                    writer.write(probe)
                    if await asyncio.wait_for(reader.read(5), 1) == b"HTTP/":
                        return
                finally:
                    writer.close()
            await asyncio.sleep(0.01)
        raise ListenError(f"error listening on {self.host}:{port}: server did not start")

    async def stop(self) -> None:
        if self._guard is not None:
            self._guard.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._guard
            self._guard = None
        if self._server is not None and self._task is not None:
            self._server.stop()  # type: ignore[no-untyped-call]
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 10)
        self._server = None
        self._task = None
        if self._sock is not None and self._sockets is None:
            self._sock.close()
        self._sock = None
