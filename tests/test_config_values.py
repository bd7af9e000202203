"""Out-of-range configuration values, end to end: exit status 1 with the key and line on stderr,
or (quoted booleans that are neither "true" nor "false", unknown keys) a [WRN] line and a normal
start; a reload and `-t` report the same warnings."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
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


MISSPELLED = "# listen where -hp says\nlogging { colors: false }\n\nhtttp { port: 9090 }\nstore { dri: /x }\n"


def test_unknown_keys_are_warned_about_and_the_server_serves(tmp_path: Path) -> None:
    with start_server(config_text=MISSPELLED, tmp_path=tmp_path, default_hp=True) as proc:
        at = f"[WRN] configuration warning in {tmp_path / 'server.conf'}"
        found = proc.find_lines(f'{at} line 4: unknown key "htttp" is ignored; did you mean "http"?')
        found += proc.find_lines(
            f'{at} line 5: unknown key "store.dri" is ignored; did you mean "store.dir"?'
        )
        assert len(found) == 2, proc.describe()
        assert httpx.get(proc.url + "/healthz").status_code == 200


def test_a_reload_warns_about_unknown_keys_and_takes_the_file(tmp_path: Path) -> None:
    with start_server(config_text="logging { colors: false }\n", tmp_path=tmp_path) as proc:
        mark = proc.mark()
        (tmp_path / "server.conf").write_text("logging { colors: false, tracee: true }\n")
        proc.send_signal(signal.SIGHUP)
        proc.wait_ready(since=mark)
        line = proc.wait_for_line('unknown key "logging.tracee" is ignored', since=mark)
        assert "[WRN] configuration warning in " in line and " line 1: " in line
        assert httpx.get(proc.url + "/healthz").status_code == 200


def test_dash_t_prints_the_warnings_and_still_passes(tmp_path: Path) -> None:
    conf = tmp_path / "server.conf"
    conf.write_text(MISSPELLED)
    done = subprocess.run(
        [sys.executable, "-m", "nats_account_server", "-t", "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=20,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"nats-account-server: configuration file {conf} is valid\n"
    assert done.stderr.splitlines() == [
        f"nats-account-server: configuration warning in {conf} line 4: "
        'unknown key "htttp" is ignored; did you mean "http"?',
        f"nats-account-server: configuration warning in {conf} line 5: "
        'unknown key "store.dri" is ignored; did you mean "store.dir"?',
    ]
