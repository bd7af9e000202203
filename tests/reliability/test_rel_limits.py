"""Limits: request body limit, header size limit, and connection/read timeouts from
``http.readtimeout`` (slow-loris clients are cut off while everyone else is served).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.reliability.rel_helpers import (
    http_request,
    jwt_files,
    raw_request,
    rss_kib,
    server_config,
    start,
)
from tests.support.procs import ServerProcess
from tests.support.trust import Trust

MAX_BODY = 2048
READ_TIMEOUT_MS = 1000
CUT_OFF_WITHIN = READ_TIMEOUT_MS / 1000 + 2.0  # the timeout plus generous scheduling slack


@dataclass
class Limited:
    proc: ServerProcess
    trust: Trust
    store: Path

    def url(self, path: str) -> str:
        return self.proc.url + path

    @property
    def key(self) -> str:
        return self.trust.pub("A")


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Limited]:
    base = tmp_path_factory.mktemp("limits")
    trust = Trust(base / "trust")
    store = base / "store"
    http = f"readtimeout: {READ_TIMEOUT_MS}\nwritetimeout: {READ_TIMEOUT_MS}"
    proc = start(base, server_config(trust, store, http=http, extra=f"maxbodysize: {MAX_BODY}"))
    try:
        yield Limited(proc, trust, store)
    finally:
        proc.stop()


def healthy(limited: Limited) -> bool:
    reply = raw_request(limited.proc.port, http_request("GET", "/healthz"), timeout=5)
    return reply.status == 200


# ------------------------------------------------------------------------------- body limit


def test_body_limit_is_413_and_inclusive(limited: Limited) -> None:
    jwt = limited.trust.account_jwt("A").encode()
    path = f"/jwt/v1/accounts/{limited.key}"
    at_limit = jwt + b" " * (MAX_BODY - len(jwt))  # whitespace is stripped before decoding
    over = at_limit + b" "
    reply = raw_request(limited.proc.port, http_request("POST", path, over))
    assert reply.status == 413 and reply.text == "request body too large\n"
    chunked = (
        b"".join(b"100\r\n" + b" " * 0x100 + b"\r\n" for _ in range(MAX_BODY // 0x100 + 1)) + b"0\r\n\r\n"
    )
    reply = raw_request(
        limited.proc.port, http_request("POST", path, chunked, headers={"transfer-encoding": "chunked"})
    )
    assert reply.status == 413 and reply.text == "request body too large\n"
    # a lying Content-Length is refused before the body is read
    reply = raw_request(
        limited.proc.port, http_request("POST", path, b"", headers={"content-length": "99999999"})
    )
    assert reply.status == 413
    assert not jwt_files(limited.store)
    reply = raw_request(limited.proc.port, http_request("POST", path, at_limit))
    assert reply.status == 200, reply
    assert httpx.get(limited.url(path)).content == jwt
    assert healthy(limited)


# ----------------------------------------------------------------------------- header limit


@pytest.mark.parametrize(
    "headers,accepted",
    [
        ({"x-pad": "a" * 8192}, True),
        ({f"x-h{i}": "v" for i in range(50)}, True),
        ({"x-pad": "a" * (1 << 20)}, False),
        ({"x-pad": "a" * (512 << 10)}, False),
        ({f"x-h{i}": "v" for i in range(500)}, False),
    ],
    ids=["8KiB", "50-headers", "1MiB", "512KiB", "500-headers"],
)
def test_header_size_limit(limited: Limited, headers: dict[str, str], accepted: bool) -> None:
    reply = raw_request(limited.proc.port, http_request("GET", "/healthz", headers=headers))
    if accepted:
        assert reply.status == 200
    else:
        # granian's own limit: 431 (or the connection is closed), never a hang or a crash
        assert reply.status in (400, 413, 431) or (reply.status is None and reply.closed), reply
        assert reply.elapsed < 5
    assert healthy(limited)


# ------------------------------------------------------------------------------ slow-loris


def slow_loris(port: int, payload: bytes, results: list[float | None], stop: threading.Event) -> None:
    """Send ``payload`` one byte every 100 ms; record when the server cut us off (None: never)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            for byte in payload:
                if stop.is_set():
                    break
                s.sendall(bytes([byte]))
                s.settimeout(0.1)
                try:
                    if s.recv(4096) == b"":
                        results.append(time.monotonic() - started)
                        return
                except TimeoutError:
                    pass
        except OSError:
            results.append(time.monotonic() - started)
            return
    results.append(None)


def idle(port: int, results: list[float | None]) -> None:
    """Connect and send nothing at all."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=CUT_OFF_WITHIN + 3) as s:
        try:
            s.recv(10)
            results.append(time.monotonic() - started)
        except TimeoutError:
            results.append(None)
        except OSError:
            results.append(time.monotonic() - started)


def test_slow_loris_clients_are_cut_off_while_others_are_served(limited: Limited) -> None:
    port = limited.proc.port
    endless_headers = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
    cut: list[float | None] = []
    idles: list[float | None] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=slow_loris, args=(port, endless_headers, cut, stop)) for _ in range(30)
    ]
    threads += [threading.Thread(target=idle, args=(port, idles)) for _ in range(30)]
    rss_before = rss_kib(limited.proc.pid)
    for t in threads:
        t.start()
    # meanwhile, a well-behaved client is served promptly
    latencies = []
    jwt = limited.trust.account_jwt("B")
    with httpx.Client(timeout=5) as client:
        assert (
            client.post(limited.url(f"/jwt/v1/accounts/{limited.trust.pub('B')}"), content=jwt).status_code
            == 200
        )
        deadline = time.monotonic() + CUT_OFF_WITHIN + 0.5
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            resp = client.get(limited.url(f"/jwt/v1/accounts/{limited.trust.pub('B')}"))
            latencies.append(time.monotonic() - t0)
            assert resp.status_code == 200 and resp.text == jwt
            time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(CUT_OFF_WITHIN + 5)
    assert max(latencies) < 1.5, f"a well-behaved client waited {max(latencies):.2f}s"
    assert len(cut) == 30 and all(c is not None and c <= CUT_OFF_WITHIN for c in cut), cut
    assert len(idles) == 30 and all(c is not None and c <= CUT_OFF_WITHIN for c in idles), idles
    assert rss_kib(limited.proc.pid) - rss_before < 16 * 1024
    assert healthy(limited)


def test_slow_body_is_cut_off_and_nothing_is_stored(limited: Limited) -> None:
    key = limited.trust.pub("C")
    jwt = limited.trust.account_jwt("C").encode()
    head = http_request("POST", f"/jwt/v1/accounts/{key}", b"", headers={"content-length": str(len(jwt))})
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", limited.proc.port), timeout=10) as s:
        s.sendall(head)
        reply = b""
        with contextlib.suppress(OSError):
            for byte in jwt:  # one byte every 50 ms: the whole body would take half a minute
                s.sendall(bytes([byte]))
                s.settimeout(0.05)
                try:
                    chunk = s.recv(4096)
                except TimeoutError:
                    continue
                reply += chunk
                if not chunk or b"\r\n\r\n" in reply:
                    break
        elapsed = time.monotonic() - started
    assert reply.startswith(b"HTTP/1.1 400"), reply
    assert reply.endswith(b"bad JWT in request\n"), reply
    assert elapsed <= CUT_OFF_WITHIN
    assert httpx.get(limited.url(f"/jwt/v1/accounts/{key}")).status_code == 404
    assert healthy(limited)


def test_clients_that_never_read_do_not_starve_others(limited: Limited) -> None:
    """Pipelined requests whose answers are never read: the server's memory stays bounded and
    everyone else is served. (The stuck connection itself is closed by the write timeout: see below.)"""
    rss_before = rss_kib(limited.proc.pid)
    sockets = []
    request = http_request("GET", "/jwt/v1/help").replace(b"Connection: close\r\n", b"")
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", limited.proc.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(0.2)
        with contextlib.suppress(OSError):
            for _ in range(2000):
                s.sendall(request * 10)
        sockets.append(s)
    try:
        with httpx.Client(timeout=5) as client:
            for _ in range(20):
                assert client.get(limited.url("/healthz")).status_code == 200
        assert rss_kib(limited.proc.pid) - rss_before < 32 * 1024
    finally:
        for s in sockets:
            s.close()
    assert healthy(limited)


# ------------------------------------------------------------- write and handshake timeouts


def server_side_state(server_port: int, client_port: int) -> str | None:
    """TCP state (hex code of /proc/net/tcp, "01" = ESTABLISHED) of the server's end of a connection."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state = fields[1], fields[2], fields[3]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            return state
    return None


def test_write_timeout_closes_a_connection_that_never_reads(limited: Limited) -> None:
    request = http_request("GET", "/jwt/v1/help").replace(b"Connection: close\r\n", b"")
    with socket.create_connection(("127.0.0.1", limited.proc.port)) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(0.2)
        with contextlib.suppress(OSError):
            for _ in range(2000):
                s.sendall(request * 10)
        client_port = s.getsockname()[1]
        time.sleep(CUT_OFF_WITHIN)
        # the server has given up on a client that does not read for longer than writetimeout
        assert server_side_state(limited.proc.port, client_port) != "01"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("limits-tls")
    cert, key = base / "cert.pem", base / "key.pem"
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1"],
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    if made.returncode != 0:
        pytest.skip("openssl is not available to make a test certificate")
    http = f'readtimeout: {READ_TIMEOUT_MS}\ntls {{ cert: "{cert}", key: "{key}" }}'
    proc = start(base, server_config(Trust(base / "trust"), base / "store", http=http))
    try:
        yield proc
    finally:
        proc.stop()


def test_tls_idle_after_handshake_is_cut_off(tls_server: ServerProcess) -> None:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", tls_server.port), timeout=CUT_OFF_WITHIN + 3)
    with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
        started = time.monotonic()
        assert s.recv(10) == b""
        assert time.monotonic() - started <= CUT_OFF_WITHIN


def test_tls_client_that_never_starts_the_handshake_is_cut_off(tls_server: ServerProcess) -> None:
    results: list[float | None] = []
    idle(tls_server.port, results)
    assert results[0] is not None


async def test_many_idle_connections_then_normal_service(limited: Limited) -> None:
    """500 connections that say nothing are all dropped after the read timeout; service goes on."""
    conns = [await asyncio.open_connection("127.0.0.1", limited.proc.port) for _ in range(500)]
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            assert (await client.get(limited.url("/healthz"))).status_code == 200

        async def closed(reader: asyncio.StreamReader) -> bool:
            try:
                return await asyncio.wait_for(reader.read(1), CUT_OFF_WITHIN + 2) == b""
            except (TimeoutError, OSError):
                return False

        results = await asyncio.gather(*(closed(r) for r, _ in conns))
        assert all(results), f"{results.count(False)} idle connections were kept open"
    finally:
        for _, w in conns:
            w.close()
    assert healthy(limited)


def test_tls_client_that_trickles_its_hello_is_cut_off(tls_server: ServerProcess) -> None:
    """A ClientHello sent one byte per 100 ms never completes in time: cut within the read timeout."""
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    hello = outgoing.read()
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", tls_server.port)) as s:
        s.settimeout(0.1)
        closed = False
        for byte in hello:
            try:
                s.sendall(bytes([byte]))
                if s.recv(10) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except OSError:
                closed = True
                break
            if time.monotonic() - started > CUT_OFF_WITHIN + 2:
                break
    assert closed
    assert time.monotonic() - started <= CUT_OFF_WITHIN + 0.5


def test_tls_connection_in_use_outlives_the_timeouts(tls_server: ServerProcess) -> None:
    """Requests every 400 ms over one TLS connection for three read timeouts: never cut."""
    with httpx.Client(verify=False, timeout=5) as client:
        for _ in range(8):
            assert client.get(tls_server.url + "/healthz").status_code == 200
            time.sleep(0.4)
        assert client.get(tls_server.url + "/healthz").status_code == 200


def test_slow_reader_is_not_cut_by_the_write_timeout(limited: Limited) -> None:
    """A client that reads slowly but keeps reading makes progress, so it keeps its connection."""
    request = http_request("GET", "/jwt/v1/help").replace(b"Connection: close\r\n", b"")
    answers = 40
    with socket.create_connection(("127.0.0.1", limited.proc.port)) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(request * answers)
        s.settimeout(5)
        received = b""
        started = time.monotonic()
        while received.count(b"HTTP/1.1 200") < answers:
            chunk = s.recv(16384)
            assert chunk, f"cut after {received.count(b'HTTP/1.1 200')} answers"
            received += chunk
            if time.monotonic() - started < 3 * READ_TIMEOUT_MS / 1000:
                time.sleep(0.2)  # slower than the server writes, for three write timeouts
    assert received.count(b"HTTP/1.1 200") == answers
