"""Subprocess harness: run ``python -m nats_account_server`` (and, via a subclass, nats-server).

Output of the child is captured line by line by reader threads; ANSI colour codes are stripped
(our server logs with colours on by default).  Every wait is bounded and raises
:class:`HarnessError` (an ``AssertionError``) carrying the captured output when it fails.

Matching rule used everywhere: a ``str`` pattern is a plain *substring*, a compiled ``re.Pattern``
is applied with ``search``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Literal, Self

__all__ = [
    "ANSI_RE",
    "HarnessError",
    "ManagedProcess",
    "Pattern",
    "ServerProcess",
    "Stream",
    "config_sets_http",
    "has_flag",
    "live_processes",
    "start_server",
    "stop_all",
    "strip_ansi",
]

ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

Pattern = str | re.Pattern[str]
Stream = Literal["stdout", "stderr"]

DEFAULT_TIMEOUT = 10.0

# Every started process, until it has been stopped or waited for.  Used by the conftest reaper so
# a failing test never leaks children.
_LIVE: dict[int, ManagedProcess] = {}
_LIVE_LOCK = threading.Lock()


class HarnessError(AssertionError):
    """A bounded wait failed (timeout or premature exit); the message includes captured output."""


def strip_ansi(text: str) -> str:
    return ANSI_RE.sub("", text)


def _matches(pattern: Pattern, line: str) -> bool:
    if isinstance(pattern, str):
        return pattern in line
    return pattern.search(line) is not None


def _describe_pattern(pattern: Pattern) -> str:
    return repr(pattern) if isinstance(pattern, str) else f"re {pattern.pattern!r}"


def live_processes() -> list[ManagedProcess]:
    """Processes started through this harness that have not been stopped yet."""
    with _LIVE_LOCK:
        return list(_LIVE.values())


def stop_all(procs: Iterable[ManagedProcess] | None = None, timeout: float = 5.0) -> None:
    """Stop the given processes (default: every live one), ignoring errors."""
    for proc in list(procs) if procs is not None else live_processes():
        try:
            proc.stop(timeout=timeout)
        except Exception:  # noqa: BLE001 - best effort cleanup
            proc.kill()


class ManagedProcess:
    """A child process with captured, ANSI-stripped output and bounded waits."""

    name: str = "process"

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        inherit_env: bool = True,
        name: str | None = None,
    ) -> None:
        self.argv: list[str] = [str(a) for a in argv]
        self.cwd: str | None = os.fspath(cwd) if cwd is not None else None
        self.env: dict[str, str] = dict(os.environ) if inherit_env else {}
        if env:
            self.env.update(env)
        if name is not None:
            self.name = name
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self.raw_stderr_lines: list[str] = []
        self._cond = threading.Condition()
        self._eof: dict[str, bool] = {"stdout": True, "stderr": True}
        self._threads: list[threading.Thread] = []
        self._proc: subprocess.Popen[str] | None = None
        # Line indexes at the most recent start(), so waits after a restart ignore older output.
        self.start_mark: dict[str, int] = {"stdout": 0, "stderr": 0}
        self.starts = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self._join_readers(1.0)
        with self._cond:
            if self.starts:
                for lines in (self.stdout_lines, self.stderr_lines):
                    lines.append(f"---- harness: {self.name} restart #{self.starts} ----")
            self.start_mark = {"stdout": len(self.stdout_lines), "stderr": len(self.stderr_lines)}
            self._eof = {"stdout": False, "stderr": False}
        self._proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            start_new_session=True,  # our own process group: terminal Ctrl-C does not hit it
        )
        self.starts += 1
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._threads = [
            threading.Thread(target=self._reader, args=(self._proc.stdout, "stdout"), daemon=True),
            threading.Thread(target=self._reader, args=(self._proc.stderr, "stderr"), daemon=True),
        ]
        for t in self._threads:
            t.start()
        with _LIVE_LOCK:
            _LIVE[id(self)] = self
        return self

    def _reader(self, pipe: IO[str], stream: str) -> None:
        try:
            for raw in iter(pipe.readline, ""):
                raw = raw.rstrip("\r\n")
                line = strip_ansi(raw)
                with self._cond:
                    if stream == "stderr":
                        self.raw_stderr_lines.append(raw)
                        self.stderr_lines.append(line)
                    else:
                        self.stdout_lines.append(line)
                    self._cond.notify_all()
        except (OSError, ValueError):
            pass
        finally:
            with self._cond:
                self._eof[stream] = True
                self._cond.notify_all()

    def _join_readers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def _forget(self) -> None:
        with _LIVE_LOCK:
            _LIVE.pop(id(self), None)

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError(f"{self.name} was never started")
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """Exit status (negative for a signal), or None while running / before start."""
        if self._proc is None:
            return None
        return self._proc.poll()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def send_signal(self, sig: int = signal.SIGTERM) -> None:
        if self._proc is None:
            raise RuntimeError(f"{self.name} was never started")
        if self._proc.poll() is None:
            self._proc.send_signal(sig)

    def pause(self, timeout: float = 5.0) -> None:
        """SIGSTOP the process and return once every one of its threads is stopped.

        ``kill`` only queues the signal; on a loaded host (or a sandboxed kernel) the process may
        run on for a moment, so a test that needs it frozen waits for the kernel to say so."""
        self.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + timeout
        while not self._all_threads_stopped():
            if time.monotonic() > deadline:
                raise HarnessError(f"{self.name} did not stop within {timeout}s\n{self.describe()}")
            time.sleep(0.005)

    def resume(self) -> None:
        """SIGCONT a process paused by :meth:`pause`."""
        self.send_signal(signal.SIGCONT)

    def _all_threads_stopped(self) -> bool:
        tasks = Path(f"/proc/{self.pid}/task")
        try:
            stats = [(t / "stat").read_text() for t in tasks.iterdir()]
        except (FileNotFoundError, ProcessLookupError):
            return False
        # the state is the first field after the parenthesised command name
        return bool(stats) and all(s[s.rindex(")") + 2] in "Tt" for s in stats)

    def wait(self, timeout: float = DEFAULT_TIMEOUT) -> int:
        """Wait for the process to exit; returns its exit status, raises HarnessError on timeout."""
        if self._proc is None:
            raise RuntimeError(f"{self.name} was never started")
        try:
            rc = self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise HarnessError(f"{self.name} did not exit within {timeout}s\n{self.describe()}") from None
        self._join_readers(2.0)
        self._forget()
        return rc

    def kill(self) -> None:
        """SIGKILL the whole process group (we created it with start_new_session)."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self._proc.kill()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self._join_readers(2.0)
        self._forget()

    def stop(self, timeout: float = DEFAULT_TIMEOUT, sig: int = signal.SIGTERM) -> int | None:
        """Send ``sig`` (SIGTERM), wait up to ``timeout`` seconds, then SIGKILL. Returns the exit status."""
        if self._proc is None:
            return None
        if self._proc.poll() is None:
            self._proc.send_signal(sig)
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        else:
            # Already exited; reap any leftover members of the process group.
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self._join_readers(2.0)
        for pipe in (self._proc.stdout, self._proc.stderr):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass
        self._forget()
        return self._proc.returncode

    def __enter__(self) -> Self:
        if self._proc is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __del__(self) -> None:  # last-resort safety net
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            try:
                proc.kill()
            except OSError:
                pass

    # ------------------------------------------------------------------ output
    def _lines(self, stream: Stream) -> list[str]:
        return self.stderr_lines if stream == "stderr" else self.stdout_lines

    def mark(self, stream: Stream = "stderr") -> int:
        """Current number of captured lines; pass it as ``since=`` to only look at later output."""
        with self._cond:
            return len(self._lines(stream))

    def find_lines(self, pattern: Pattern, *, stream: Stream = "stderr", since: int = 0) -> list[str]:
        """Matching lines, once the stream has been quiet for 50 ms (at most 1 s): output the
        child wrote before a response we already hold may still be in the pipe."""
        self.settle(stream)
        with self._cond:
            return [line for line in self._lines(stream)[since:] if _matches(pattern, line)]

    def settle(self, stream: Stream = "stderr", quiet: float = 0.05, limit: float = 1.0) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            with self._cond:
                seen = len(self._lines(stream))
                if self._eof[stream]:
                    return
            time.sleep(quiet)
            with self._cond:
                if len(self._lines(stream)) == seen:
                    return

    def wait_for_line(
        self,
        pattern: Pattern,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        stream: Stream = "stderr",
        since: int | None = None,
    ) -> str:
        """Return the first captured line (from index ``since``; default: the latest start) matching
        ``pattern``. Raises HarnessError on timeout or when the stream ends without a match."""
        if since is None:
            since = self.start_mark[stream]
        deadline = time.monotonic() + timeout
        with self._cond:
            index = since
            while True:
                lines = self._lines(stream)
                while index < len(lines):
                    if _matches(pattern, lines[index]):
                        return lines[index]
                    index += 1
                if self._eof[stream]:
                    reason = f"{stream} closed (exit status {self.returncode})"
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    reason = f"timeout after {timeout}s"
                    break
                self._cond.wait(min(remaining, 0.5))
        if self._eof[stream] and self._proc is not None:
            try:  # the pipe closes just before the exit status is available
                self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
            reason = f"{stream} closed (exit status {self.returncode})"
        raise HarnessError(
            f"{self.name}: no line matching {_describe_pattern(pattern)} on {stream} ({reason})\n"
            + self.describe()
        )

    def stdout_text(self) -> str:
        with self._cond:
            return "\n".join(self.stdout_lines)

    def stderr_text(self) -> str:
        """ANSI-stripped stderr (the log) captured so far."""
        with self._cond:
            return "\n".join(self.stderr_lines)

    def describe(self, max_lines: int = 200) -> str:
        """Diagnostic block: command line, status and the tail of both streams."""
        with self._cond:
            err = self.stderr_lines[-max_lines:]
            out = self.stdout_lines[-max_lines:]
        return (
            f"--- {self.name}: {' '.join(self.argv)}\n"
            f"--- cwd={self.cwd} returncode={self.returncode}\n"
            f"--- stderr ({len(err)} lines shown):\n" + "\n".join(err) + "\n"
            f"--- stdout ({len(out)} lines shown):\n" + "\n".join(out) + "\n--- end"
        )


# ---------------------------------------------------------------------- our server

_RESOLVER_RE = re.compile(
    r"resolver: URL\((?P<url>(?P<base>(?P<proto>https?)://(?P<host>\[[^\]]+\]|[^/:)]+):(?P<port>\d+))"
    r"/jwt/v1/accounts/?)\)"
)


class ServerProcess(ManagedProcess):
    """``python -m nats_account_server ARGS`` with log capture.

    ``url`` (``http://127.0.0.1:PORT``) is parsed from the last ``resolver: URL(...)`` log line, so
    after a SIGHUP reload ``wait_ready(since=mark)`` followed by ``url`` gives the new address.
    """

    name = "nats-account-server"

    def __init__(
        self,
        args: Sequence[str] = (),
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        inherit_env: bool = True,
        python: str = sys.executable,
    ) -> None:
        full_env = {"PYTHONUNBUFFERED": "1"}
        if env:
            full_env.update(env)
        super().__init__(
            [python, "-m", "nats_account_server", *[str(a) for a in args]],
            cwd=cwd,
            env=full_env,
            inherit_env=inherit_env,
        )
        self.args = [str(a) for a in args]

    def wait_ready(self, timeout: float = DEFAULT_TIMEOUT, *, since: int | None = None) -> str:
        """Wait for the ``resolver: URL(...)`` line (the last startup line); returns the base URL."""
        line = self.wait_for_line(_RESOLVER_RE, timeout, since=since)
        m = _RESOLVER_RE.search(line)
        assert m is not None
        return m.group("base")

    def _resolver_match(self) -> re.Match[str]:
        with self._cond:
            lines = list(self.stderr_lines)
        for line in reversed(lines):
            m = _RESOLVER_RE.search(line)
            if m:
                return m
        raise HarnessError(f"{self.name}: no 'resolver: URL(...)' line yet\n{self.describe()}")

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:43121`` (from the latest resolver line)."""
        return self._resolver_match().group("base")

    @property
    def resolver_url(self) -> str:
        """Full resolver URL as printed, e.g. ``http://127.0.0.1:43121/jwt/v1/accounts/``."""
        return self._resolver_match().group("url")

    @property
    def port(self) -> int:
        return int(self._resolver_match().group("port"))

    @property
    def host(self) -> str:
        return self._resolver_match().group("host")


def has_flag(args: Sequence[str], flag: str) -> bool:
    """True when ``-flag``/``--flag`` (with or without ``=value``) occurs in ``args``."""
    rx = re.compile(rf"^--?{re.escape(flag)}(=.*)?$")
    return any(rx.match(str(a)) for a in args)


_HTTP_SECTION_RE = re.compile(
    r"""^\s*(?:"http"|'http'|http)\s*(?:[:=](?!//)|\{)""", re.IGNORECASE | re.MULTILINE
)


def config_sets_http(config_text: str) -> bool:
    """Heuristic: does the config text contain a top-level-looking ``http`` section?"""
    return _HTTP_SECTION_RE.search(config_text) is not None


def start_server(
    *args: str | os.PathLike[str],
    config_text: str | None = None,
    tmp_path: str | os.PathLike[str] | None = None,
    config_name: str = "server.conf",
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    default_hp: bool | None = None,
    ready: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> ServerProcess:
    """Start our server.

    * ``config_text``: written to ``tmp_path/config_name`` and passed as ``-c FILE`` (first argument).
    * ``-hp 127.0.0.1:0`` is appended unless ``args`` contain ``-hp`` or the config has an ``http``
      section (override the heuristic with ``default_hp=True/False``).
    * ``cwd`` defaults to ``tmp_path`` (so relative paths and stray files stay in the test dir).
    * ``ready=True`` waits for the resolver line (stopping the process and raising on failure);
      use ``ready=False`` for tests expecting a startup failure, then ``proc.wait()``.
    """
    argv = [os.fspath(a) for a in args]
    if config_text is not None:
        if tmp_path is None:
            raise ValueError("start_server(config_text=...) needs tmp_path=")
        conf = Path(tmp_path) / config_name
        conf.write_text(config_text, encoding="utf-8")
        argv = ["-c", str(conf), *argv]
    if default_hp is None:
        default_hp = not has_flag(argv, "hp") and not (
            config_text is not None and config_sets_http(config_text)
        )
    if default_hp:
        argv += ["-hp", "127.0.0.1:0"]
    if cwd is None:
        cwd = tmp_path
    proc = ServerProcess(argv, cwd=cwd, env=env)
    proc.start()
    if ready:
        try:
            proc.wait_ready(timeout)
        except BaseException:
            proc.stop(timeout=5)
            raise
    return proc
