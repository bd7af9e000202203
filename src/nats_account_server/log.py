"""nats-server style logging to stderr, or one JSON object per line (``logging.format: json``).

The line format is part of the product's observable behaviour (operators grep for ``[INF]`` and
tests match on it), so it is produced by hand instead of through :mod:`logging`. A JSON line holds
the same message text as the text line would (escaped the same way, then JSON-encoded), so no
value can end a line early in either format, and it is never coloured. Lines are written
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
from collections.abc import Callable
from typing import Any, TextIO

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


def _utc_offset(seconds: int) -> str:
    """RFC 3339's offset of local time: ``Z`` for UTC, else ``+hh:mm`` / ``-hh:mm``."""
    if seconds == 0:
        return "Z"
    sign = "-" if seconds < 0 else "+"
    minutes = abs(seconds) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


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
        self._json_second: tuple[int, str, str] = (-1, "", "")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._pending: list[str] = []
        self.configure(settings or LoggingSettings())

    def configure(self, settings: LoggingSettings) -> None:
        """Apply the ``logging`` settings; everything of a line but its time and message (labels,
        prefix, the JSON up to the message) is precomputed here to keep log calls cheap."""
        self._time = settings.time
        self._debug = settings.debug
        self._trace = settings.trace
        if settings.format == "json":
            import orjson  # only for JSON lines

            self._dumps: Callable[[Any], bytes] = orjson.dumps
            pid = f'"pid":{os.getpid()},' if settings.pid else ""
            self._heads = {lvl: f'"level":"{lvl}",{pid}"msg":' for lvl in _COLORS}
            self._line: Callable[[str, str, bool], str] = self._json_line
            return
        self._line = self._text_line
        self._prefix = f"[{os.getpid()}] " if settings.pid else ""
        # as nats-server: no colour codes in files or journald, unless the settings insist
        if settings.colors == "always" or (settings.colors and self._terminal()):
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
        return self._line(level, msg, block)

    def _text_line(self, level: str, msg: str, block: bool) -> str:
        msg = "\n".join(printable(line) for line in msg.split("\n")) if block else printable(msg)
        if len(msg) > MAX_LINE and not block:
            msg = bounded(msg, MAX_LINE)
        stamp = self._stamp() if self._time else ""
        return f"{self._prefix}{stamp}{self._labels[level]}{msg}\n"

    def _json_line(self, level: str, msg: str, block: bool) -> str:
        """``{"time":…,"level":…,"pid":…,"msg":…}``: the text line's message, JSON-encoded (a
        block's newlines are ``\\n`` in the string). After :func:`printable` it holds no lone
        surrogate, so orjson cannot refuse it. (The first two steps are :meth:`_text_line`'s,
        inline in both: on a short line a call costs more than they do.)"""
        msg = "\n".join(printable(line) for line in msg.split("\n")) if block else printable(msg)
        if len(msg) > MAX_LINE and not block:
            msg = bounded(msg, MAX_LINE)
        text = self._dumps(msg).decode()
        if self._time:
            return f'{{"time":"{self._rfc3339()}",{self._heads[level]}{text}}}\n'
        return f"{{{self._heads[level]}{text}}}\n"

    def _stamp(self) -> str:
        """Local time with microseconds; the part up to the second is formatted once per second."""
        now = time.time()
        second = int(now)
        cached = self._second
        if cached[0] != second:
            cached = self._second = (second, time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(second)))
        return f"{cached[1]}.{int((now - second) * 1_000_000):06d} "

    def _rfc3339(self) -> str:
        """Local time with microseconds and its offset (``Z`` in UTC), cached per second like
        :meth:`_stamp`: ``2026-11-29T10:00:00.123456+01:00``."""
        now = time.time()
        second = int(now)
        cached = self._json_second
        if cached[0] != second:
            local = time.localtime(second)
            head = time.strftime("%Y-%m-%dT%H:%M:%S", local)
            cached = self._json_second = (second, head, _utc_offset(local.tm_gmtoff))
        return f"{cached[1]}.{int((now - second) * 1_000_000):06d}{cached[2]}"

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
        line = self._line(level, msg, block)
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
