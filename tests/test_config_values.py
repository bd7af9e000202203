"""Out-of-range configuration values, end to end: exit status 1 with the key and line on stderr,
or (quoted booleans that are neither "true" nor "false") a [WRN] line and a normal start."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.procs import start_server


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("# listen\nhttp {\n  port: 70000\n}\n", 3, "http.port 70000 is out of range (0-65535)"),
        ("http {\n  readtimeout: -1\n}\n", 2, "http.readtimeout -1 is out of range"),
        ("\nmaxbodysize: -1\n", 2, "maxbodysize -1 is out of range (1 or more)"),
        ("cachesize: -5\n", 1, "cachesize -5 is out of range (0 or more)"),
        ('# replica\n\nprimary: "not a url"\n', 3, 'primary "not a url" is not an http:// or https:// URL'),
        ('nats {\n  servers: ["::::"]\n}\n', 2, 'nats.servers entry "::::" is not a NATS server URL'),
    ],
)
def test_bad_value_exits_1_naming_key_and_line(tmp_path: Path, text: str, line: int, problem: str) -> None:
    # -hp 127.0.0.1:0 even with an http section: a server that wrongly starts must not take 9090
    proc = start_server(config_text=text, tmp_path=tmp_path, default_hp=True, ready=False)
    assert proc.wait() == 1, proc.describe()
    err = proc.stderr_text()
    assert f"[ERR] configuration error in {tmp_path / 'server.conf'} line {line}: {problem}" in err, err
    assert "nats-account-server is running" not in err


def test_bad_url_flag_exits_1_naming_the_flag(tmp_path: Path) -> None:
    proc = start_server("-primary", "not a url", tmp_path=tmp_path, ready=False)
    assert proc.wait() == 1, proc.describe()
    assert '[ERR] configuration error in flag -primary: primary "not a url"' in proc.stderr_text()


def test_quoted_non_booleans_are_warned_about_and_the_server_starts(tmp_path: Path) -> None:
    text = 'store {\n  shard: "maybe"\n}\nlogging {\n  colors: false\n  debug: "very"\n}\n'
    with start_server("-dump", config_text=text, tmp_path=tmp_path) as proc:
        conf = tmp_path / "server.conf"
        proc.wait_for_line('"Debug": false')  # "maybe" and "very" mean false, as they always did
        proc.wait_for_line('"Shard": false')
        shard = proc.find_lines(f'[WRN] configuration warning in {conf} line 2: store.shard "maybe"')
        debug = proc.find_lines(f'[WRN] configuration warning in {conf} line 6: logging.debug "very"')
        assert len(shard) == 1 and len(debug) == 1, proc.describe()
        assert "\x1b[" not in "".join(proc.raw_stderr_lines)  # written in the file's format
