"""nats-server style log lines."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from nats_account_server.config import LoggingSettings
from nats_account_server.log import MAX_LINE, Logger, log, short_key
from tests.support.procs import start_server

STAMP = r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}\.\d{6} "


def plain(**kw: Any) -> Logger:
    return Logger(LoggingSettings(**{"colors": False, "time": False, **kw}))


def test_plain_labels(capsys: pytest.CaptureFixture[str]) -> None:
    lg = plain(debug=True, trace=True)
    lg.info("i")
    lg.warn("w")
    lg.error("e")
    lg.fatal("f")
    lg.debug("d")
    lg.trace("t")
    assert capsys.readouterr().err == "[INF] i\n[WRN] w\n[ERR] e\n[FTL] f\n[DBG] d\n[TRC] t\n"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colored_labels() -> None:
    out = Terminal()
    lg = Logger(LoggingSettings(time=False, debug=True, trace=True), stream=out)
    for method in (lg.info, lg.debug, lg.warn, lg.error, lg.fatal, lg.trace):
        method("m")
    assert out.getvalue().splitlines() == [
        "[\x1b[32mINF\x1b[0m] m",
        "[\x1b[36mDBG\x1b[0m] m",
        "[\x1b[0;93mWRN\x1b[0m] m",
        "[\x1b[31mERR\x1b[0m] m",
        "[\x1b[31mFTL\x1b[0m] m",
        "[\x1b[33mTRC\x1b[0m] m",
    ]


def test_time_and_pid_prefixes(capsys: pytest.CaptureFixture[str]) -> None:
    plain(time=True, pid=True).info("hello")
    line = capsys.readouterr().err
    assert re.fullmatch(rf"\[{os.getpid()}\] {STAMP}\[INF\] hello\n", line), line
    plain(time=True).info("x")
    assert re.fullmatch(rf"{STAMP}\[INF\] x\n", capsys.readouterr().err)
    plain(pid=True).error("y")
    assert capsys.readouterr().err == f"[{os.getpid()}] [ERR] y\n"


def test_defaults_have_time_and_colors_on_a_terminal_only(capsys: pytest.CaptureFixture[str]) -> None:
    out = Terminal()
    lg = Logger(stream=out)
    assert not lg.debug_enabled and not lg.trace_enabled
    lg.info("x")
    lg.debug("hidden")
    lg.trace("hidden")
    assert re.fullmatch(rf"{STAMP}\[\x1b\[32mINF\x1b\[0m\] x\n", out.getvalue())
    Logger().info("y")  # stderr is no terminal here (a file, a pipe, journald): no colour codes
    assert re.fullmatch(rf"{STAMP}\[INF\] y\n", capsys.readouterr().err)


def test_level_gating_and_reconfigure(capsys: pytest.CaptureFixture[str]) -> None:
    lg = plain()
    lg.debug("d1")
    lg.trace("t1")
    lg.configure(LoggingSettings(time=False, colors=False, debug=True))
    assert lg.debug_enabled and not lg.trace_enabled
    lg.debug("d2")
    lg.trace("t2")
    lg.configure(LoggingSettings(time=False, colors=False, trace=True))
    assert lg.trace_enabled and not lg.debug_enabled
    lg.debug("d3")
    lg.trace("t3")
    assert capsys.readouterr().err == "[DBG] d2\n[TRC] t3\n"


def test_one_write_per_line() -> None:
    class Recorder(io.StringIO):
        writes: list[str]

        def write(self, s: str) -> int:
            self.writes.append(s)
            return len(s)

    stream = Recorder()
    stream.writes = []
    lg = Logger(LoggingSettings(pid=True), stream=stream)
    lg.warn("a b c")
    assert len(stream.writes) == 1 and stream.writes[0].endswith("] a b c\n")


class Recorder(io.StringIO):
    """Keeps each write call apart."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, s: str) -> int:
        self.writes.append(s)
        return len(s)


async def test_loop_lines_are_gathered_per_iteration() -> None:
    """On the server's loop, INF/DBG/TRC lines wait for the end of the iteration and go out in one
    write; a warning or error is written at once, after them (the order of the calls is kept)."""
    stream = Recorder()
    lg = Logger(LoggingSettings(colors=False, time=False, debug=True, trace=True), stream=stream)
    lg.gather_on(asyncio.get_running_loop())
    try:
        lg.info("one")
        lg.debug("two")
        assert stream.writes == []
        await asyncio.sleep(0)
        assert stream.writes == ["[INF] one\n[DBG] two\n"]
        lg.trace("three")
        lg.error("four")
        assert stream.writes[1:] == ["[TRC] three\n[ERR] four\n"]
        lg.info("five")
        await asyncio.to_thread(lg.info, "six")  # another thread: its line waits for nobody
        assert stream.writes[2:] == ["[INF] five\n[INF] six\n"]
        lg.info("seven")
    finally:
        lg.gather_off()
    assert stream.writes[3:] == ["[INF] seven\n"]
    lg.info("eight")  # off again: written at once
    assert stream.writes[4:] == ["[INF] eight\n"]


def test_gathered_lines_are_written_at_exit() -> None:
    """A loop that ends without gather_off (a crash) still leaves its last lines: flush runs at exit."""
    stream = Recorder()
    lg = Logger(LoggingSettings(colors=False, time=False), stream=stream)

    async def main() -> None:
        lg.gather_on(asyncio.get_running_loop())
        lg.info("last words")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        asyncio.run(main())
    assert stream.writes == [] or stream.writes == ["[INF] last words\n"]
    lg.flush()  # what atexit calls
    assert "".join(stream.writes) == "[INF] last words\n"
    lg.gather_off()


def test_a_closed_loop_stops_the_gathering() -> None:
    """Lines logged after the loop closed (without gather_off) are written at once, not lost."""
    stream = Recorder()
    lg = Logger(LoggingSettings(colors=False, time=False), stream=stream)
    loop = asyncio.new_event_loop()
    lg.gather_on(loop)
    loop.close()
    lg.info("after the loop")
    lg.info("and again")
    assert stream.writes == ["[INF] after the loop\n", "[INF] and again\n"]
    lg.gather_off()


def test_broken_stream_is_ignored() -> None:
    stream = io.StringIO()
    stream.close()
    Logger(stream=stream).error("nobody listens")


def test_module_logger_follows_current_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    log.info("global")
    assert capsys.readouterr().err.endswith("] global\n")


def test_short_key() -> None:
    assert short_key("ACATS5YOVB6ROX2WUNKGNQ2MP3GMXDMKSG2O4N5CLX3A6W4PZGZZIL2R") == "ACATS5YOVB6R"
    assert short_key("short") == "short"


def test_untrusted_values_and_lines_are_bounded(capsys: pytest.CaptureFixture[str]) -> None:
    """A value is cut at 256 characters and a message at 16 KiB, each cut marked; short ones are
    unchanged, and a deliberate multi-line block is never cut."""
    from nats_account_server.log import MAX_LINE, MAX_VALUE, bounded

    assert bounded("a.b") == "a.b"
    cut = bounded("x" * 1000)
    assert cut.startswith("x" * MAX_VALUE) and cut.endswith(f"...[{1000 - MAX_VALUE} more characters]")
    logger = Logger(LoggingSettings(time=False, colors=False))
    logger.info("y" * (MAX_LINE + 10))
    line = capsys.readouterr().err
    assert line.startswith("[INF] " + "y" * 100) and line.endswith("...[10 more characters]\n")
    logger.info("z" * (MAX_LINE + 10), block=True)
    assert len(capsys.readouterr().err) > MAX_LINE + 10


# ---------------------------------------------------------------------------- JSON lines

RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})")


def json_logger(stream: io.StringIO | None = None, **kw: Any) -> Logger:
    return Logger(LoggingSettings(**{"format": "json", **kw}), stream=stream)


def one_object(line: str) -> dict[str, Any]:
    """``line`` is exactly one line holding one JSON object."""
    assert line.endswith("\n") and line.count("\n") == 1, repr(line)
    value = json.loads(line)
    assert isinstance(value, dict)
    return value


def test_json_lines_carry_time_level_pid_and_message() -> None:
    lg = json_logger(pid=True, debug=True, trace=True)
    for level in ("INF", "WRN", "ERR", "FTL", "DBG", "TRC"):
        line = lg.format(level, "hello")
        assert list(one_object(line)) == ["time", "level", "pid", "msg"]
        assert one_object(line)["level"] == level and one_object(line)["msg"] == "hello"
    entry = one_object(lg.format("INF", "x"))
    assert entry["pid"] == os.getpid() and RFC3339.fullmatch(entry["time"]), entry
    stamp = dt.datetime.fromisoformat(entry["time"])
    assert abs(stamp - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)
    assert stamp.utcoffset() == dt.datetime.now().astimezone().utcoffset()  # local time, its offset
    assert one_object(json_logger(time=False).format("WRN", "w")) == {"level": "WRN", "msg": "w"}


@pytest.mark.skipif(not hasattr(time, "tzset"), reason="time.tzset is POSIX only")
@pytest.mark.parametrize(("tz", "offset"), [("UTC0", "Z"), ("EST+5", "-05:00"), ("IST-5:30", "+05:30")])
def test_json_time_is_local_with_its_offset(monkeypatch: pytest.MonkeyPatch, tz: str, offset: str) -> None:
    monkeypatch.setenv("TZ", tz)
    time.tzset()
    try:
        stamp = one_object(json_logger().format("INF", "x"))["time"]
    finally:
        monkeypatch.undo()
        time.tzset()
    assert stamp.endswith(offset) and RFC3339.fullmatch(stamp), stamp
    local = dt.datetime.fromisoformat(stamp)
    assert abs(local - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "Z"), (3600, "+01:00"), (-16200, "-04:30"), (19800, "+05:30"), (-36000, "-10:00")],
)
def test_json_time_offsets(seconds: int, shown: str) -> None:
    from nats_account_server.log import _utc_offset

    assert _utc_offset(seconds) == shown


def test_json_messages_stay_one_line_whatever_they_hold() -> None:
    """Newlines, control characters, quotes, a forged second object, lone surrogates and line
    separators are escaped as in a text line: the message is the text line's message."""
    text = 'a\nb\r\x1b[31mred\x00 "q" \\ \u2028\x85 \udc80 é 🦆"}\n{"level":"ERR","msg":"forged'
    lg, plain_lg = json_logger(time=False), plain()
    entry = one_object(lg.format("INF", text))
    assert entry["msg"] == plain_lg.format("INF", text).removeprefix("[INF] ").removesuffix("\n")
    assert "\n" not in entry["msg"] and "\x1b" not in entry["msg"] and "🦆" in entry["msg"]
    huge = one_object(lg.format("INF", "y" * (MAX_LINE + 10)))["msg"]
    assert len(huge) < MAX_LINE + 100 and huge.endswith("...[10 more characters]")


def test_json_block_entries_keep_their_newlines_inside_the_string() -> None:
    dump = json.dumps({"HTTP": {"Port": 9090}, "Bad": "\x1b"}, indent=2)
    line = json_logger().format("INF", dump, block=True)
    msg = one_object(line)["msg"]
    assert msg.count("\n") == dump.count("\n") > 0
    assert json.loads(msg) == {"HTTP": {"Port": 9090}, "Bad": "\x1b"}  # json.dumps escaped it already


def test_json_lines_are_never_coloured() -> None:
    out = Terminal()
    lg = json_logger(out, colors="always")
    lg.warn("w")
    lg.error("e")
    assert "\x1b" not in out.getvalue()
    assert [one_object(x + "\n")["level"] for x in out.getvalue().splitlines()] == ["WRN", "ERR"]


def test_colours_forced_on_or_off() -> None:
    """``colors: always`` colours a file or pipe too; ``false`` never colours, not even a terminal."""
    pipe = io.StringIO()
    Logger(LoggingSettings(time=False, colors="always"), stream=pipe).info("m")
    assert pipe.getvalue() == "[\x1b[32mINF\x1b[0m] m\n"
    out = Terminal()
    Logger(LoggingSettings(time=False, colors=False), stream=out).info("m")
    assert out.getvalue() == "[INF] m\n"


def test_reconfigure_between_formats_keeps_the_text_lines_as_they_were() -> None:
    lg = plain(pid=True)
    before = lg.format("INF", "same")
    lg.configure(LoggingSettings(format="json", time=False))
    assert one_object(lg.format("INF", "same"))["msg"] == "same"
    lg.configure(LoggingSettings(colors=False, time=False, pid=True))
    assert lg.format("INF", "same") == before == f"[{os.getpid()}] [INF] same\n"


def test_the_server_logs_json_lines(tmp_path: Path) -> None:
    """With ``format: json`` every stderr line of a real server is one JSON object: startup, a
    request (trace), the -dump block, a warning and shutdown."""
    text = "logging { format: json, pid: true, trace: true }\nbogus: 1\n"
    with start_server("-dump", config_text=text, tmp_path=tmp_path) as proc:
        assert httpx.get(proc.url + "/jwt/v1/accounts/%0A%1B[31mforged").status_code in (400, 404)
        proc.wait_for_line('"level":"TRC"')
        proc.wait_for_line('\\"Format\\": \\"json\\"')
        proc.stop()
    entries = [json.loads(line) for line in proc.raw_stderr_lines]
    assert entries and all(isinstance(e, dict) and e["pid"] == proc.pid for e in entries)
    assert all(RFC3339.fullmatch(e["time"]) and e["level"] in ("INF", "WRN", "TRC") for e in entries)
    assert any(e["level"] == "WRN" and 'unknown key "bogus"' in e["msg"] for e in entries)
    assert any(e["msg"].startswith("received sig-terminate") for e in entries)
    dump = next(e["msg"] for e in entries if e["msg"].startswith("{"))
    assert json.loads(dump)["Logging"]["Format"] == "json"
    assert not any("\x1b" in line for line in proc.raw_stderr_lines)
