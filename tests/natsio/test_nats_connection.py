"""The NATS connection of the server process: late NATS,
name and no-echo, reconnect events, TLS with a client certificate, exit when reconnects run out."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path

import httpx
from nats_helpers import client, collect, post, wait_line

from tests.support.certs import self_signed
from tests.support.natsserver import NatsServer
from tests.support.ports import free_port
from tests.support.procs import ServerProcess
from tests.support.trust import Trust

StartServer = Callable[..., ServerProcess]


async def test_nats_down_at_startup_then_connects(
    nats_factory: Callable[..., NatsServer],
    account_server: StartServer,
    trust: Trust,
    http: httpx.AsyncClient,
) -> None:
    """HTTP serves while NATS is down; the server retries every reconnectwait ms."""
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    proc = account_server(url)
    await wait_line(proc, f"[ERR] failed to connect to NATS at {url}: connection refused")
    await wait_line(proc, "[ERR] will try to connect again in 200 milliseconds")
    resp = await post(http, proc.url, trust.pub("A"), trust.account_jwt("A"))
    assert resp.status_code == 200  # notification skipped, not an error
    await wait_line(
        proc,
        f"skipping notification for {trust.pub('A')[:12]}, not connected to NATS yet, retrying every 200 ms",
    )
    assert (await http.get(f"{proc.url}/jwt/v1/accounts/{trust.pub('A')}")).status_code == 200
    assert len(proc.find_lines("will try to connect again")) >= 1
    nats_factory(port=port)
    await wait_line(proc, "connected to NATS for account and activation notifications")
    await wait_line(proc, "connected to NATS for JWT syncing")
    async with client(url) as nc:
        col = await collect(nc, "$SYS.ACCOUNT.*.CLAIMS.UPDATE")
        resp = await post(http, proc.url, trust.pub("B"), trust.account_jwt("B"))
        assert resp.status_code == 200
        assert (await col.wait_for(1))[0].subject == f"$SYS.ACCOUNT.{trust.pub('B')}.CLAIMS.UPDATE"


async def test_connection_name_and_no_echo(
    nats_factory: Callable[..., NatsServer],
    account_server: StartServer,
    trust: Trust,
    http: httpx.AsyncClient,
) -> None:
    """The connection is named `nats-account-server`; our own notifications never come back."""
    monitor = free_port()
    server = nats_factory(args=["-m", str(monitor)])
    proc = account_server(server.url)
    await wait_line(proc, "connected to NATS for JWT syncing")
    connz = (await http.get(f"http://127.0.0.1:{monitor}/connz")).json()
    assert [c.get("name") for c in connz["connections"]] == ["nats-account-server"]
    # we subscribe to the subject we publish on; with echo the update handler would see our POST
    since = proc.mark()
    assert (await post(http, proc.url, trust.pub("A"), trust.account_jwt("A"))).status_code == 200
    await wait_line(proc, f"[INF] account {trust.pub('A')[:12]} updated: jti ", since=since)
    await asyncio.sleep(0.5)
    assert not proc.find_lines("via nats", since=since)


async def test_reconnect_events_are_logged(
    nats_factory: Callable[..., NatsServer],
    account_server: StartServer,
    trust: Trust,
    http: httpx.AsyncClient,
) -> None:
    """Disconnect and reconnect are WARN lines; subscriptions survive a nats-server restart."""
    server = nats_factory()
    proc = account_server(server.url)
    await wait_line(proc, "connected to NATS for JWT syncing")
    jwt = trust.account_jwt("A")
    assert (await post(http, proc.url, trust.pub("A"), jwt)).status_code == 200
    await asyncio.to_thread(server.restart)
    await wait_line(proc, "[WRN] nats disconnected")
    await wait_line(proc, "[WRN] nats reconnected")
    async with client(server.url) as nc:
        reply = await nc.request(f"$SYS.REQ.ACCOUNT.{trust.pub('A')}.CLAIMS.LOOKUP", b"", timeout=5)
        assert reply.data.decode() == jwt
    assert proc.running


async def test_exits_non_zero_when_reconnects_are_exhausted(
    nats_factory: Callable[..., NatsServer], account_server: StartServer
) -> None:
    """`maxreconnects: 1` and nats-server gone → ERROR line and exit status 255."""
    server = nats_factory()
    proc = account_server(server.url, nats_extra="maxreconnects: 1")
    await wait_line(proc, "connected to NATS for JWT syncing")
    server.stop()
    rc = await asyncio.to_thread(proc.wait, 20)
    assert rc == 255
    assert proc.find_lines("[ERR] nats connection closed, shutting down bridge")


async def test_tls_with_client_certificate(
    tmp_path: Path,
    nats_factory: Callable[..., NatsServer],
    account_server: StartServer,
    trust: Trust,
    http: httpx.AsyncClient,
) -> None:
    """`nats.tls` root/cert/key: a nats-server that verifies client certificates accepts us."""
    server_cert, server_key = self_signed(tmp_path, "server", "127.0.0.1")
    client_cert, client_key = self_signed(tmp_path, "client", "account-server")
    bundle = tmp_path / "ca.pem"
    bundle.write_text(server_cert.read_text() + client_cert.read_text())
    conf = (
        f'tls {{\n  cert_file: "{server_cert}"\n  key_file: "{server_key}"\n  ca_file: "{bundle}"\n'
        "  verify: true\n  timeout: 2\n}\n"
    )
    server = nats_factory(conf)
    tls = f'tls {{ root: "{server_cert}", cert: "{client_cert}", key: "{client_key}" }}'
    proc = account_server(server.url, nats_extra=tls)
    await wait_line(proc, "connected to NATS for JWT syncing")
    assert (await post(http, proc.url, trust.pub("A"), trust.account_jwt("A"))).status_code == 200
    # without the client certificate the same server refuses us and we keep retrying
    no_cert = account_server(server.url, nats_extra=f'tls {{ root: "{server_cert}" }}', name="nocert.conf")
    await wait_line(no_cert, f"[ERR] failed to connect to NATS at {server.url}: ")
    assert not no_cert.find_lines("connected to NATS for")


async def test_shutdown_stops_http_before_nats(
    nats_factory: Callable[..., NatsServer],
    account_server: StartServer,
    trust: Trust,
    http: httpx.AsyncClient,
) -> None:
    """The parts stop in reverse order of their start: HTTP stops accepting first, so an upload it
    accepted is still announced, then NATS disconnects, and the store closes last."""
    server = nats_factory()
    proc = account_server(server.url)
    await wait_line(proc, "connected to NATS for JWT syncing")
    assert (await post(http, proc.url, trust.pub("A"), trust.account_jwt("A"))).status_code == 200
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    lines = proc.stderr_text().splitlines()

    def at(text: str) -> int:
        return next(i for i, line in enumerate(lines) if text in line)

    assert at("stopping account server") < at("http server stopped") < at("disconnected from NATS")
    assert at("disconnected from NATS") < at("closed JWT store")


async def test_connection_lines_name_the_server_without_credentials(
    nats_factory: Callable[..., NatsServer], account_server: StartServer
) -> None:
    """Connect, disconnect and reconnect lines name the server (the URL without user and password)."""
    server = nats_factory()
    shown = server.url
    proc = account_server(shown.replace("nats://", "nats://alice:s3cret@"))
    await wait_line(proc, f"[INF] connecting to NATS for notifications at {shown}")
    await wait_line(proc, f"[INF] connected to NATS for account and activation notifications at {shown}")
    await wait_line(proc, f"[INF] connected to NATS for JWT syncing at {shown}")
    since = proc.mark()
    await asyncio.to_thread(server.restart)
    await wait_line(proc, f"[WRN] nats disconnected from {shown}, reconnecting every 200 ms", since=since)
    await wait_line(proc, f"[WRN] nats reconnected to {shown}", since=since)
    log = proc.stderr_text()
    assert "s3cret" not in log and "alice" not in log, log


async def test_skipped_notifications_say_why(
    nats_factory: Callable[..., NatsServer],
    account_server: StartServer,
    trust: Trust,
    http: httpx.AsyncClient,
) -> None:
    """ "NATS is not configured" and "connection lost, reconnecting" are told apart (the third
    case, not connected yet, is in test_nats_down_at_startup_then_connects)."""
    alone = account_server(None, name="alone.conf")
    assert (await post(http, alone.url, trust.pub("A"), trust.account_jwt("A"))).status_code == 200
    await wait_line(alone, f"[INF] skipping notification for {trust.pub('A')[:12]}, NATS is not configured")
    server = nats_factory()
    proc = account_server(server.url)
    await wait_line(proc, "connected to NATS for JWT syncing")
    since = proc.mark()
    server.stop()
    await wait_line(proc, "[WRN] nats disconnected from", since=since)
    assert (await post(http, proc.url, trust.pub("B"), trust.account_jwt("B"))).status_code == 200
    await wait_line(
        proc,
        f"[INF] skipping notification for {trust.pub('B')[:12]},"
        f" connection to NATS server {server.url} lost, reconnecting",
        since=since,
    )
    assert not proc.find_lines("NATS is not configured", since=since)


def _creds_lines(proc: ServerProcess, creds: Path, since: int) -> list[str]:
    return proc.find_lines(f"[ERR] NATS credentials file {creds}: no such file or directory", since=since)


async def test_credentials_file_gone_while_connected_is_said_once(
    nats_factory: Callable[..., NatsServer], account_server: StartServer, trust: Trust
) -> None:
    """nats-py reads the credentials file on every reconnect: a file gone is one ERR line per outage
    (not one per attempt), and its return is said too."""
    server = nats_factory(trust.nats_config("MEMORY", preload=["SYS"]))
    creds = trust.creds("sys")
    proc = account_server(server.url, creds=creds)
    await wait_line(proc, "connected to NATS for JWT syncing")
    since = proc.mark()
    aside = creds.with_suffix(".aside")
    creds.rename(aside)
    await asyncio.to_thread(server.restart)
    await wait_line(
        proc,
        f"[ERR] NATS credentials file {creds}: no such file or directory; reconnecting to NATS fails"
        " until it is fixed, retrying every 200 ms",
        since=since,
    )
    await asyncio.sleep(1.5)  # several reconnect attempts
    assert len(_creds_lines(proc, creds, since)) == 1, proc.describe()
    aside.rename(creds)
    await wait_line(proc, f"[INF] NATS credentials file {creds} is readable again", since=since)
    await wait_line(proc, f"[WRN] nats reconnected to {server.url}", since=since)


async def test_credentials_file_gone_before_the_first_connect_is_said_once(
    nats_factory: Callable[..., NatsServer], account_server: StartServer, trust: Trust
) -> None:
    """While NATS is still down the connect loop checks the file before every attempt: said once."""
    port = free_port()
    creds = trust.creds("sys")
    proc = account_server(f"nats://127.0.0.1:{port}", creds=creds)
    await wait_line(proc, "[ERR] failed to connect to NATS at ")
    since = proc.mark()
    aside = creds.with_suffix(".aside")
    creds.rename(aside)
    await wait_line(
        proc,
        f"[ERR] NATS credentials file {creds}: no such file or directory; connecting to NATS fails"
        " until it is fixed, retrying every 200 ms",
        since=since,
    )
    said = proc.mark()
    await asyncio.sleep(1.0)
    assert len(_creds_lines(proc, creds, since)) == 1, proc.describe()
    assert not proc.find_lines("[ERR]", since=said), proc.describe()  # no line per attempt
    aside.rename(creds)
    nats_factory(trust.nats_config("MEMORY", preload=["SYS"]), port=port)
    await wait_line(proc, f"[INF] NATS credentials file {creds} is readable again", since=since)
    await wait_line(proc, f"connected to NATS for JWT syncing at nats://127.0.0.1:{port}", since=since)


async def test_missing_or_unreadable_credentials_stop_the_start(
    tmp_path: Path, account_server: StartServer
) -> None:
    """At startup a credentials file that is missing or cannot be read is an error naming it (exit
    1), the same text `-t` and a reload give, instead of a connect retried every second."""
    loop = tmp_path / "loop.creds"
    loop.symlink_to(loop)
    for creds, reason in (
        (tmp_path / "missing.creds", "no such file or directory"),
        (loop, "too many levels of symbolic links"),
    ):
        proc = account_server("nats://127.0.0.1:4222", creds=creds, ready=False, name=f"{creds.stem}.conf")
        assert await asyncio.to_thread(proc.wait, 20) == 1
        text = proc.stderr_text()
        assert f"[ERR] nats: NATS credentials file {creds}: {reason}\n" in text, text
        assert "Errno" not in text and "running" not in text
