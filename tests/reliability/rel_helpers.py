"""Helpers for the reliability tests: server configs, raw HTTP, file snapshots, syscall traces, RSS.

Everything talks to real processes on 127.0.0.1 and every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from nats_account_server.jwt import peek_claims
from nats_account_server.stores.marks import KEY_FILE
from nats_account_server.stores.writer import LOCK_FILE
from tests.support.procs import ServerProcess, start_server
from tests.support.trust import Trust

LONG = os.environ.get("NAS_LONG", "") not in ("", "0")


def duration(short: float, long: float) -> float:
    """Seconds a long-running test runs: short by default, long with ``NAS_LONG=1``."""
    return long if LONG else short


def server_config(
    trust: Trust | None,
    store: Path | None,
    *,
    port: int = 0,
    http: str = "",
    nats_url: str | None = None,
    primary: str | None = None,
    extra: str = "",
    trace: bool = False,
) -> str:
    """Our server's config: operator trust, a directory store, colourless logs, 127.0.0.1."""
    lines = [f"logging {{ colors: false, trace: {'true' if trace else 'false'} }}"]
    lines.append(f"http {{ host: 127.0.0.1, port: {port}\n{http}\n}}")
    if trust is not None:
        lines.append(f'operatorjwtpath: "{trust.operator_jwt_path}"')
        lines.append(f'systemaccountjwtpath: "{trust.system_account_jwt_path}"')
    if store is not None:
        lines.append(f'store {{ dir: "{store}" }}')
    if nats_url is not None:
        lines.append(f'nats {{ servers: ["{nats_url}"], reconnectwait: 200, connecttimeout: 1000 }}')
    if primary is not None:
        lines.append(f'primary: "{primary}"')
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n"


def start(tmp: Path, config_text: str, *, name: str = "server.conf", timeout: float = 20) -> ServerProcess:
    return start_server(config_text=config_text, tmp_path=tmp, config_name=name, timeout=timeout)


def iat_of(jwt: str) -> int:
    return peek_claims(jwt).iat


def jti_of(jwt: str) -> str:
    return peek_claims(jwt).jti


# ---------------------------------------------------------------------------------- raw HTTP


@dataclass
class RawReply:
    """The first HTTP response read from a raw socket (status None: closed before any response)."""

    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    closed: bool = False
    elapsed: float = 0.0

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


_STATUS_RE = re.compile(rb"HTTP/1\.[01] (\d{3})")


def parse_reply(data: bytes) -> tuple[int | None, dict[str, str], bytes, bool]:
    """(status, headers, body, complete) of the first response in ``data``."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None, {}, b"", False
    lines = head.split(b"\r\n")
    m = _STATUS_RE.match(lines[0])
    if m is None:
        return None, {}, b"", False
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    length = int(headers.get("content-length", "0") or 0)
    return int(m.group(1)), headers, rest[:length], len(rest) >= length


def raw_request(port: int, data: bytes, *, timeout: float = 10.0, shut_write: bool = False) -> RawReply:
    """Send raw bytes, read the first response (or until the server closes). Bounded by ``timeout``."""
    started = time.monotonic()
    buf = b""
    closed = False
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        with contextlib.suppress(OSError):  # the server may answer and close before we finish sending
            s.sendall(data)
            if shut_write:
                s.shutdown(socket.SHUT_WR)
        deadline = started + timeout
        while time.monotonic() < deadline:
            status, _, _, complete = parse_reply(buf)
            if status is not None and complete:
                break
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            except OSError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            buf += chunk
    status, headers, body, _ = parse_reply(buf)
    return RawReply(status, headers, body, closed, time.monotonic() - started)


def http_request(
    method: str, path: bytes | str, body: bytes = b"", *, headers: dict[str, str] | None = None
) -> bytes:
    """A complete HTTP/1.1 request with ``Connection: close``; ``path`` is sent byte for byte."""
    target = path.encode("latin-1") if isinstance(path, str) else path
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    all_headers = {"content-type": "application/jwt", **(headers or {})}
    if method == "POST" and "content-length" not in all_headers and "transfer-encoding" not in all_headers:
        all_headers["content-length"] = str(len(body))
    lines += [f"{k}: {v}".encode("latin-1") for k, v in all_headers.items()]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


# ------------------------------------------------------------------------------ filesystem


def tree_snapshot(root: Path) -> dict[str, bytes | None]:
    """Every entry below ``root``: relative path -> content (files) or None (directories, others)."""
    out: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            out[os.path.relpath(os.path.join(dirpath, name), root) + "/"] = None
        for name in filenames:
            path = os.path.join(dirpath, name)
            try:
                out[os.path.relpath(path, root)] = Path(path).read_bytes()
            except OSError:
                out[os.path.relpath(path, root)] = None
    return out


def jwt_files(store: Path) -> dict[str, bytes]:
    """Store file name -> content of every ``*.jwt`` file (the files the server would serve)."""
    return {p.name: p.read_bytes() for p in store.rglob("*.jwt") if p.is_file()}


def other_files(store: Path) -> list[str]:
    """Names of store entries that are not ``*.jwt`` files (temp files left by a crash, ...); the
    store's verified-marks secret (stores/marks.py) and its writer's lock (stores/writer.py) belong
    there."""
    return sorted(
        p.name
        for p in store.rglob("*")
        if p.is_file() and not p.name.endswith(".jwt") and p.name not in (KEY_FILE, LOCK_FILE)
    )


# --------------------------------------------------------------------------------- process


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


class FileTrace:
    """``strace -f -e trace=%file`` attached to a running process: which paths did it touch?

    Used to show that hostile requests make the server open nothing outside its store. Not every
    environment allows ptrace; ``available`` says whether the trace is running.
    """

    def __init__(self, pid: int, out: Path) -> None:
        self.pid = pid
        self.out = out
        self.available = False
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> FileTrace:
        binary = shutil.which("strace")
        if binary is None:
            return self
        argv = [
            binary,
            "-f",
            "-qq",
            "-s",
            "8192",
            "-e",
            "trace=%file",
            "-o",
            str(self.out),
            "-p",
            str(self.pid),
        ]
        self._proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and self._proc.poll() is None:
            if self._traced():
                self.available = True
                break
            time.sleep(0.05)
        if not self.available:
            self._stop()
        return self

    def _traced(self) -> bool:
        """Every thread of the process has a tracer."""
        try:
            tids = os.listdir(f"/proc/{self.pid}/task")
            for tid in tids:
                status = Path(f"/proc/{self.pid}/task/{tid}/status").read_text()
                tracer = re.search(r"^TracerPid:\s+(\d+)", status, re.M)
                if tracer is None or tracer.group(1) == "0":
                    return False
        except OSError:
            return False
        return True

    def _stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)  # strace detaches cleanly on SIGINT
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
        if self._proc.stderr is not None:
            self._proc.stderr.close()
        self._proc = None

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def paths(self) -> list[str]:
        """Every quoted path argument of a traced file syscall (absolute, or as given)."""
        if not self.out.exists():
            return []
        found: list[str] = []
        for line in self.out.read_text(errors="replace").splitlines():
            for m in re.finditer(r'"((?:[^"\\]|\\.)*)"', line):
                found.append(m.group(1))
        return found


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "64k") -> Iterator[bool]:
    """Mount a tiny tmpfs at ``path`` (yields False when mounting is not permitted here)."""
    path.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        yield False
        return
    if done.returncode != 0:
        yield False
        return
    try:
        yield True
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=10)


def remount(path: Path, mode: str) -> None:
    """``mount -o remount,<mode>`` (``ro`` / ``rw``) of a tmpfs made by :func:`tmpfs`."""
    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], check=True, capture_output=True, timeout=10)
