"""Command-line flags: Go syntax, precedence over the config file, -hp, path expansion."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nats_account_server.cli import main
from nats_account_server.config import ConfigError
from nats_account_server.flags import (
    Flags,
    HelpRequested,
    UsageError,
    build_settings,
    expand_path,
    parse_flags,
    split_hostport,
    usage,
)
from tests.support.cliflags import FLAGS


def run_main(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from nats_account_server.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize(
    "argv",
    [
        ["-c", "x.conf"],
        ["--c", "x.conf"],
        ["-c=x.conf"],
        ["--c=x.conf"],
    ],
)
def test_string_flag_syntax(argv: list[str]) -> None:
    assert parse_flags(argv).config == "x.conf"


def test_value_may_start_with_dash_or_contain_equals() -> None:
    assert parse_flags(["-c", "-D"]) == Flags(config="-D")
    assert parse_flags(["-primary=http://h/?a=b"]).primary == "http://h/?a=b"
    assert parse_flags(["-c="]).config == ""


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["-D"], True),
        (["--D"], True),
        (["-D=true"], True),
        (["-D=1"], True),
        (["-D=T"], True),
        (["-D=false"], False),
        (["-D=0"], False),
        (["-D", "-D=False"], False),
    ],
)
def test_bool_flag_syntax(argv: list[str], expected: bool) -> None:
    assert parse_flags(argv).debug is expected


def test_all_flags() -> None:
    flags = parse_flags(
        [
            "-c",
            "a",
            "-nsc",
            "b",
            "-dir",
            "c",
            "-ro",
            "-operator",
            "d",
            "-nats",
            "e",
            "-creds",
            "f",
            "-primary",
            "g",
            "-hp",
            "h:1",
            "-D",
            "-V",
            "-DV",
            "-dump",
        ]
    )
    assert flags == Flags(
        config="a",
        nsc="b",
        dir="c",
        readonly=True,
        operator="d",
        nats="e",
        creds="f",
        primary="g",
        hostport="h:1",
        debug=True,
        verbose=True,
        debug_verbose=True,
        dump=True,
    )


def test_positional_arguments_stop_parsing() -> None:
    assert parse_flags(["-D", "extra", "-bogus"]) == Flags(debug=True)
    assert parse_flags(["--", "-bogus"]) == Flags()
    assert parse_flags(["-", "-bogus"]) == Flags()
    assert parse_flags(["-D", "false"]).debug is True  # Go: a bool flag never takes the next argument


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-bogus"], "flag provided but not defined: -bogus"),
        (["--bogus=1"], "flag provided but not defined: -bogus"),
        (["-c"], "flag needs an argument: -c"),
        (["-D=maybe"], 'invalid boolean value "maybe" for -D: parse error'),
        (["---c", "x"], "bad flag syntax: ---c"),
        (["-=x"], "bad flag syntax: -=x"),
    ],
)
def test_usage_errors(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_flags(argv)
    assert str(info.value) == message


@pytest.mark.parametrize("argv", [["-h"], ["-help"], ["--help"], ["-D", "-h", "-bogus"]])
def test_help(argv: list[str]) -> None:
    with pytest.raises(HelpRequested):
        parse_flags(argv)


def test_usage_lists_every_flag() -> None:
    text = usage()
    for flag in FLAGS:
        assert any(f"  {flag}{end}" in text for end in (" ", "\t", "\n", ",")), flag


def test_main_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-h"]) == 0
    err = capsys.readouterr().err
    assert "Usage of nats-account-server" in err and "-hp" in err
    assert main(["-bogus"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("flag provided but not defined: -bogus\n") and "-dump" in err


def test_main_exit_codes_in_a_process(tmp_path: Path) -> None:
    shown = run_main("-h")
    assert shown.returncode == 0 and "-operator" in shown.stderr
    bad = run_main("-D=maybe")
    assert bad.returncode == 2 and "invalid boolean value" in bad.stderr
    tilde = run_main("-c", "~nosuchuser/x.conf")
    assert tilde.returncode == 1 and "~nosuchuser" in tilde.stderr


def write_conf(tmp_path: Path, text: str) -> str:
    path = tmp_path / "server.conf"
    path.write_text(text)
    return str(path)


def test_no_flags_gives_defaults() -> None:
    s = build_settings(Flags())
    assert (s.http.host, s.http.port, s.store.dir, s.store.nsc) == ("localhost", 9090, "", "")


def test_flags_override_file(tmp_path: Path) -> None:
    conf = write_conf(
        tmp_path,
        """
operatorjwtpath: /file/op.jwt
primary: http://file:9090/
http { host: 0.0.0.0, port: 1111, readtimeout: 1234 }
nats { servers: [nats://a:1, nats://b:2], usercredentials: /file.creds, reconnectwait: 7 }
""",
    )
    s = build_settings(
        Flags(
            config=conf,
            hostport="127.0.0.1:2222",
            nats="nats://c:3",
            creds="/flag.creds",
            operator="/flag/op.jwt",
            primary="http://flag:1/",
        )
    )
    assert (s.http.host, s.http.port, s.http.readtimeout) == ("127.0.0.1", 2222, 1234)
    assert s.nats.servers == ["nats://c:3"] and s.nats.usercredentials == "/flag.creds"
    assert s.nats.reconnectwait == 7
    assert s.operatorjwtpath == "/flag/op.jwt" and s.primary == "http://flag:1/"
    file_only = build_settings(Flags(config=conf))
    assert (file_only.http.port, file_only.nats.servers) == (1111, ["nats://a:1", "nats://b:2"])


def nsc_operator_folder(path: Path) -> Path:
    """What ``-nsc`` checks a folder for (its ``.nsc`` file and ``<basename>.jwt``), nothing more."""
    path.mkdir(parents=True)
    (path / ".nsc").write_text("{}")
    (path / f"{path.name}.jwt").write_text("not read here")
    return path


def test_nsc_replaces_store_and_sets_operator(tmp_path: Path) -> None:
    conf = write_conf(tmp_path, "operatorjwtpath: /x.jwt\nstore { dir: /d, shard: true, readonly: true }")
    op_dir = nsc_operator_folder(tmp_path / "nsc" / "nats" / "Test")
    s = build_settings(Flags(config=conf, nsc=str(op_dir) + "/"))
    assert (s.store.nsc, s.store.dir, s.store.shard, s.store.readonly) == (str(op_dir), "", False, False)
    assert s.operatorjwtpath == str(op_dir / "Test.jwt")
    assert build_settings(Flags(nsc=str(op_dir), operator="/o.jwt")).operatorjwtpath == "/o.jwt"


def test_dir_replaces_dir_nsc_readonly_but_keeps_shard(tmp_path: Path) -> None:
    conf = write_conf(tmp_path, "store { nsc: /n, shard: true, readonly: true, cleanupinterval: 60000 }")
    s = build_settings(Flags(config=conf, dir=str(tmp_path / "jwts")))
    assert (s.store.dir, s.store.nsc, s.store.readonly) == (str(tmp_path / "jwts"), "", False)
    assert (s.store.shard, s.store.cleanupinterval) == (True, 60000)
    ro = build_settings(Flags(dir=str(tmp_path), readonly=True))
    assert ro.store.readonly is True
    assert build_settings(Flags(readonly=True)).store.readonly is False  # -ro without -dir: no effect


def test_dir_flag_overrides_a_kv_store_of_the_file_with_a_warning(tmp_path: Path) -> None:
    """Flags win over the file: -dir replaces the file's KV store by a directory store, and says so."""
    conf = write_conf(tmp_path, 'store { shard: true, kv { bucket: "jwts", servers: "nats://n1:4222" } }')
    s = build_settings(Flags(config=conf, dir=str(tmp_path / "jwts")))
    assert (s.store.dir, s.store.shard, s.store.kv.enabled) == (str(tmp_path / "jwts"), True, False)
    assert s.warnings == [
        "flag -dir overrides the KV store of the configuration file (bucket jwts): serving a directory store"
    ]
    assert build_settings(Flags(config=conf)).store.kv.enabled  # without the flag: the file's store
    assert build_settings(Flags(config=conf)).warnings == []


def test_dir_flag_with_a_kv_file_serves_the_directory(tmp_path: Path) -> None:
    """The real command line: the server starts on the directory (no KV connection is tried: the
    file's KV server does not exist) and logs the override as a warning."""
    from tests.support.procs import start_server

    store = tmp_path / "jwts"
    store.mkdir()
    text = 'store { kv { servers: "nats://127.0.0.1:1" } }\n'
    proc = start_server("-dir", str(store), config_text=text, tmp_path=tmp_path, timeout=20)
    try:
        assert proc.find_lines("[WRN] flag -dir overrides the KV store of the configuration file")
        assert proc.find_lines(f"store at {store}") or proc.find_lines(str(store))
        assert not proc.find_lines("KV store connected") and not proc.find_lines("JetStream KV")
    finally:
        proc.stop(timeout=5)


def test_nsc_and_dir_mutually_exclusive(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="-nsc and -dir are mutually exclusive"):
        build_settings(Flags(nsc=str(tmp_path), dir=str(tmp_path)))


def test_logging_flags_only_turn_on(tmp_path: Path) -> None:
    conf = write_conf(tmp_path, "logging { debug: true, trace: true }")
    s = build_settings(Flags(config=conf))
    assert s.logging.debug and s.logging.trace
    debug = build_settings(Flags(debug=True)).logging
    assert (debug.debug, debug.trace) == (True, False)
    verbose = build_settings(Flags(verbose=True)).logging
    assert (verbose.debug, verbose.trace) == (False, True)
    both = build_settings(Flags(debug_verbose=True)).logging
    assert both.debug and both.trace


@pytest.mark.parametrize(
    ("hp", "host", "port"),
    [
        ("127.0.0.1:9091", "127.0.0.1", 9091),
        (":9090", "", 9090),
        ("[::1]:80", "::1", 80),
        ("localhost:0", "localhost", 0),
        ("[fe80::1%eth0]:1", "fe80::1%eth0", 1),
    ],
)
def test_hostport(hp: str, host: str, port: int) -> None:
    assert split_hostport(hp) == (host, port)
    s = build_settings(Flags(hostport=hp))
    assert (s.http.host, s.http.port) == (host, port)


@pytest.mark.parametrize(
    ("hp", "message"),
    [
        ("127.0.0.1", "error parsing hostport: address 127.0.0.1: missing port in address"),
        ("127.0.0.1:blam", 'error parsing hostport: strconv.Atoi: parsing "blam": invalid syntax'),
        ("127.0.0.1:", 'error parsing hostport: strconv.Atoi: parsing "": invalid syntax'),
        ("::1:80", "error parsing hostport: address ::1:80: too many colons in address"),
        ("[::1]", "error parsing hostport: address [::1]: missing port in address"),
        ("[::1:80", "error parsing hostport: address [::1:80: missing ']' in address"),
        ("127.0.0.1:70000", "error parsing hostport: port 70000 out of range"),
    ],
)
def test_hostport_errors(hp: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_settings(Flags(hostport=hp))
    assert str(info.value) == message


def test_path_expansion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    assert expand_path("~") == str(home)
    assert expand_path("~/") == str(home)
    assert expand_path("~/.nsc/nats/Test/") == str(home / ".nsc/nats/Test")
    assert expand_path("rel/./a/../b") == str(tmp_path / "rel" / "b")
    assert expand_path("/abs//x/") == "/abs/x"
    assert expand_path("") == ""
    with pytest.raises(ConfigError, match="~someone"):
        expand_path("~someone/x")


def test_flag_paths_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / "etc").mkdir(parents=True)
    (home / "etc" / "s.conf").write_text("http { port: 1 }")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    s = build_settings(
        Flags(
            config="~/etc/s.conf",
            dir="jwts",
            creds="~/sys.creds",
            operator="./op.jwt",
        )
    )
    assert s.http.port == 1
    assert s.store.dir == str(tmp_path / "jwts")
    assert s.nats.usercredentials == str(home / "sys.creds")
    assert s.operatorjwtpath == str(tmp_path / "op.jwt")
    # URL flags are not paths: never expanded (and a "~/..." is no URL, refused as it was given)
    for flags in (Flags(nats="~/not-a-path"), Flags(primary="~/not-a-path")):
        with pytest.raises(ConfigError, match="~/not-a-path"):
            build_settings(flags)
    nsc_operator_folder(home / ".nsc" / "nats" / "Test")
    nsc = build_settings(Flags(nsc="~/.nsc/nats/Test"))
    assert nsc.store.nsc == str(home / ".nsc/nats/Test")
    assert nsc.operatorjwtpath == str(home / ".nsc/nats/Test/Test.jwt")


def test_tilde_user_is_a_config_error() -> None:
    for flags in (
        Flags(config="~root/x"),
        Flags(dir="~x"),
        Flags(nsc="~y/z"),
        Flags(creds="~u"),
        Flags(operator="~o/op.jwt"),
    ):
        with pytest.raises(ConfigError):
            build_settings(flags)


def test_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing.conf"):
        build_settings(Flags(config=str(tmp_path / "missing.conf")))
    with pytest.raises(ConfigError, match="Parse error on line"):
        build_settings(Flags(config=write_conf(tmp_path, "http {")))
    with pytest.raises(ConfigError, match="dir and nsc are mutually exclusive"):
        build_settings(Flags(config=write_conf(tmp_path, "store { dir: a, nsc: b }")))


def test_relative_config_path_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.conf").write_text("http { port: 4321 }")
    monkeypatch.chdir(tmp_path)
    assert build_settings(Flags(config="a.conf")).http.port == 4321
