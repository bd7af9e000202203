"""Processes under test: started pinned to one core, timed to their first 200, measured, stopped."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_status(
    port: int,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    timeout: float = 2.0,
) -> int:
    """One request on a fresh connection; the status code, or 0 when nothing answered."""
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Connection: close",
        f"Content-Length: {len(body)}",
    ]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(request)
            head = b""
            while b"\r\n" not in head:
                chunk = sock.recv(4096)
                if not chunk:
                    return 0
                head += chunk
    except OSError:
        return 0
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def cores_busy(seconds: float = 1.0) -> float:
    """Share of all cores busy (not idle/iowait) over `seconds`, from /proc/stat."""

    def sample() -> tuple[int, int]:
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        return sum(ticks) - ticks[3] - ticks[4], sum(ticks)

    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    return (busy1 - busy0) / max(1, total1 - total0)


def wait_quiet(limit: float, timeout: float, threshold: float = 0.1) -> float:
    """Wait (up to `timeout` s) until the machine is idle; returns the last busy share seen."""
    deadline = time.monotonic() + timeout
    while True:
        busy = cores_busy(1.0)
        if busy <= threshold or time.monotonic() > deadline:
            return busy
        if limit:
            print(f"  machine busy ({busy:.0%} of the cores), waiting for it to calm down", flush=True)
            limit = 0


def rss_mib(pid: int) -> float:
    """VmRSS of a process, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process (all its threads) used so far, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Proc:
    """A child process on `cpu` (via taskset, which execs: the pid is the program's own)."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        cpu: str = "0",
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = ["taskset", "-c", cpu, *argv]
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        # servers run from bytecode caches, as an installed package does: compiling every module
        # at each start would be most of a start's time
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.popen: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.log_offset = 0  # where this start's output begins in the (appended) log file

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def start(self) -> Proc:
        log = self.log_path.open("ab")
        self.log_offset = log.tell()
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(
            self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, stdin=subprocess.DEVNULL
        )
        log.close()
        return self

    def wait_status(self, port: int, path: str, want: int = 200, timeout: float = 30.0) -> float:
        """Poll (tightly: 1 ms between tries) until `path` answers `want`; seconds since start()."""
        deadline = self.started + timeout
        while True:
            status = http_status(port, path, timeout=1.0)
            now = time.perf_counter()
            if status == want:
                return now - self.started
            if self.popen is not None and self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.tail()}")
            if now > deadline:
                raise RuntimeError(
                    f"{self.name}: no {want} on {path} within {timeout}s (last {status})\n{self.tail()}"
                )
            time.sleep(0.001)

    def output(self) -> str:
        """What this process wrote since its start()."""
        with self.log_path.open("rb") as f:
            f.seek(self.log_offset)
            return f.read().decode(errors="replace")

    def tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)

    def __enter__(self) -> Proc:
        return self.start() if self.popen is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def account_server(
    name: str,
    port: int,
    store: Path,
    log_path: Path,
    *,
    operator_jwt: Path | None = None,
    extra: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> Proc:
    argv = [PYTHON, "-m", "nats_account_server", "-hp", f"127.0.0.1:{port}", "-dir", str(store)]
    if operator_jwt is not None:
        argv += ["-operator", str(operator_jwt)]
    return Proc(name, [*argv, *extra], log_path, env=env)


def hello_server(port: int, log_path: Path) -> Proc:
    script = Path(__file__).with_name("hello.py")
    return Proc("hello", [PYTHON, str(script), "--port", str(port)], log_path)
