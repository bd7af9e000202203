"""nats-server style logging to stderr (SPEC 8).

The line format is part of the product's observable behaviour (operators grep for ``[INF]`` and
tests match on it), so it is produced by hand instead of through :mod:`logging`. Every line is
written with one ``write`` call and flushed, so lines from different threads never interleave and
nothing is lost when the process is killed.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO

from nats_account_server.config import LoggingSettings

__all__ = ["Logger", "log", "printable", "short_key"]

_RESET = "\x1b[0m"
_COLORS = {"INF": "\x1b[32m", "DBG": "\x1b[36m", "WRN": "\x1b[0;93m", "ERR": "\x1b[31m", "FTL": "\x1b[31m",
           "TRC": "\x1b[33m"}


def printable(text: str) -> str:
    """Non-printable characters (newlines included) as escapes, so peer-supplied text in a message
    (URL paths, keys, claim values) can never start a forged log line or hide behind control codes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


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
        self.configure(settings or LoggingSettings())

    def configure(self, settings: LoggingSettings) -> None:
        """Apply the ``logging`` settings; labels and prefix are precomputed to keep log calls cheap."""
        self._time = settings.time
        self._debug = settings.debug
        self._trace = settings.trace
        self._prefix = f"[{os.getpid()}] " if settings.pid else ""
        if settings.colors:
            self._labels = {lvl: f"[{code}{lvl}{_RESET}] " for lvl, code in _COLORS.items()}
        else:
            self._labels = {lvl: f"[{lvl}] " for lvl in _COLORS}

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

    def _emit(self, level: str, msg: str, block: bool = False) -> None:
        line = self.format(level, msg, block=block)
        stream = self._stream if self._stream is not None else sys.stderr
        with self._lock:
            try:
                stream.write(line)
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
