"""Self-tests of the harness: process capture, nats-server runner, trust minting and creds format."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import signal
import socket
import sys
import textwrap
from pathlib import Path

import nats
import pytest
from nats.errors import NoServersError

from tests.support.natsserver import NatsServer, operator_config, resolver_block, url_resolver
from tests.support.ports import free_port, port_is_open
from tests.support.procs import (
    HarnessError,
    ManagedProcess,
    ServerProcess,
    config_sets_http,
    has_flag,
    live_processes,
    start_server,
)

pytestmark = pytest.mark.timeout(60)

# A stand-in for our server: same log style (ANSI colours on), SIGTERM -> exit 0, SIGHUP -> "reload".
FAKE_MAIN = textwrap.dedent(
    """
    import signal, socket, sys, time
    args = sys.argv[1:]
    hp = args[args.index("-hp") + 1] if "-hp" in args else "127.0.0.1:9090"
    host, _, port = hp.rpartition(":")

    def log(msg):
        sys.stderr.write("2024/01/01 00:00:00.000000 [\\x1b[32mINF\\x1b[0m] " + msg + "\\n")
        sys.stderr.flush()

    def announce():
        s = socket.socket()
        s.bind((host, int(port)))
        s.listen()
        p = s.getsockname()[1]
        log("http listening on port %d" % p)
        log("nats-account-server is running")
        log("configure the nats-server with:")
        log("  resolver: URL(http://%s:%d/jwt/v1/accounts/)" % (host or "127.0.0.1", p))
        return s

    def on_term(signum, frame):
        print("")
        log("received sig-interrupt, shutting down")
        sys.exit(0)

    hup = []
    def on_hup(signum, frame):
        hup.append(signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGHUP, on_hup)
    log("starting NATS Account server, version 0.0-fake")
    if "--fail" in args:
        log("[ERR] bad config")
        sys.exit(1)
    sock = announce()
    while True:
        time.sleep(0.05)
        if hup:
            hup.clear()
            sock.close()
            sock = announce()
    """
)


@pytest.fixture
def fake_server_env(tmp_path: Path) -> dict[str, str]:
    pkg = tmp_path / "fakepkg" / "nats_account_server"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(FAKE_MAIN)
    return {"PYTHONPATH": str(tmp_path / "fakepkg")}


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
    assert not port_is_open(port)


def test_flag_and_http_heuristics() -> None:
    assert has_flag(["-hp", "x"], "hp") and has_flag(["--hp=1:2"], "hp")
    assert not has_flag(["-hpx"], "hp") and not has_flag(["-c", "hp"], "hp")
    assert config_sets_http("http {\n port: 1\n}") and config_sets_http("  HTTP: { port: 2 }")
    assert config_sets_http('{ "http": {"port": 3} }'.replace("{ ", "\n"))
    assert not config_sets_http('nats { servers: ["nats://x"] }\nprimary: "http://x:1"')
    assert not config_sets_http('servers = [\n  "http://x"\n]')


def test_managed_process_capture_and_timeouts(tmp_path: Path) -> None:
    code = (
        "import sys,time; print('out1', flush=True); "
        "sys.stderr.write('\\x1b[31merr1\\x1b[0m\\n'); time.sleep(30)"
    )
    with ManagedProcess([sys.executable, "-c", code], cwd=tmp_path, name="sleeper") as proc:
        assert proc.wait_for_line("out1", 5, stream="stdout") == "out1"
        assert proc.wait_for_line(re.compile(r"^err\d$"), 5) == "err1"  # ANSI stripped
        with pytest.raises(HarnessError, match=r"(?s)timeout after 0.3s.*err1"):
            proc.wait_for_line("never", 0.3)
        assert proc.running and proc.returncode is None
    assert proc.returncode == -signal.SIGTERM
    assert proc not in live_processes()


def test_wait_for_line_fails_fast_on_exit(tmp_path: Path) -> None:
    proc = ManagedProcess([sys.executable, "-c", "import sys; sys.stderr.write('boom\\n'); sys.exit(3)"])
    proc.start()
    with pytest.raises(HarnessError, match=r"(?s)stderr closed.*boom"):
        proc.wait_for_line("never", 10)
    assert proc.wait(5) == 3


def test_server_process_with_fake_module(tmp_path: Path, fake_server_env: dict[str, str]) -> None:
    with start_server(tmp_path=tmp_path, env=fake_server_env) as proc:
        assert proc.args == ["-hp", "127.0.0.1:0"]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", proc.url)
        assert proc.resolver_url == proc.url + "/jwt/v1/accounts/"
        assert proc.port != 0 and port_is_open(proc.port)
        mark = proc.mark()
        proc.send_signal(signal.SIGHUP)
        assert proc.wait_ready(5, since=mark) == proc.url
        assert len(proc.find_lines("resolver: URL(")) == 2
        assert proc.stderr_lines[0].startswith(
            "2024/01/01 00:00:00.000000 [INF] starting NATS Account server"
        )
        assert "\x1b[32m" in proc.raw_stderr_lines[0]
    assert proc.returncode == 0
    assert proc.stdout_lines == [""]  # SIGTERM handler printed an empty line
    assert "received sig-interrupt, shutting down" in proc.stderr_text()


def test_start_server_config_and_failure(tmp_path: Path, fake_server_env: dict[str, str]) -> None:
    proc = start_server(
        "--fail", config_text="http { port: 0 }", tmp_path=tmp_path, env=fake_server_env, ready=False
    )
    assert proc.args == ["-c", str(tmp_path / "server.conf"), "--fail"]  # no -hp: config sets http
    assert proc.wait(10) == 1
    assert "bad config" in proc.stderr_text()
    with pytest.raises(HarnessError, match="exit status 1"):
        start_server("--fail", tmp_path=tmp_path, env=fake_server_env, timeout=10)


def test_nats_server_start_stop_restart(tmp_path: Path, nats_server_bin: str) -> None:
    async def roundtrip(url: str) -> bytes:
        nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0, allow_reconnect=False)
        try:
            sub = await nc.subscribe("t")
            await nc.publish("t", b"hi")
            msg = await sub.next_msg(timeout=2)
            return msg.data
        finally:
            await nc.close()

    with NatsServer(tmp_path=tmp_path, binary=nats_server_bin) as ns:
        port = ns.port
        assert port_is_open(port)
        assert asyncio.run(roundtrip(ns.url)) == b"hi"
        ns.restart()
        assert ns.port == port and ns.starts == 2
        assert asyncio.run(roundtrip(ns.url)) == b"hi"
        assert "restart #1" in ns.stderr_text()
    assert not ns.running and not port_is_open(port)


async def _connect(url: str, creds: Path | None) -> None:
    kwargs: dict[str, object] = {"user_credentials": str(creds)} if creds else {}
    nc = await nats.connect(
        url,
        connect_timeout=2,
        max_reconnect_attempts=0,
        allow_reconnect=False,
        **kwargs,  # type: ignore[arg-type]
    )
    try:
        resp = await nc.request("$SYS.REQ.USER.INFO", b"", timeout=2) if creds else None
        if resp is not None:
            assert b"data" in resp.data
        await nc.flush(timeout=2)
    finally:
        await nc.close()


@pytest.mark.parametrize("version", [2, 1])
async def test_operator_mode_memory_resolver_creds(
    tmp_path: Path, nats_factory: object, version: int
) -> None:
    if importlib.util.find_spec("nats_account_server.jwt.encode") is None:
        pytest.skip("nats_account_server.jwt.encode not available yet")
    from tests.support.trust import Trust

    tr = Trust(tmp_path / f"trust{version}", version=version)
    conf = tr.nats_config("MEMORY", preload=["SYS", "A"])
    assert "resolver: MEMORY" in conf and tr.system_account in conf
    ns: NatsServer = nats_factory(conf)  # type: ignore[operator]
    await _connect(ns.url, tr.creds("sys"))  # system account user: creds format + minting are right
    await _connect(ns.url, tr.creds("a"))
    # Negative controls: auth is enforced, and B is unknown to the memory resolver.
    for creds in (None, tr.creds("b")):
        with pytest.raises((NoServersError, nats.errors.Error, OSError)):
            await _connect(ns.url, creds)
    # Account signed by the operator signing key is accepted too.
    conf2 = operator_config(
        tr.operator_jwt_path,
        tr.system_account,
        "MEMORY",
        preload={
            tr.system_account: tr.account_jwt("SYS"),
            tr.pub("B"): tr.account_jwt("B", signer="signing_key"),
        },
    )
    ns.write_config(conf2)
    ns.restart()
    await _connect(ns.url, tr.creds("b"))


def test_config_helpers(tmp_path: Path) -> None:
    assert url_resolver("http://127.0.0.1:5/") == "URL(http://127.0.0.1:5/jwt/v1/accounts/)"
    assert resolver_block("http://h:1") == "resolver: URL(http://h:1/jwt/v1/accounts/)"
    block = resolver_block({"type": "full", "dir": tmp_path, "interval": "1s", "allow_delete": False})
    assert (
        block
        == f'resolver {{\n  type: "full"\n  dir: "{tmp_path}"\n  interval: "1s"\n  allow_delete: false\n}}'
    )


def test_real_server_smoke(run_server: object) -> None:
    if importlib.util.find_spec("nats_account_server.cli") is None:
        pytest.skip("nats_account_server.cli not available yet")
    proc: ServerProcess = run_server()  # type: ignore[operator]
    assert proc.url.startswith("http://127.0.0.1:")
    assert proc.stop() == 0


@pytest.mark.parametrize("version", [2, 1])
def test_trust_tokens_decode(tmp_path: Path, version: int) -> None:
    if importlib.util.find_spec("nats_account_server.jwt.codec") is None:
        pytest.skip("nats_account_server.jwt.codec not available yet")
    from nats_account_server.jwt.codec import decode, decode_account, decode_activation, decode_operator
    from tests.support.trust import Trust

    tr = Trust(tmp_path, version=version)
    op = decode_operator(tr.operator_jwt_path.read_text())
    assert op.version == version and op.operator.system_account == tr.system_account
    assert op.operator.signing_keys == [tr.operator_signing.pub]
    acc = decode_account(tr.account_jwt("A", exp=2_000_000_000, limits={"conn": 5}))
    assert (acc.version, acc.iss, acc.sub, acc.exp) == (version, tr.operator.pub, tr.pub("A"), 2_000_000_000)
    assert acc.account.limits.conn == 5 and acc.account.limits.subs == -1
    assert decode_account(tr.account_jwt("B", signer="signing_key")).iss == tr.operator_signing.pub
    assert decode_account(tr.account_jwt("C", signer="C")).iss == tr.pub("C")
    assert decode(tr.user_jwt("a")).kind == "user"
    act = decode_activation(tr.activation_jwt("A", "B", "foo.>"))
    assert (act.iss, act.sub, act.activation.subject) == (tr.pub("A"), tr.pub("B"), "foo.>")
    assert decode_account(tr.system_account_jwt_path.read_text()).sub == tr.system_account
    text = tr.creds("sys").read_text()
    assert text.startswith("-----BEGIN NATS USER JWT-----\n") and "\n------END USER NKEY SEED------\n" in text
