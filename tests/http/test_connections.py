"""Connection capacity: thousands of slow or idle connections do not starve other clients.

The HTTP stack holds as many connections as the open-file limit allows (raised to its hard limit
at start); a low limit is warned about. Functional, not timed: the held connections would keep
every GET waiting for the read timeout (30 s here) if they filled the server's capacity.
"""

from __future__ import annotations

import contextlib
import resource
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.http.conftest import server_config
from tests.support.procs import ServerProcess, start_server
from tests.support.trust import Trust

HELD = 2_000
SLOW_HEAD = b"GET /jwt/v1/accounts/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"  # never finished
GET_TIMEOUT = 10.0  # far below the 30 s read timeout the held connections would need


@pytest.fixture
def own_files() -> Iterator[None]:
    """This test process holds HELD sockets: raise its own open-file limit for the test."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = HELD + 512
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"the hard open-file limit ({hard}) is below the {wanted} descriptors this test needs")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def hold_slow_headers(port: int, count: int) -> list[socket.socket]:
    held: list[socket.socket] = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(SLOW_HEAD)
        held.append(sock)
    return held


def test_slow_header_connections_do_not_starve_gets(own_files: None, tmp_path: Path) -> None:
    trust = Trust(tmp_path / "trust")
    store = tmp_path / "store"
    key = trust.pub("A")
    proc = start_server(
        config_text=server_config(trust, store, "http { readtimeout: 30000 }\nlogging { debug: true }\n"),
        tmp_path=tmp_path,
    )
    held: list[socket.socket] = []
    try:
        assert proc.find_lines("HTTP connections at once")
        with httpx.Client(timeout=GET_TIMEOUT) as client:
            assert (
                client.post(proc.url + f"/jwt/v1/accounts/{key}", content=trust.account_jwt("A")).status_code
                == 200
            )
        held = hold_slow_headers(proc.port, HELD)
        answered = 0
        for _ in range(20):  # a fresh connection each time, as nats-server's resolver makes them
            with httpx.Client(timeout=GET_TIMEOUT) as client:
                reply = client.get(proc.url + f"/jwt/v1/accounts/{key}")
            assert reply.status_code == 200
            answered += 1
        assert answered == 20
        for sock in held[:10]:  # and the held connections are still open, not cut to make room
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                assert sock.recv(1) != b""
    finally:
        for sock in held:
            sock.close()
        proc.stop()


def test_a_low_open_file_limit_is_warned_about(tmp_path: Path) -> None:
    trust = Trust(tmp_path / "trust")
    conf = tmp_path / "server.conf"
    conf.write_text(server_config(trust, tmp_path / "store"), encoding="utf-8")
    proc = ServerProcess(["-c", str(conf)], cwd=tmp_path)
    proc.argv = ["prlimit", "--nofile=1024:1024", sys.executable, *proc.argv[1:]]
    proc.start()
    try:
        proc.wait_ready()
        lines = proc.find_lines("[WRN] open file limit is 1024")
        assert lines, proc.describe()
        assert "at most 768 HTTP connections at once" in lines[0]
        with httpx.Client(timeout=GET_TIMEOUT) as client:
            assert client.get(proc.url + "/healthz").status_code == 200
    finally:
        proc.stop()


def test_an_idle_keep_alive_connection_is_closed_after_the_read_timeout(tmp_path: Path) -> None:
    """Idle connections give their place up: after an answer, a silent client is cut like a slow one."""
    trust = Trust(tmp_path / "trust")
    proc = start_server(
        config_text=server_config(trust, tmp_path / "store", "http { readtimeout: 1000 }\n"),
        tmp_path=tmp_path,
    )
    try:
        with socket.create_connection(("127.0.0.1", proc.port), timeout=5) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert sock.recv(1000).startswith(b"HTTP/1.1 200")
            started = time.monotonic()
            assert sock.recv(10) == b""  # closed by the server, well before our 5 s timeout
            assert 0.5 < time.monotonic() - started < 4
    finally:
        proc.stop()
