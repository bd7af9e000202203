"""The deployment files (deploy/, Dockerfile), each checked as far as this machine allows.

* ``deploy/nats-account-server.service``: read like systemd reads it (sections, repeated keys), run
  through ``systemd-analyze verify`` and ``security --offline`` where systemd is installed, and its
  ``ExecReload`` command sent to a real server started with the example configuration.
* ``Dockerfile``: no Docker here, so its instructions are parsed and held against the README's
  install steps, the repository's files and the example configuration it ships.
* ``deploy/server.conf``: loaded by the server's own configuration code, then run for real (paths moved
  under tmp_path) as the HTTPS resolver of a nats-server with the README's ``resolver_tls`` block.
* ``deploy/healthcheck.py``: the image's health check, against live servers and a closed port.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import tomllib
from pathlib import Path, PurePosixPath

import httpx
import nats
import pytest

from nats_account_server.config import Settings, load_settings
from nats_account_server.flags import build_settings, parse_flags
from nats_account_server.http.listener import RESERVED_FILES, WANTED_CONNECTIONS
from tests.support.certs import self_signed
from tests.support.natsserver import NatsServer
from tests.support.ports import free_port
from tests.support.procs import ServerProcess, start_server
from tests.support.trust import Trust

REPO = Path(__file__).resolve().parent.parent
UNIT = REPO / "deploy" / "nats-account-server.service"
CONFIG = REPO / "deploy" / "server.conf"
HEALTHCHECK = REPO / "deploy" / "healthcheck.py"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
README = REPO / "README.md"
PYPROJECT = REPO / "pyproject.toml"

CONFIG_PATH = "/etc/nats-account-server/server.conf"  # where the unit and the image read it
CONFIG_DIR = "/etc/nats-account-server"
STORE_DIR = "/var/lib/nats-account-server"

Unit = dict[str, dict[str, list[str]]]


# ---------------------------------------------------------------------- readers


def parse_unit(text: str) -> Unit:
    """A systemd unit file as systemd reads it: ``[Section]``, ``Key=Value`` (a key may repeat: every
    value is kept, in order), ``#``/``;`` comment lines, a trailing backslash continues a line."""
    unit: Unit = {}
    section: dict[str, list[str]] | None = None
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line[0] in "#;"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line.startswith("[") and line.endswith("]"):
            section = unit.setdefault(line[1:-1], {})
            continue
        assert section is not None, f"assignment outside a section: {line!r}"
        key, sep, value = line.partition("=")
        assert sep, f"not a Key=Value line: {line!r}"
        section.setdefault(key.strip(), []).append(value.strip())
    return unit


def one(unit: Unit, section: str, key: str) -> str:
    values = unit[section].get(key, [])
    assert len(values) == 1, f"[{section}] {key}= set {len(values)} times: {values}"
    return values[0]


Instruction = tuple[str, str]


def parse_dockerfile(text: str) -> list[Instruction]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comment lines dropped."""
    out: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        line, pending = pending + line, ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends with a continuation"
    return out


def exec_form(args: str) -> list[str]:
    """A JSON-array (exec form) argument list, as CMD, HEALTHCHECK CMD and VOLUME take it."""
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return [str(v) for v in value]


def instructions(name: str) -> list[str]:
    return [args for word, args in parse_dockerfile(DOCKERFILE.read_text()) if word == name]


def commands(shell: str) -> list[list[str]]:
    """The simple commands of an ``a && b && c`` shell line, each split into words."""
    return [shlex.split(part) for part in shell.split("&&")]


def pip_install_targets(argv: list[str]) -> list[str]:
    """What ``.../pip install [options] TARGET...`` installs (options without values only, as used)."""
    assert PurePosixPath(argv[0]).name in ("pip", "pip3") and argv[1] == "install", argv
    return [arg for arg in argv[2:] if not arg.startswith("-")]


def readme_section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def code_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```$", markdown, re.MULTILINE | re.DOTALL)


def quick_start_install() -> list[list[str]]:
    """The install command of the README's Quick start (the first ``sh`` block), split per command."""
    return commands(code_blocks(readme_section("Quick start"))[0].strip())


def pyproject() -> dict[str, object]:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))


def console_scripts() -> dict[str, str]:
    project = pyproject()["project"]
    assert isinstance(project, dict)
    scripts = project["scripts"]
    assert isinstance(scripts, dict)
    return {str(k): str(v) for k, v in scripts.items()}


def example_settings() -> Settings:
    """deploy/server.conf the way the unit and the image start the server: ``-c <file>``."""
    return build_settings(parse_flags(["-c", str(CONFIG)]))


def installed_console_script() -> Path:
    beside = Path(sys.executable).parent / "nats-account-server"
    found = str(beside) if beside.is_file() else shutil.which("nats-account-server")
    if found is None:
        pytest.skip("the nats-account-server console script is not installed")
    return Path(found)


# ---------------------------------------------------------------------- the systemd unit


def test_unit_runs_the_console_script_with_the_example_config() -> None:
    unit = parse_unit(UNIT.read_text())
    assert one(unit, "Service", "Type") in ("simple", "exec")
    argv = shlex.split(one(unit, "Service", "ExecStart"))
    script = PurePosixPath(argv[0])
    assert script.is_absolute() and script.name in console_scripts(), argv
    assert argv[1:] == ["-c", CONFIG_PATH]
    assert parse_flags(argv[1:]).config == CONFIG_PATH
    # the binary is the one the README's production install puts there (a venv of its own)
    venv = script.parent.parent
    install = f"python3 -m venv {venv} && {venv}/bin/pip install -q ."
    assert install in readme_section("Running in production")
    assert install in UNIT.read_text()  # the install steps in the unit's header say the same


def test_unit_reload_sends_sighup_and_restarts_on_failure() -> None:
    unit = parse_unit(UNIT.read_text())
    reload = shlex.split(one(unit, "Service", "ExecReload"))
    assert PurePosixPath(reload[0]).name == "kill" and reload[1:] == ["-HUP", "$MAINPID"], reload
    assert one(unit, "Service", "Restart") == "on-failure"
    assert one(unit, "Service", "KillSignal") == "SIGTERM"
    assert "2" in one(unit, "Service", "RestartPreventExitStatus").split()  # a bad command line


def test_unit_user_limits_and_hardening() -> None:
    unit = parse_unit(UNIT.read_text())
    service = unit["Service"]
    assert one(unit, "Service", "User") not in ("", "root", "0")
    assert one(unit, "Service", "Group") not in ("", "root", "0")
    # what the server wants so that it does not warn about its HTTP connection capacity
    assert int(one(unit, "Service", "LimitNOFILE")) >= WANTED_CONNECTIONS + RESERVED_FILES
    for key, value in (
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("RestrictSUIDSGID", "yes"),
        ("CapabilityBoundingSet", ""),
    ):
        assert one(unit, "Service", key) == value, key
    # the only writable place is the example configuration's store, created for the service user
    store = example_settings().store.dir
    assert store == STORE_DIR
    assert service["ReadWritePaths"] == [store]
    assert f"/var/lib/{one(unit, 'Service', 'StateDirectory')}" == store
    assert one(unit, "Install", "WantedBy") == "multi-user.target"


def verifiable_unit(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at the console script installed here (verify checks it exists)."""
    unit = parse_unit(UNIT.read_text())
    script = shlex.split(one(unit, "Service", "ExecStart"))[0]
    text = UNIT.read_text()
    assert text.count(f"ExecStart={script} ") == 1
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace(f"ExecStart={script} ", f"ExecStart={installed_console_script()} "))
    return copy


def systemd_analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    return tool


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    tool = systemd_analyze()
    copy = verifiable_unit(tmp_path)
    done = subprocess.run([tool, "verify", "--man=no", str(copy)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


def test_systemd_analyze_security_rates_the_unit_ok(tmp_path: Path) -> None:
    tool = systemd_analyze()
    copy = verifiable_unit(tmp_path)
    # --threshold is on the 0-100 scale of the 0.0-10.0 exposure shown; systemd calls < 2.0 "OK"
    argv = [tool, "security", "--offline=yes", "--threshold=20", "--no-pager", str(copy)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if "--offline" in done.stderr and "unrecognized" in done.stderr:
        pytest.skip("this systemd-analyze has no security --offline (systemd < 250)")
    exposure = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)", done.stdout)
    assert exposure is not None, done.stdout + done.stderr
    assert done.returncode == 0 and exposure.group(2) == "OK", exposure.group(0)


# ---------------------------------------------------------------------- the Dockerfile


def test_dockerfile_installs_what_the_readme_installs() -> None:
    readme = quick_start_install()
    readme_pips = [argv for argv in readme if argv[1:2] == ["install"] and argv[0].endswith("/pip")]
    assert len(readme_pips) == 1, readme
    readme_venv = next(argv for argv in readme if argv[:3] == ["python3", "-m", "venv"])
    # the venv is created and pip install'ed from, exactly as the Quick start does it
    assert PurePosixPath(readme_pips[0][0]) == PurePosixPath(readme_venv[3]) / "bin" / "pip"
    runs = [commands(args) for args in instructions("RUN")]
    pip_runs = [run for run in runs if any(argv[1:2] == ["install"] and "pip" in argv[0] for argv in run)]
    assert len(pip_runs) == 1, runs
    (run,) = pip_runs
    venv = next(argv for argv in run if argv[:3] == ["python3", "-m", "venv"])[3]
    pips = [argv for argv in run if argv[1:2] == ["install"]]
    assert [PurePosixPath(argv[0]) for argv in pips] == [PurePosixPath(venv) / "bin" / "pip"]
    assert pip_install_targets(pips[0]) == pip_install_targets(readme_pips[0]) == ["."]
    # ... run from a directory holding what `pip install .` builds from: pyproject.toml, the
    # readme it names and the package folders setuptools looks in
    steps = parse_dockerfile(DOCKERFILE.read_text())
    before = steps[
        : next(i for i, (w, a) in enumerate(steps) if w == "RUN" and "pip" in a and "install" in a)
    ]
    workdir = PurePosixPath([a for w, a in before if w == "WORKDIR"][-1])
    copied: set[PurePosixPath] = set()
    for word, args in before:
        if word == "COPY":
            *sources, dest = shlex.split(args)
            target = workdir / dest
            for source in sources:
                copied.add(target / source if dest.endswith("/") else target)
    meta = pyproject()
    project, tool = meta["project"], meta["tool"]
    assert isinstance(project, dict) and isinstance(tool, dict)
    needed = ["pyproject.toml", project["readme"], *tool["setuptools"]["packages"]["find"]["where"]]
    for name in needed:
        assert workdir / str(name) in copied, (name, sorted(map(str, copied)))
    # the venv's bin comes first on PATH, so CMD and the health check find its programs
    env = " ".join(instructions("ENV"))
    assert f"PATH={venv}/bin:$PATH" in env


def test_dockerfile_runtime_matches_the_example_config() -> None:
    (base,) = instructions("FROM")
    version = re.fullmatch(r"python:(\d+)\.(\d+)-slim(-\w+)?", base)
    assert version is not None, base
    project = pyproject()["project"]
    assert isinstance(project, dict)
    lowest = re.fullmatch(r">=(\d+)\.(\d+)", str(project["requires-python"]))
    assert lowest is not None
    # the oldest supported Python: the one CI runs
    assert (int(version.group(1)), int(version.group(2))) == (int(lowest.group(1)), int(lowest.group(2)))
    (user,) = instructions("USER")
    assert user.split(":")[0] not in ("root", "0")
    settings = example_settings()
    copies: dict[str, str] = {}
    for args in instructions("COPY"):
        *sources, dest = shlex.split(args)
        for source in sources:
            assert (REPO / source).exists(), source
            copies[source] = dest
    assert copies["deploy/server.conf"] == CONFIG_PATH
    (cmd,) = instructions("CMD")
    argv = exec_form(cmd)
    assert argv[0] in console_scripts() and argv[1:] == ["-c", CONFIG_PATH]
    (volume,) = instructions("VOLUME")
    assert exec_form(volume) == [settings.store.dir]
    (expose,) = instructions("EXPOSE")
    assert expose.split() == [str(settings.http.port)]
    assert instructions("STOPSIGNAL") == ["SIGTERM"]
    (healthcheck,) = instructions("HEALTHCHECK")
    options, _, probe = healthcheck.partition(" CMD ")
    probe_argv = exec_form(probe)
    assert probe_argv == ["python3", copies["deploy/healthcheck.py"]]
    timeout = re.search(r"--timeout=(\d+)s", options)
    assert timeout is not None
    # the probe's attempts (https, then http) end before Docker gives up on it
    source = HEALTHCHECK.read_text()
    attempts = re.search(r"^TIMEOUT = (\d+(?:\.\d+)?)", source, re.MULTILINE)
    assert attempts is not None and 2 * float(attempts.group(1)) < int(timeout.group(1))
    assert f"127.0.0.1:{settings.http.port}/healthz" in source
    ignored = DOCKERIGNORE.read_text().split()
    assert ".venv" in ignored and ".git" in ignored and "**/*.egg-info" in ignored


# ---------------------------------------------------------------------- the example configuration


def test_example_config_loads() -> None:
    assert load_settings(CONFIG).warnings == []
    s = example_settings()
    assert s.warnings == []
    assert (s.http.host, s.http.port) == ("0.0.0.0", 9090)
    assert s.http.readtimeout > 0 and s.http.writetimeout > 0
    assert s.http.tls.cert and s.http.tls.key
    assert (s.store.dir, s.store.readonly, s.store.nsc, s.store.kv.enabled) == (STORE_DIR, False, "", False)
    assert s.operatorjwtpath and s.systemaccountjwtpath and s.primary == ""
    assert s.nats.servers and all(url.startswith("tls://") for url in s.nats.servers)
    assert s.nats.usercredentials and s.nats.tls.root
    assert s.logging.colors is False and s.logging.trace is False and s.logging.debug is False
    # every file it names is in the configuration directory, which the unit and the image provide
    named = [s.operatorjwtpath, s.systemaccountjwtpath, s.http.tls.cert, s.http.tls.key]
    named += [s.nats.usercredentials, s.nats.tls.root]
    assert all(PurePosixPath(p).is_relative_to(CONFIG_DIR) for p in named), named


def relocated_config(tmp_path: Path, http_port: int, nats_port: int) -> Path:
    """deploy/server.conf with its directories moved under tmp_path, listening on 127.0.0.1:http_port
    and connecting to nats-server on 127.0.0.1:nats_port; nothing else changed."""
    text = CONFIG.read_text()
    for old, new in (
        (CONFIG_DIR, str(tmp_path / "etc")),
        (STORE_DIR, str(tmp_path / "store")),
        ("host: 0.0.0.0 ", "host: 127.0.0.1 "),
        ("port: 9090\n", f"port: {http_port}\n"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    text, count = re.subn(r"servers: \[[^\]]*\]", f'servers: ["tls://127.0.0.1:{nats_port}"]', text)
    assert count == 1
    assert "example.internal" not in text and CONFIG_DIR not in text
    path = tmp_path / "etc" / "server.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def provide_named_files(tmp_path: Path, trust: Trust) -> dict[str, Path]:
    """The files the relocated example configuration names, made for ``trust``; returns the certificates."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not available to make test certificates")
    etc = tmp_path / "etc"
    (etc / "tls").mkdir(parents=True, exist_ok=True)
    (etc / "operator.jwt").write_text(trust.operator_jwt)
    (etc / "SYS.jwt").write_text(trust.account_jwt("SYS"))
    trust.creds("sys", path=etc / "sys.creds")
    http_cert, _ = self_signed(etc / "tls", "server", "127.0.0.1")  # server-cert.pem, server-key.pem
    nats_cert, nats_key = self_signed(tmp_path, "nats", "127.0.0.1")
    shutil.copyfile(nats_cert, etc / "tls" / "nats-ca.pem")
    (tmp_path / "store").mkdir(mode=0o750)  # what the unit's StateDirectory= and the image provide
    return {"http_cert": http_cert, "nats_cert": nats_cert, "nats_key": nats_key}


def readme_resolver_tls_config(trust: Trust, resolver_url: str, ca_file: Path) -> str:
    """The README's nats-server configuration for an https:// URL resolver, made concrete."""
    (block,) = [b for b in code_blocks(readme_section("Running in production")) if "resolver_tls" in b]
    for pattern, value in (
        (r'^operator: ".*"$', f'operator: "{trust.operator_jwt_path}"'),
        (r"^system_account: \S+$", f"system_account: {trust.system_account}"),
        (r"URL\(https://[^)]*\)", f"URL({resolver_url})"),
        (r'ca_file: "[^"]*"', f'ca_file: "{ca_file}"'),
    ):
        block, count = re.subn(pattern, value, block, flags=re.MULTILINE)
        assert count == 1, pattern
    return block


async def test_example_config_is_the_https_resolver_of_a_nats_server(
    tmp_path: Path, trust: Trust, nats_server_bin: str
) -> None:
    """The example configuration, its files in place, serves a nats-server that trusts it through
    the README's ``resolver_tls { ca_file }``: a user of an uploaded account connects. Without that
    block the same nats-server refuses to start (it cannot verify the account server)."""
    nats_port = free_port()
    conf = relocated_config(tmp_path, free_port(), nats_port)
    certs = provide_named_files(tmp_path, trust)
    checked = subprocess.run(
        [sys.executable, "-m", "nats_account_server", "-t", "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr  # every file it names is there and usable
    proc = ServerProcess(["-c", str(conf)], cwd=tmp_path).start()
    url = await asyncio.to_thread(proc.wait_ready, 15)
    assert proc.resolver_url.startswith("https://127.0.0.1:")
    verify = ssl.create_default_context(cafile=str(certs["http_cert"]))
    async with httpx.AsyncClient(verify=verify, timeout=10) as http:
        reply = await http.post(f"{url}/jwt/v1/accounts/{trust.pub('A')}", content=trust.account_jwt("A"))
        assert reply.status_code == 200, reply.text
        assert (await http.head(f"{url}/healthz")).status_code == 200
    assert (tmp_path / "store" / f"{trust.pub('A')}.jwt").is_file()
    probe = await asyncio.to_thread(
        subprocess.run, [sys.executable, str(HEALTHCHECK), f"{url}/healthz"], timeout=30
    )
    assert probe.returncode == 0

    listen_tls = f'tls {{ cert_file: "{certs["nats_cert"]}", key_file: "{certs["nats_key"]}" }}\n'
    readme = readme_resolver_tls_config(trust, proc.resolver_url, certs["http_cert"])
    untrusting, count = re.subn(r"^resolver_tls \{.*?^\}$", "", readme, flags=re.MULTILINE | re.DOTALL)
    assert count == 1
    refused = NatsServer(untrusting + listen_tls, tmp_path=tmp_path, port=nats_port, name="untrusting")
    refused.start()
    assert await asyncio.to_thread(refused.wait, 15) != 0
    assert refused.find_lines("certificate signed by unknown authority")

    server = NatsServer(readme + "\n" + listen_tls, tmp_path=tmp_path, port=nats_port)
    await asyncio.to_thread(server.start_ready, 15)
    await asyncio.to_thread(
        proc.wait_for_line, "connected to NATS for account and activation notifications", 15
    )
    client_tls = ssl.create_default_context(cafile=str(certs["nats_cert"]))
    nc = await nats.connect(
        f"tls://127.0.0.1:{nats_port}",
        user_credentials=str(trust.creds("a")),
        tls=client_tls,
        connect_timeout=5,
        allow_reconnect=False,
    )
    try:
        assert nc.is_connected  # nats-server fetched account A over HTTPS, verified with ca_file
    finally:
        await nc.close()
    server.stop()
    assert proc.stop() == 0


def test_unit_reload_command_reloads_the_example_config(tmp_path: Path, trust: Trust) -> None:
    """``systemctl reload`` runs ExecReload with $MAINPID: the server re-reads the file and comes back;
    a broken file leaves it serving on the previous one; SIGTERM (KillSignal) ends it with status 0."""
    unit = parse_unit(UNIT.read_text())
    reload = shlex.split(one(unit, "Service", "ExecReload"))
    port = free_port()
    conf = relocated_config(tmp_path, port, free_port())  # no nats-server: the server keeps retrying
    provide_named_files(tmp_path, trust)
    proc = ServerProcess(["-c", str(conf)], cwd=tmp_path).start()
    proc.wait_ready(15)

    def systemctl_reload() -> int:
        since = proc.mark()
        argv = [arg.replace("$MAINPID", str(proc.pid)) for arg in reload]
        if shutil.which(argv[0]) is None:  # no kill(1) binary here: send what it would send
            assert argv[1] == "-HUP"
            os.kill(int(argv[2]), signal.SIGHUP)
        else:
            subprocess.run(argv, check=True, timeout=10)
        proc.wait_for_line("received sig-hup", 10, since=since)
        return since

    since = systemctl_reload()
    assert proc.wait_ready(15, since=since) == f"https://127.0.0.1:{port}"
    conf.write_text(conf.read_text() + "\nhttp { port: \n")  # a syntax error
    since = systemctl_reload()
    proc.wait_for_line("still running with the previous configuration", 10, since=since)
    assert proc.running
    assert (
        subprocess.run([sys.executable, str(HEALTHCHECK), f"{proc.url}/healthz"], timeout=30).returncode == 0
    )
    assert proc.stop(sig=signal.Signals[one(unit, "Service", "KillSignal")]) == 0


def syscall_group(tool: str, group: str) -> set[str]:
    """The system calls of a systemd ``@group``, nested groups expanded."""
    listing = subprocess.run([tool, "syscall-filter", group], capture_output=True, text=True, timeout=30)
    assert listing.returncode == 0, listing.stderr
    calls: set[str] = set()
    for line in listing.stdout.splitlines():
        word = line.strip()
        if not word or word.startswith("#") or word == group:
            continue
        calls |= syscall_group(tool, word) if word.startswith("@") else {word}
    return calls


def unit_allowed_syscalls(tool: str, unit: Unit) -> set[str]:
    """SystemCallFilter= as systemd applies it: the first list allows, ``~`` lists take away."""
    allowed: set[str] = set()
    for value in unit["Service"]["SystemCallFilter"]:
        deny = value.startswith("~")
        names = value.removeprefix("~").split()
        calls = set().union(*(syscall_group(tool, n) if n.startswith("@") else {n} for n in names))
        allowed = allowed - calls if deny else allowed | calls
    return allowed


def test_unit_sandbox_allows_what_the_server_does(tmp_path: Path, trust: Trust, nats_server_bin: str) -> None:
    """Every system call and socket family the server uses (traced from its first instruction through
    HTTPS uploads, a refused upload, the pack, NATS over TLS, a reload and SIGTERM) is allowed by the
    unit's SystemCallFilter= and RestrictAddressFamilies=, which would otherwise fail it with EPERM."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    tool = systemd_analyze()
    unit = parse_unit(UNIT.read_text())
    nats_port = free_port()
    conf = relocated_config(tmp_path, free_port(), nats_port)
    certs = provide_named_files(tmp_path, trust)
    trace = tmp_path / "server.strace"
    proc = ServerProcess(["-c", str(conf)], cwd=tmp_path)
    proc.argv = [strace, "-f", "-qq", "-o", str(trace), *proc.argv]
    proc.start()
    try:
        url = proc.wait_ready(30)
    except AssertionError:
        if "ptrace" in proc.stderr_text() or "Operation not permitted" in proc.stderr_text():
            pytest.skip("strace cannot trace here (no ptrace)")
        raise
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    if not children.exists():
        pytest.skip("no /proc/<pid>/task/<pid>/children to find the traced server")
    server_pid = int(children.read_text().split()[0])
    listen_tls = f'tls {{ cert_file: "{certs["nats_cert"]}", key_file: "{certs["nats_key"]}" }}\n'
    nats_conf = readme_resolver_tls_config(trust, proc.resolver_url, certs["http_cert"]) + "\n" + listen_tls
    server = NatsServer(nats_conf, tmp_path=tmp_path, port=nats_port).start_ready(15)
    proc.wait_for_line("connected to NATS for account and activation notifications", 20)
    verify = ssl.create_default_context(cafile=str(certs["http_cert"]))
    with httpx.Client(verify=verify, timeout=10) as http:
        for name in ("A", "B"):
            key = trust.pub(name)
            assert (
                http.post(f"{url}/jwt/v1/accounts/{key}", content=trust.account_jwt(name)).status_code == 200
            )
            assert http.get(f"{url}/jwt/v1/accounts/{key}").status_code == 200
        old = trust.account_jwt("A", iat=1)
        assert http.post(f"{url}/jwt/v1/accounts/{trust.pub('A')}", content=old).status_code == 409
        assert http.get(f"{url}/jwt/v1/pack").status_code == 200
        since = proc.mark()
        os.kill(server_pid, signal.SIGHUP)
        proc.wait_ready(30, since=since)
        proc.wait_for_line("connected to NATS for account and activation notifications", 20, since=since)
        assert http.get(f"{url}/jwt/v1/accounts/{trust.pub('B')}").status_code == 200
    server.stop()
    os.kill(server_pid, signal.SIGTERM)
    assert proc.wait(30) == 0
    calls: set[str] = set()
    families: set[str] = set()
    for line in trace.read_text().splitlines():
        call = re.match(r"\d+\s+(?:<\.\.\. )?(\w+)[( ]", line)
        if call is not None:
            calls.add(call.group(1))
        families.update(re.findall(r"\bsocket\((AF_\w+)", line))
    assert {"execve", "bind", "accept4", "connect", "fsync"} <= calls, sorted(calls)  # the trace is real
    assert calls - unit_allowed_syscalls(tool, unit) == set()
    assert families and families <= set(one(unit, "Service", "RestrictAddressFamilies").split()), families


# ---------------------------------------------------------------------- the health check and proxies


def test_healthcheck_script(tmp_path: Path) -> None:
    probe = [sys.executable, str(HEALTHCHECK)]
    with start_server(tmp_path=tmp_path) as proc:
        plain = f"{proc.url}/healthz"
        https = plain.replace("http://", "https://")
        assert subprocess.run([*probe, plain], timeout=30).returncode == 0
        # the image's default: https first, then http, on the same port
        assert subprocess.run([*probe, https], timeout=30, capture_output=True).returncode == 1
        assert subprocess.run([*probe, https, plain], timeout=30).returncode == 0
        assert subprocess.run([*probe, f"{proc.url}/nothing"], timeout=30).returncode == 1
    started = time.monotonic()
    assert subprocess.run([*probe, plain], timeout=30, capture_output=True).returncode == 1  # stopped
    assert time.monotonic() - started < 5


def test_idle_keep_alive_connections_close_after_readtimeout(tmp_path: Path) -> None:
    """What the README tells reverse proxies: keep their idle upstream connections for less than
    ``http.readtimeout``, after which the server closes them."""
    conf = "http { host: 127.0.0.1, port: 0, readtimeout: 500 }\nlogging { colors: false }\n"
    with start_server(config_text=conf, tmp_path=tmp_path) as proc, httpx.Client(timeout=5) as http:
        assert http.get(f"{proc.url}/healthz").status_code == 200
        with socket.create_connection(("127.0.0.1", proc.port), timeout=5) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
            started = time.monotonic()
            assert sock.recv(4096) == b""  # closed by the server, not by us
            assert 0.3 < time.monotonic() - started < 3


def test_readme_states_the_supported_python() -> None:
    project = pyproject()["project"]
    assert isinstance(project, dict)
    lowest = str(project["requires-python"]).removeprefix(">=")
    section = readme_section("Running in production")
    assert f"Python {lowest} or newer" in section
    for name in ("deploy/nats-account-server.service", "deploy/server.conf", "deploy/healthcheck.py"):
        assert name in section and (REPO / name).is_file(), name
