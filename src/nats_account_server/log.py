"""nats-server style logging to stderr.

The line format is part of the product's observable behaviour (operators grep for ``[INF]`` and
tests match on it), so it is produced by hand instead of through :mod:`logging`. Lines are written
whole and flushed, so lines from different threads never interleave. While the server runs, the
INF/DBG/TRC lines its event loop logs are gathered and written once per loop iteration (at most a
few milliseconds later): a busy server logs two lines per upload, and a write per line was a
system call (and a hand-off of the GIL) each. Warnings and errors are written at once, after
whatever was gathered before them, so the order of lines is the order of the calls.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import sys
import threading
import time
from typing import TextIO

from nats_account_server.config import LoggingSettings

__all__ = ["MAX_LINE", "MAX_VALUE", "Logger", "bounded", "log", "printable", "short_key"]

MAX_VALUE = 256  # characters of one untrusted value (a URL path, a subject) shown in a log line
MAX_LINE = 16384  # characters of one log message; the rest is cut, and the cut is marked

_GATHERED = frozenset(("INF", "DBG", "TRC"))  # levels whose lines may wait for the end of a loop iteration
_RESET = "\x1b[0m"
_COLORS = {
    "INF": "\x1b[32m",
    "DBG": "\x1b[36m",
    "WRN": "\x1b[0;93m",
    "ERR": "\x1b[31m",
    "FTL": "\x1b[31m",
    "TRC": "\x1b[33m",
}


def printable(text: str) -> str:
    """Non-printable characters (newlines included) as escapes, so peer-supplied text in a message
    (URL paths, keys, claim values) can never start a forged log line or hide behind control codes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def bounded(value: str, limit: int = MAX_VALUE) -> str:
    """An untrusted value as a log line shows it: at most ``limit`` characters, a longer one cut
    and marked, so that a client or a peer cannot make one line arbitrarily long."""
    if len(value) <= limit:
        return value
    return f"{value[:limit]}...[{len(value) - limit} more characters]"


def short_key(key: str) -> str:
    """Keys are abbreviated to 12 characters in log lines, like the originals' ShortKey."""
    return key[:12]


class Logger:
    """One process-wide logger; reconfigured (not replaced) on SIGHUP so every module's reference stays valid.

    ``stream`` is ``None`` to write to whatever ``sys.stderr`` is at the time of each call (which is
    what lets pytest's capsys and redirections see the output).
    """

    def __init__(self, settings: LoggingSettings | None = None, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._second: tuple[int, str] = (-1, "")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._pending: list[str] = []
        self.configure(settings or LoggingSettings())

    def configure(self, settings: LoggingSettings) -> None:
        """Apply the ``logging`` settings; labels and prefix are precomputed to keep log calls cheap."""
        self._time = settings.time
        self._debug = settings.debug
        self._trace = settings.trace
        self._prefix = f"[{os.getpid()}] " if settings.pid else ""
        if settings.colors and self._terminal():  # as nats-server: no colour codes in files or journald
            self._labels = {lvl: f"[{code}{lvl}{_RESET}] " for lvl, code in _COLORS.items()}
        else:
            self._labels = {lvl: f"[{lvl}] " for lvl in _COLORS}

    def _terminal(self) -> bool:
        stream = self._stream if self._stream is not None else sys.stderr
        try:
            return bool(stream.isatty())
        except (AttributeError, ValueError):  # no such method, or a closed stream
            return False

    @property
    def debug_enabled(self) -> bool:
        """Lets hot paths skip building DBG messages that would be dropped."""
        return self._debug

    @property
    def trace_enabled(self) -> bool:
        """Lets hot paths (per-request lines) skip building TRC messages that would be dropped."""
        return self._trace

    def format(self, level: str, msg: str, *, block: bool = False) -> str:
        """The full line (with newline) for ``level`` in ``INF``/``WRN``/``ERR``/``FTL``/``DBG``/``TRC``.

        ``block`` keeps the newlines of a deliberately multi-line entry (the ``-dump`` JSON); anywhere
        else a newline or control character is escaped (see :func:`printable`)."""
        msg = "\n".join(printable(line) for line in msg.split("\n")) if block else printable(msg)
        if len(msg) > MAX_LINE and not block:
            msg = bounded(msg, MAX_LINE)
        stamp = self._stamp() if self._time else ""
        return f"{self._prefix}{stamp}{self._labels[level]}{msg}\n"

    def _stamp(self) -> str:
        """Local time with microseconds; the part up to the second is formatted once per second."""
        now = time.time()
        second = int(now)
        cached = self._second
        if cached[0] != second:
            cached = self._second = (second, time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(second)))
        return f"{cached[1]}.{int((now - second) * 1_000_000):06d} "

    def gather_on(self, loop: asyncio.AbstractEventLoop) -> None:
        """Gather the INF/DBG/TRC lines logged on ``loop``'s thread; one write per loop iteration."""
        with self._lock:
            self._loop, self._loop_thread = loop, threading.get_ident()
        atexit.register(self.flush)  # a loop that ends without gather_off must not take lines along

    def gather_off(self) -> None:
        """Write what was gathered; from now on every line is written at once."""
        with self._lock:
            self._loop = self._loop_thread = None
            self._write_locked([])
        atexit.unregister(self.flush)

    def flush(self) -> None:
        with self._lock:
            self._write_locked([])

    def _emit(self, level: str, msg: str, block: bool = False) -> None:
        line = self.format(level, msg, block=block)
        with self._lock:
            if self._loop_thread == threading.get_ident() and level in _GATHERED and self._loop is not None:
                try:
                    if not self._pending:
                        self._loop.call_soon(self.flush)
                    self._pending.append(line)
                    return
                except RuntimeError:  # the loop is closed: nothing would flush, so stop gathering
                    self._loop = self._loop_thread = None
            self._write_locked([line])

    def _write_locked(self, lines: list[str]) -> None:
        """Write the gathered lines, then ``lines``, in one call (the caller holds the lock)."""
        if self._pending:
            lines = self._pending + lines
            self._pending = []
        if not lines:
            return
        stream = self._stream if self._stream is not None else sys.stderr
        try:
            stream.write(lines[0] if len(lines) == 1 else "".join(lines))
            stream.flush()
        except (OSError, ValueError):  # closed or broken stderr must never take the server down
            pass

    def info(self, msg: str, *, block: bool = False) -> None:
        self._emit("INF", msg, block)

    def warn(self, msg: str) -> None:
        self._emit("WRN", msg)

    def error(self, msg: str) -> None:
        self._emit("ERR", msg)

    def fatal(self, msg: str) -> None:
        """Logs at FTL only; unlike nats-server it does not exit, the caller owns the exit status."""
        self._emit("FTL", msg)

    def debug(self, msg: str) -> None:
        if self._debug:
            self._emit("DBG", msg)

    def trace(self, msg: str) -> None:
        if self._trace:
            self._emit("TRC", msg)


log = Logger()
