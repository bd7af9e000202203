"""The server process: flags, startup lines, signals, exit codes, logging."""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.certs import self_signed
from tests.support.cliflags import FLAGS
from tests.support.ports import free_port
from tests.support.procs import ServerProcess, start_server
from tests.support.trust import Trust

PY = [sys.executable, "-m", "nats_account_server"]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PY, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)


def test_help_and_unknown_flag() -> None:
    shown = run_cli("-h")
    assert shown.returncode == 0
    for flag in FLAGS:
        assert re.search(rf"(^|\s){re.escape(flag)}\b", shown.stderr), flag
    bad = run_cli("-bogus")
    assert bad.returncode == 2 and "-hp" in bad.stderr


@pytest.mark.parametrize("hp", ["127.0.0.1", "127.0.0.1:blam"])
def test_bad_hostport_exits_1(hp: str) -> None:
    result = run_cli("-hp", hp)
    assert result.returncode == 1 and "error parsing hostport" in result.stderr


def test_missing_config_exits_1_with_message(tmp_path: Path) -> None:
    result = run_cli("-c", str(tmp_path / "nonexistent.conf"))
    assert result.returncode == 1 and "nonexistent.conf" in result.stderr


def test_config_errors_exit_1(tmp_path: Path) -> None:
    for text, needle in (
        ("http { port: 9090", "Parse error on line"),
        ('http: "x"', "http"),
        ("systemaccountjwtpath: 23", "SystemAccountJWTPath"),
        ("http { port: 5.5 }", "Port"),
    ):
        conf = tmp_path / "bad.conf"
        conf.write_text(text)
        result = run_cli("-c", str(conf))
        assert result.returncode == 1, text
        assert needle.lower() in result.stderr.lower(), (text, result.stderr)


def test_defaults_listen_on_localhost_9090_with_memory_store(tmp_path: Path) -> None:
    try:
        with socket.create_connection(("127.0.0.1", 9090), timeout=0.2):
            pytest.skip("port 9090 is busy on this machine")
    except OSError:
        pass
    with start_server(tmp_path=tmp_path, default_hp=False) as proc:
        lines = proc.stderr_lines
        assert proc.resolver_url == "http://localhost:9090/jwt/v1/accounts/"
        text = "\n".join(lines)
        order = [
            "starting NATS Account server, version ",
            "server time is ",
            "creating an in-memory store",
            "NATS is not configured, server will not fire notifications on update",
            "http listening on port 9090",
            "nats-account-server is running",
            "configure the nats-server with:",
            "  resolver: URL(http://localhost:9090/jwt/v1/accounts/)",
        ]
        positions = [text.index(item) for item in order]
        assert positions == sorted(positions)
        assert httpx.get("http://127.0.0.1:9090/healthz").status_code == 200


def test_port_zero_and_empty_host(tmp_path: Path) -> None:
    with start_server("-hp", "127.0.0.1:0", tmp_path=tmp_path) as proc:
        assert proc.port != 0 and f"http listening on port {proc.port}" in proc.stderr_text()
        assert httpx.get(proc.url + "/healthz").status_code == 200
    with start_server(config_text='http { host: "", port: 0 }\n', tmp_path=tmp_path) as proc:
        assert proc.resolver_url.startswith("http://127.0.0.1:")


def test_hp_overrides_file_but_keeps_readtimeout_and_dump(tmp_path: Path) -> None:
    conf = 'http { host: "0.0.0.0", port: 1, readtimeout: 1234 }\n'
    with start_server("-hp", "127.0.0.1:0", "-dump", config_text=conf, tmp_path=tmp_path) as proc:
        assert proc.host == "127.0.0.1"
        dump = proc.wait_for_line('"ReadTimeout": 1234')
        assert dump
        assert proc.stderr_lines[0].endswith(f'loading configuration from "{tmp_path / "server.conf"}"')


def test_dir_flag_creates_store_and_keeps_shard(tmp_path: Path) -> None:
    trust = Trust(tmp_path / "trust")
    store = tmp_path / "new" / "jwts"
    conf = f'operatorjwtpath: "{trust.operator_jwt_path}"\nstore {{ dir: "/nonexistent/x", shard: true }}\n'
    with start_server("-dir", str(store), config_text=conf, tmp_path=tmp_path) as proc:
        assert f"creating a store at {store}" in proc.stderr_text()
        key = trust.pub("A")
        jwt = trust.account_jwt("A")
        assert httpx.post(proc.url + f"/jwt/v1/accounts/{key}", content=jwt).status_code == 200
        assert (store / key[-2:] / f"{key}.jwt").read_text() == jwt


def test_tilde_expansion_of_dir(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home)}
    with start_server("-dir", "~/jwts", tmp_path=tmp_path, env=env) as proc:
        assert f"creating a store at {home / 'jwts'}" in proc.stderr_text()
    with start_server("-dir", "rel/jwts", tmp_path=tmp_path) as proc:
        assert f"creating a store at {tmp_path / 'rel' / 'jwts'}" in proc.stderr_text()


def test_operator_flag_and_operator_route(tmp_path: Path) -> None:
    trust = Trust(tmp_path / "trust")
    with start_server("-operator", str(trust.operator_jwt_path), tmp_path=tmp_path) as proc:
        assert f"Operator: {trust.operator.pub}" in proc.stderr_text()
        assert httpx.get(proc.url + "/jwt/v1/operator").text == trust.operator_jwt
    with start_server(tmp_path=tmp_path) as proc:
        assert httpx.get(proc.url + "/jwt/v1/operator").status_code == 404
        assert "No Operator is configured" in proc.stderr_text()
        key = trust.pub("A")
        assert (
            httpx.post(proc.url + f"/jwt/v1/accounts/{key}", content=trust.account_jwt("A")).status_code
            == 400
        )


def test_bad_operator_and_system_account_files_exit_1(tmp_path: Path) -> None:
    trust = Trust(tmp_path / "trust")
    garbage = tmp_path / "garbage.jwt"
    garbage.write_text("not a jwt")
    assert run_cli("-operator", str(garbage), "-hp", "127.0.0.1:0").returncode == 1
    assert run_cli("-operator", str(tmp_path / "missing.jwt"), "-hp", "127.0.0.1:0").returncode == 1
    conf = tmp_path / "c.conf"
    conf.write_text(f'operatorjwtpath: "{trust.operator_jwt_path}"\nsystemaccountjwtpath: "{garbage}"\n')
    assert run_cli("-c", str(conf), "-hp", "127.0.0.1:0").returncode == 1
    # operator names SYS as system account, the file holds A
    conf.write_text(
        f'operatorjwtpath: "{trust.operator_jwt_path}"\n'
        f'systemaccountjwtpath: "{trust.write_account_jwt("A")}"\n'
    )
    result = run_cli("-c", str(conf), "-hp", "127.0.0.1:0")
    assert result.returncode == 1 and "differs from configured System Account" in result.stderr


def test_listen_failures_exit_1(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("-hp", f"127.0.0.1:{port}")
        assert result.returncode == 1
    assert run_cli("-hp", "abc.invalid:0").returncode == 1


def test_sigint_and_sigterm_exit_0(tmp_path: Path) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        proc = start_server(tmp_path=tmp_path)
        proc.send_signal(sig)
        assert proc.wait(10) == 0
        text = proc.stderr_text()
        assert "stopping account server" in text and "http server stopped" in text
        name = "sig-interrupt" if sig == signal.SIGINT else "sig-terminate"
        assert f"received {name}, shutting down" in text


def test_sighup_reloads_twice(tmp_path: Path) -> None:
    ports = [free_port(), free_port(), free_port()]
    conf = tmp_path / "server.conf"
    conf.write_text(f"http {{ host: 127.0.0.1, port: {ports[0]} }}\nlogging {{ colors: false }}\n")
    proc = ServerProcess(["-c", str(conf)], cwd=tmp_path).start()
    try:
        proc.wait_ready()
        assert proc.port == ports[0]
        for port in ports[1:]:
            mark = proc.mark()
            conf.write_text(f"http {{ host: 127.0.0.1, port: {port} }}\nlogging {{ colors: false }}\n")
            proc.send_signal(signal.SIGHUP)
            proc.wait_ready(since=mark)
            assert proc.port == port
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        assert proc.find_lines("[ERR] received sig-hup, restarting")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
        assert proc.find_lines("received sig-interrupt, shutting down")
    finally:
        proc.stop()


def test_memory_store_forgets_directory_store_keeps(tmp_path: Path) -> None:
    trust = Trust(tmp_path / "trust")
    key, jwt = trust.pub("A"), trust.account_jwt("A")
    args = ["-operator", str(trust.operator_jwt_path)]
    for store_args, kept in (([], False), (["-dir", str(tmp_path / "d")], True)):
        with start_server(*args, *store_args, tmp_path=tmp_path) as proc:
            assert httpx.post(proc.url + f"/jwt/v1/accounts/{key}", content=jwt).status_code == 200
        with start_server(*args, *store_args, tmp_path=tmp_path) as proc:
            status = httpx.get(proc.url + f"/jwt/v1/accounts/{key}").status_code
            assert status == (200 if kept else 404)


def test_logging_switches(tmp_path: Path) -> None:
    conf = "logging { colors: false, pid: true, time: false }\n"
    with start_server(config_text=conf, tmp_path=tmp_path) as proc:
        httpx.get(proc.url + "/healthz")
        raw = proc.raw_stderr_lines
        assert all(line.startswith(f"[{proc.pid}] [") for line in raw if line)
        assert any(line.startswith(f"[{proc.pid}] [INF] ") for line in raw)
        assert not any("[DBG]" in line or "[TRC]" in line for line in raw)
    with start_server("-DV", tmp_path=tmp_path) as proc:
        httpx.get(proc.url + "/healthz")
        size = len(httpx.get(proc.url + "/jwt/v1/help?x=1").content)
        proc.wait_for_line("/jwt/v1/help")
        assert not any("\x1b[" in line for line in proc.raw_stderr_lines)  # a pipe: no colours
        assert re.match(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6} ", proc.stderr_lines[0])
        # the access line: client, method, path and query, status, body bytes, duration
        line = r"\[TRC\] 127\.0\.0\.1:\d+: GET %s - 200 - %d bytes - \d+\.\d\d ms$"
        assert proc.find_lines(re.compile(line % ("/healthz", 0)))
        assert proc.find_lines(re.compile(line % (re.escape("/jwt/v1/help?x=1"), size))) and size > 100


def test_https(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path, "server", "127.0.0.1")
    conf = f'http {{ host: 127.0.0.1, port: 0, tls {{ cert: "{cert}", key: "{key}" }} }}\n'
    with start_server(config_text=conf, tmp_path=tmp_path) as proc:
        assert proc.resolver_url.startswith("https://127.0.0.1:")
        assert "https listening on port" in proc.stderr_text()
        assert (
            httpx.get(proc.url + "/healthz", verify=ssl.create_default_context(cafile=str(cert))).status_code
            == 200
        )
    conf = f'http {{ host: 127.0.0.1, port: 0, tls {{ cert: "{cert}", key: "{tmp_path / "nokey.pem"}" }} }}\n'
    conf_path = tmp_path / "bad-tls.conf"
    conf_path.write_text(conf)
    result = run_cli("-c", str(conf_path))
    assert result.returncode == 1 and "error loading X509 certificate/key pair" in result.stderr


def test_python_dash_m_and_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "nats-account-server"
    result = subprocess.run([str(script), "-h"], capture_output=True, text=True, timeout=20)
    assert result.returncode == 0 and "-hp" in result.stderr
    assert os.access(script, os.X_OK)


def test_read_only_memory_store_has_no_post_routes(tmp_path: Path) -> None:
    trust = Trust(tmp_path / "trust")
    conf = f'operatorjwtpath: "{trust.operator_jwt_path}"\nstore {{ readonly: true }}\n'
    with start_server(config_text=conf, tmp_path=tmp_path) as proc:
        assert "creating a read-only, empty, in-memory store" in proc.stderr_text()
        key = trust.pub("A")
        resp = httpx.post(proc.url + f"/jwt/v1/accounts/{key}", content=trust.account_jwt("A"))
        assert resp.status_code == 405 and resp.headers["allow"] == "GET, OPTIONS"
        assert httpx.post(proc.url + "/jwt/v1/activations", content=b"x").status_code == 404


def test_version_flag() -> None:
    from nats_account_server import __version__

    for flag in ("-v", "-version", "--version"):
        done = run_cli(flag)
        assert done.returncode == 0 and done.stdout == f"nats-account-server: v{__version__}\n", flag


def test_head_healthz_for_load_balancers(tmp_path: Path) -> None:
    with start_server(tmp_path=tmp_path) as proc:
        resp = httpx.head(proc.url + "/healthz")
        assert resp.status_code == 200 and resp.content == b""
        assert httpx.head(proc.url + "/jwt/v1/help").status_code == 405


def test_colours_only_on_a_terminal(tmp_path: Path) -> None:
    """As nats-server: colour codes on a terminal, never in a pipe, a file or journald."""
    import pty
    import select
    import time

    leader, follower = pty.openpty()
    port = free_port()
    proc = subprocess.Popen(
        [*PY, "-hp", f"127.0.0.1:{port}"],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        cwd=tmp_path,
    )
    os.close(follower)
    seen = b""
    try:
        deadline = time.monotonic() + 15
        while b"resolver: URL(" not in seen and time.monotonic() < deadline:
            if select.select([leader], [], [], 0.5)[0]:
                seen += os.read(leader, 65536)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        os.close(leader)
    assert b"\x1b[32mINF\x1b[0m" in seen


def test_a_bad_configuration_on_reload_keeps_the_server_running(tmp_path: Path) -> None:
    """SIGHUP reads the new configuration in full first: a typo is logged and the running instance
    keeps serving on its old configuration (as nats-server does); a fixed file is then taken."""
    port, later = free_port(), free_port()
    conf = tmp_path / "server.conf"
    conf.write_text(f"http {{ host: 127.0.0.1, port: {port} }}\nlogging {{ colors: false }}\n")
    proc = ServerProcess(["-c", str(conf)], cwd=tmp_path).start()
    try:
        proc.wait_ready()
        mark = proc.mark()
        conf.write_text(f"http {{ host: 127.0.0.1, port: {later} \n")  # a typo: unclosed block
        proc.send_signal(signal.SIGHUP)
        proc.wait_for_line("still running with the previous configuration", since=mark)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        assert proc.running
        conf.write_text(f"http {{ host: 127.0.0.1, port: {later} }}\nlogging {{ colors: false }}\n")
        mark = proc.mark()
        proc.send_signal(signal.SIGHUP)
        proc.wait_ready(since=mark)
        assert proc.port == later and httpx.get(f"http://127.0.0.1:{later}/healthz").status_code == 200
    finally:
        proc.stop()


def test_dash_t_checks_a_configuration_and_exits(tmp_path: Path) -> None:
    """As nats-server's `-t`: 0 and "is valid", or 1 and the reason; nothing is started or created."""
    trust = Trust(tmp_path / "trust")
    good = tmp_path / "good.conf"
    good.write_text(
        f'operatorjwtpath: "{trust.operator_jwt_path}"\nstore {{ dir: "{tmp_path / "store"}" }}\n'
        "http { host: 127.0.0.1, port: 9 }\n"  # not bound: a check only
    )
    done = run_cli("-t", "-c", str(good))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"nats-account-server: configuration file {good} is valid\n"
    assert not (tmp_path / "store").exists()
    cases = {
        "http { port: 0\n": "Parse error on line 2",
        'operatorjwtpath: "/nonexistent/op.jwt"\n': "error reading operator JWT /nonexistent/op.jwt",
        "http { port: 70000 }\n": "port",
        f'http {{ tls {{ cert: "{tmp_path}/no.pem", key: "{tmp_path}/no.key" }} }}\n': "no.pem",
        f'nats {{ servers: ["nats://127.0.0.1:4222"], usercredentials: "{tmp_path}/x.creds" }}\n': (
            f"NATS credentials file {tmp_path}/x.creds: no such file or directory"
        ),
        f'store {{ nsc: "{tmp_path}/no-nsc" }}\n': "does not exist",
        f'store {{ dir: "{good}" }}\n': "is not a directory",
    }
    for text, reason in cases.items():
        bad = tmp_path / "bad.conf"
        bad.write_text(text)
        done = run_cli("-t", "-c", str(bad))
        assert done.returncode == 1 and reason in done.stderr, (text, done.stderr)
        assert done.stderr.startswith("nats-account-server: ") and "Traceback" not in done.stderr
        assert "[Errno" not in done.stderr


def test_a_reload_naming_a_missing_file_keeps_the_server_running(tmp_path: Path) -> None:
    """SIGHUP checks every file the new configuration names before the running instance stops."""
    trust = Trust(tmp_path / "trust")
    port = free_port()
    conf = tmp_path / "server.conf"
    base = f"http {{ host: 127.0.0.1, port: {port} }}\nlogging {{ colors: false }}\n"
    conf.write_text(base + f'operatorjwtpath: "{trust.operator_jwt_path}"\n')
    proc = ServerProcess(["-c", str(conf)], cwd=tmp_path).start()
    try:
        proc.wait_ready()
        mark = proc.mark()
        conf.write_text(base + f'operatorjwtpath: "{tmp_path}/moved.jwt"\n')
        proc.send_signal(signal.SIGHUP)
        line = proc.wait_for_line("still running with the previous configuration", since=mark)
        assert "moved.jwt" in line
        assert httpx.get(f"http://127.0.0.1:{port}/jwt/v1/operator").text == trust.operator_jwt
        assert proc.running
    finally:
        proc.stop()
