"""Mapping a config file onto settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nats_account_server.config import (
    ConfigError,
    HTTPSettings,
    LoggingSettings,
    Settings,
    StoreSettings,
    canonical_name,
    keyed,
    load_settings,
    settings_from_tree,
    settings_to_dump,
    validate_settings,
)
from nats_account_server.configvalues import MAX_DURATION, go_value
from nats_account_server.flags import Flags, build_settings
from nats_account_server.records import is_record
from tests.support.config_example import CONFIG_EXAMPLE
from tests.support.procs import strip_ansi


def load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "server.conf"
    path.write_text(text, encoding="utf-8")
    return load_settings(path)


def load_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    return str(info.value)


def test_defaults(tmp_path: Path) -> None:
    for s in (Settings(), load(tmp_path, ""), settings_from_tree({})):
        assert (s.operatorjwtpath, s.systemaccountjwtpath, s.primary) == ("", "", "")
        assert (s.replicationtimeout, s.maxreplicationpack) == (5000, 10000)
        assert (s.signrequestsubject, s.signrequesttimeout, s.maxbodysize) == ("", 1000, 1048576)
        http = s.http
        assert (http.host, http.port, http.readtimeout, http.writetimeout) == ("localhost", 9090, 5000, 5000)
        assert (s.http.tls.cert, s.http.tls.key, s.http.tls.root) == ("", "", "")
        assert s.nats.servers == [] and s.nats.usercredentials == ""
        assert (s.nats.connecttimeout, s.nats.reconnectwait, s.nats.maxreconnects) == (5000, 1000, -1)
        assert (s.nats.tls.root, s.nats.tls.cert, s.nats.tls.key) == ("", "", "")
        assert s.nats.syncinterval == 0 and s.nats.sync_interval_ms == 1000
        assert s.store == StoreSettings(dir="", nsc="", readonly=False, shard=False, cleanupinterval=0)
        lg = s.logging
        assert (lg.time, lg.debug, lg.trace, lg.colors, lg.pid) == (True, False, False, True, False)


def test_defaults_are_not_shared() -> None:
    a, b = Settings(), Settings()
    a.nats.servers.append("nats://x")
    a.http.port = 1
    assert b.nats.servers == [] and b.http.port == 9090


def test_config_example(tmp_path: Path) -> None:
    s = load(tmp_path, CONFIG_EXAMPLE)
    assert s.operatorjwtpath == "/etc/nats/op/OP.jwt"
    assert s.systemaccountjwtpath == "/etc/nats/op/accounts/SYS/SYS.jwt"
    assert (s.http.host, s.http.port, s.http.readtimeout) == ("0.0.0.0", 9090, 2000)
    assert s.http.writetimeout == 5000
    assert (s.store.dir, s.store.shard, s.store.readonly) == ("/var/lib/nas", True, False)
    assert (s.logging.pid, s.logging.colors, s.logging.time) == (True, False, True)
    assert s.nats.servers == ["nats://127.0.0.1:4222", "tls://nats2:4222"]
    assert s.nats.usercredentials == "/etc/nats/sys.creds"
    assert (s.nats.reconnectwait, s.nats.connecttimeout, s.nats.sync_interval_ms) == (2000, 5000, 2000)


@pytest.mark.parametrize("key", ["OperatorJWTPath", "operatorjwtpath", "OPERATORJWTPATH", "operatorJwtPath"])
def test_keys_case_insensitive(tmp_path: Path, key: str) -> None:
    assert load(tmp_path, f"{key}: /op.jwt").operatorjwtpath == "/op.jwt"


def test_nested_keys_case_insensitive(tmp_path: Path) -> None:
    s = load(
        tmp_path,
        "HTTP { PORT: 1, readTIMEOUT: 2, tls { CERT: c } }\nSTORE { nsc: /n }\nLogging { Pid: true }",
    )
    assert (s.http.port, s.http.readtimeout, s.http.tls.cert) == (1, 2, "c")
    assert s.store.nsc == "/n" and s.logging.pid is True


def test_canonical_spelling_wins_then_lower_case() -> None:
    tree = {"OPERATORJWTPATH": "other", "operatorjwtpath": "lower", "OperatorJWTPath": "canonical"}
    assert settings_from_tree(tree).operatorjwtpath == "canonical"
    del tree["OperatorJWTPath"]
    assert settings_from_tree(tree).operatorjwtpath == "lower"
    del tree["operatorjwtpath"]
    assert settings_from_tree(tree).operatorjwtpath == "other"


def test_underscores_and_unknown_keys_ignored(tmp_path: Path) -> None:
    s = load(
        tmp_path,
        """
operator_jwt_path: /x
bogus: 1
http { nothing: here, port: 1234, deep { a: [1, 2] } }
extra { port: 1 }
nats { tls { whatever: 5, root: /ca.pem } }
""",
    )
    assert s.operatorjwtpath == "" and s.http.port == 1234 and s.nats.tls.root == "/ca.pem"


def test_section_only_overrides_present_keys(tmp_path: Path) -> None:
    s = load(tmp_path, "http { port: 8080 }\nnats { maxreconnects: 3 }\nlogging { debug: true }")
    assert s.http == HTTPSettings(port=8080)
    assert (s.nats.connecttimeout, s.nats.reconnectwait, s.nats.maxreconnects) == (5000, 1000, 3)
    assert (s.logging.time, s.logging.colors, s.logging.debug) == (True, True, True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("yes", True),
        ("on", True),
        ("false", False),
        ("off", False),
        ("No", False),
        ('"true"', True),
        ('"TrUe"', True),
        ('"yes"', False),
        ('"1"', False),
        ('""', False),
    ],
)
def test_bool_coercion(tmp_path: Path, value: str, expected: bool) -> None:
    assert load(tmp_path, f"store {{ shard: {value} }}").store.shard is expected


def test_bool_rejects_other_types(tmp_path: Path) -> None:
    assert load_error(tmp_path, "store { shard: 32 }") == "error parsing Shard option 32"
    assert load_error(tmp_path, "logging { time: [true] }") == "error parsing Time option [true]"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5000", 5000),
        ('"5000"', 5000),
        ("-1", -1),
        ('"-7"', -7),
        ('"+3"', 3),
        ("2k", 2000),
        ("1kb", 1024),
        ("1m", 1000000),
        ("1mb", 1048576),
        ("0", 0),
    ],
)
def test_int_coercion(tmp_path: Path, value: str, expected: int) -> None:
    # maxreplicationpack takes any integer (negative = all), so only the coercion is tested here
    assert load(tmp_path, f"maxreplicationpack: {value}").maxreplicationpack == expected


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ('"a"', "a"),
        ("5.5", "5.5"),
        ("true", "true"),
        ("5s", "5s"),
        ('" 5"', " 5"),
        ('"1_000"', "1_000"),
        ("[1]", "[1]"),
        ('"99999999999999999999"', "99999999999999999999"),
    ],
)
def test_int_errors(tmp_path: Path, value: str, shown: str) -> None:
    message = load_error(tmp_path, f"http {{ port: {value} }}")
    assert message == f"unable to parse integer {shown} for key Port"


def test_top_level_int_error_names_key(tmp_path: Path) -> None:
    message = load_error(tmp_path, "replicationtimeout: 1.5")
    assert message == "unable to parse integer 1.5 for key ReplicationTimeout"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("systemaccountjwtpath: 23", "error parsing SystemAccountJWTPath option 23"),
        ("primary: yes", "error parsing Primary option true"),
        ("http { host: 1.5 }", "error parsing Host option 1.5"),
        ("nats { usercredentials: [a, b] }", "error parsing UserCredentials option [a b]"),
        ("store { dir: { x: 1 } }", "error parsing Dir option map[x:1]"),
        (
            "operatorjwtpath: 2019-05-10T11:22:41Z",
            "error parsing OperatorJWTPath option 2019-05-10 11:22:41 +0000 UTC",
        ),
    ],
)
def test_string_errors(tmp_path: Path, text: str, message: str) -> None:
    assert load_error(tmp_path, text) == message


def test_quoted_booleans_are_strings(tmp_path: Path) -> None:
    assert load(tmp_path, 'operatorjwtpath: "yes"').operatorjwtpath == "yes"


def test_servers_list_or_single_string(tmp_path: Path) -> None:
    assert load(tmp_path, "nats { servers: nats://a:4222 }").nats.servers == ["nats://a:4222"]
    assert load(tmp_path, 'nats { servers: ["nats://a:4222", nats://b:4222] }').nats.servers == [
        "nats://a:4222",
        "nats://b:4222",
    ]
    assert load(tmp_path, "nats { servers: [] }").nats.servers == []


def test_servers_errors(tmp_path: Path) -> None:
    assert load_error(tmp_path, "nats { servers: [a, 1] }") == (
        "error parsing Servers option [a 1], contents are not convertable"
    )
    assert load_error(tmp_path, "nats { servers: 5 }") == (
        "error parsing Servers option 5, single element is not convertable"
    )


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ('http: "x"', "HTTP"),
        ("nats: [1]", "NATS"),
        ("store: 1", "Store"),
        ("logging: true", "Logging"),
        ("http { tls: yes }", "TLS"),
        ("nats { TLS: cert }", "TLS"),
    ],
)
def test_section_must_be_a_map(tmp_path: Path, text: str, name: str) -> None:
    assert load_error(tmp_path, text) == f"struct field {name} doesn't have a matching map in the config file"


def test_all_keys_mapped(tmp_path: Path) -> None:
    s = load(
        tmp_path,
        """
OperatorJWTPath: /op.jwt, SystemAccountJWTPath: /sys.jwt, Primary: "http://p:9090/"
ReplicationTimeout: 1, MaxReplicationPack: 2, SignRequestSubject: sign.me, SignRequestTimeout: 3
MaxBodySize: 4, CacheSize: 11
HTTP { Host: "", Port: 0, ReadTimeout: 5, WriteTimeout: 6, TLS { Cert: c, Key: k, Root: r } }
NATS { Servers: [u], ConnectTimeout: 7, ReconnectWait: 8, MaxReconnects: 0, UserCredentials: /u.creds
       TLS { Root: R, Cert: C, Key: K }, SyncInterval: 9 }
Store { NSC: "", Dir: /d, ReadOnly: true, Shard: true, CleanupInterval: 10, allow_delete: true
        hard_delete: true }
Logging { Time: false, Debug: true, Trace: true, Colors: false, PID: true, Format: JSON }
""",
    )
    assert settings_to_dump(s) == {
        "OperatorJWTPath": "/op.jwt",
        "SystemAccountJWTPath": "/sys.jwt",
        "Primary": "http://p:9090/",
        "ReplicationTimeout": 1,
        "MaxReplicationPack": 2,
        "SignRequestSubject": "sign.me",
        "SignRequestTimeout": 3,
        "MaxBodySize": 4,
        "CacheSize": 11,
        "HTTP": {
            "Host": "",
            "Port": 0,
            "ReadTimeout": 5,
            "WriteTimeout": 6,
            "TLS": {"Cert": "c", "Key": "k", "Root": "r"},
        },
        "NATS": {
            "Servers": ["u"],
            "ConnectTimeout": 7,
            "ReconnectWait": 8,
            "MaxReconnects": 0,
            "UserCredentials": "/u.creds",
            "TLS": {"Root": "R", "Cert": "C", "Key": "K"},
            "SyncInterval": 9,
        },
        "Store": {
            "NSC": "",
            "Dir": "/d",
            "ReadOnly": True,
            "Shard": True,
            "CleanupInterval": 10,
            "KV": {
                "Bucket": "",
                "Replicas": 1,
                "History": 1,
                "Servers": [],
                "UserCredentials": "",
                "TLS": {"Root": "", "Cert": "", "Key": ""},
                "ConnectTimeout": 5000,
                "ReconnectWait": 250,
                "Timeout": 15000,
            },
            "Allow_Delete": True,
            "Hard_Delete": True,
        },
        "Logging": {
            "Time": False,
            "Debug": True,
            "Trace": True,
            "Colors": False,
            "PID": True,
            "Format": "json",
        },
    }
    assert s.nats.sync_interval_ms == 9
    assert s.warnings == []


def test_dump_is_json_and_detached() -> None:
    s = Settings()
    dump = settings_to_dump(s)
    json.dumps(dump)
    dump["NATS"]["Servers"].append("x")
    assert s.nats.servers == []


def test_every_field_has_a_canonical_name() -> None:
    def walk(obj: Any) -> None:
        for f in keyed(obj):
            assert f.metadata["name"][0].isupper()
            value = getattr(obj, f.name)
            if is_record(value):
                walk(value)

    walk(Settings())
    assert canonical_name(Settings, "operatorjwtpath") == "OperatorJWTPath"
    assert canonical_name(StoreSettings, "nsc") == "NSC"


def test_dir_and_nsc_mutually_exclusive(tmp_path: Path) -> None:
    assert load_error(tmp_path, "store { dir: /a, nsc: /b }") == "dir and nsc are mutually exclusive"
    assert load(tmp_path, 'store { dir: /a, nsc: "" }').store.dir == "/a"


def test_file_values_not_tilde_expanded(tmp_path: Path) -> None:
    assert load(tmp_path, "store { dir: ~/jwts }").store.dir == "~/jwts"


def test_parse_error_and_missing_file(tmp_path: Path) -> None:
    assert load_error(tmp_path, "http { port: 9090").startswith("Parse error on line")
    with pytest.raises(ConfigError, match="nope.conf"):
        load_settings(tmp_path / "nope.conf")


def test_variables_and_include(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "inc.conf").write_text("http { port: $PORT }\n")
    monkeypatch.setenv("PORT", "8181")
    s = load(tmp_path, "dir = /x\nstore { dir: $dir }\ninclude inc.conf\n")
    assert s.store.dir == "/x" and s.http.port == 8181


def test_go_value_rendering() -> None:
    assert [go_value(v) for v in (1e6, 123456.0, 0.00001, -2.5, 1.0, False)] == [
        "1e+06",
        "123456",
        "1e-05",
        "-2.5",
        "1",
        "false",
    ]


# --------------------------------------------------------------------- value ranges


def where(tmp_path: Path, line: int) -> str:
    return f"configuration error in {tmp_path / 'server.conf'} line {line}: "


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("http {\n  host: x\n  port: 70000\n}", 3, "http.port 70000 is out of range (0-65535)"),
        ("http { port: -1 }", 1, "http.port -1 is out of range (0-65535)"),
        ("\nhttp { readtimeout: -1 }", 2, "http.readtimeout -1 is out of range (0-2147483647)"),
        ("http { writetimeout: 2147483648 }", 1, "http.writetimeout 2147483648 is out of range"),
        ("replicationtimeout: -5", 1, "replicationtimeout -5 is out of range"),
        ("signrequesttimeout: -1", 1, "signrequesttimeout -1 is out of range"),
        ("nats {\n connecttimeout: -1 }", 2, "nats.connecttimeout -1 is out of range"),
        ("nats { reconnectwait: -1 }", 1, "nats.reconnectwait -1 is out of range"),
        ("nats { syncinterval: -1 }", 1, "nats.syncinterval -1 is out of range"),
        ("nats { maxreconnects: -2 }", 1, "nats.maxreconnects -2 is out of range (-1 or more)"),
        ("store { cleanupinterval: -1 }", 1, "store.cleanupinterval -1 is out of range"),
        ("store { kv { timeout: -1 } }", 1, "store.kv.timeout -1 is out of range"),
        ("store { kv { connecttimeout: -1 } }", 1, "store.kv.connecttimeout -1 is out of range"),
        ("store { kv { reconnectwait: -1 } }", 1, "store.kv.reconnectwait -1 is out of range"),
        ("store { kv { replicas: 0 } }", 1, "kv replicas must be between 1 and 5, not 0"),
        ("store { kv { history: 65 } }", 1, "kv history must be between 1 and 64, not 65"),
        ('store { kv { bucket: "a b" } }', 1, "invalid kv bucket name 'a b'"),
        ("maxbodysize: -1", 1, "maxbodysize -1 is out of range (1 or more)"),
        ("maxbodysize: 0", 1, "maxbodysize 0 is out of range (1 or more)"),
        ("a: 1\ncachesize: -5", 2, "cachesize -5 is out of range (0 or more)"),
        ('signrequestsubject: "a b"', 1, 'signrequestsubject "a b" is not a NATS subject'),
        ('signrequestsubject: "a.*"', 1, 'signrequestsubject "a.*" is not a NATS subject'),
        ('signrequestsubject: "a..b"', 1, 'signrequestsubject "a..b" is not a NATS subject'),
        ('primary: "not a url"', 1, 'primary "not a url" is not an http:// or https:// URL'),
        (
            'primary: "ftp://h:1"',
            1,
            'primary "ftp://h:1" is not an http:// or https:// URL: the scheme ftp://',
        ),
        ('primary: "h:1"', 1, 'primary "h:1" is not an http:// or https:// URL: the scheme h://'),
        ('primary: "/p"', 1, "it has no scheme"),
        ('primary: "http://"', 1, "it has no host"),
        ('primary: "http://h:0"', 1, "port 0 is out of range (1-65535)"),
        ('primary: "http://h:65536"', 1, "its port or IPv6 address does not parse"),
        ('primary: "http://h:x"', 1, "its port or IPv6 address does not parse"),
        ('primary: "http://a b:1"', 1, "'a b' is not a host name"),
        ('primary: "http://[zz]:1"', 1, "does not parse"),
        ('primary: "http://h:1/?x=1"', 1, "it must not have a query or fragment"),
        ('nats {\n  servers: ["::::"]\n}', 2, 'nats.servers entry "::::" is not a NATS server URL'),
        ('nats { servers: ["nats://a:1", "http://b:1"] }', 1, 'entry "http://b:1" is not a NATS'),
        ('nats { servers: "nats://a:1,::1" }', 1, 'entry "::1" is not a NATS server URL'),
        ('nats { servers: "NATS://a:1" }', 1, "the scheme NATS:// is not one of them"),
        ('nats { servers: "nats://a:0" }', 1, "port 0 is out of range (1-65535)"),
        ('nats { servers: "nats://:4222" }', 1, "it has no host"),
        ('nats { servers: "nats://none:4222" }', 1, "'none' is not a host name"),
        ('nats { servers: "" }', 1, 'nats.servers entry "" holds no URL'),
        ('nats { servers: ["ws://a:1", "nats://b:2"] }', 1, "nats.servers mixes websocket"),
        ('store { kv { servers: ["::::"] } }', 1, 'store.kv.servers entry "::::" is not a NATS'),
    ],
)
def test_out_of_range_values_name_key_and_line(tmp_path: Path, text: str, line: int, problem: str) -> None:
    message = load_error(tmp_path, text)
    assert message.startswith(where(tmp_path, line)), message
    assert problem in message


def test_range_errors_name_the_included_file_and_the_variable_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "inc.conf").write_text("# ports\nhttp { port: 70000 }\n")
    message = load_error(tmp_path, "a: 1\ninclude inc.conf\n")
    assert message.startswith(f"configuration error in {tmp_path / 'inc.conf'} line 2: http.port 70000")
    monkeypatch.setenv("SIZE", "-3")
    assert load_error(tmp_path, "\n\nmaxbodysize: $SIZE").startswith(where(tmp_path, 3) + "maxbodysize -3")


@pytest.mark.parametrize(
    "text",
    [
        "http { port: 0 }",
        "http { port: 65535, readtimeout: 0, writetimeout: 0 }",
        f"http {{ readtimeout: {MAX_DURATION}, writetimeout: {MAX_DURATION} }}",
        "replicationtimeout: 0, signrequesttimeout: 0, maxreplicationpack: -1",
        "maxreplicationpack: 0",
        "maxbodysize: 1, cachesize: 0",
        "nats { connecttimeout: 0, reconnectwait: 0, syncinterval: 0, maxreconnects: -1 }",
        "nats { maxreconnects: 0 }",
        "store { cleanupinterval: 0 }",
        "store { kv { replicas: 1, history: 1, timeout: 0, connecttimeout: 0, reconnectwait: 0 } }",
        "store { kv { replicas: 5, history: 64 } }",
        'signrequestsubject: "sign.account_jwt-1"',
        'primary: "http://p:1"',
        'primary: "https://p.example.com:65535/prefix/"',
        'primary: "http://[::1]:9090"',
        'primary: "http://user:pw@p"',
        'primary: ""',
        'nats { servers: ["nats://a", "tls://b:4222", "c", "d:1", "[::1]:4222", "nats://u:p@e:2"] }',
        'nats { servers: "nats://a:1, nats://b:2,", usercredentials: "" }',
        'nats { servers: ["ws://a", "wss://b:443/path"] }',
        "nats { servers: [] }",
        'store { kv { servers: ["nats://js1:4222"] } }',
    ],
)
def test_boundary_values_are_accepted(tmp_path: Path, text: str) -> None:
    s = load(tmp_path, text)
    assert s.warnings == []


@pytest.mark.parametrize(
    ("text", "line", "key", "value"),
    [
        ('store {\n  shard: "maybe"\n}', 2, "store.shard", "maybe"),
        ('logging { debug: "very" }', 1, "logging.debug", "very"),
        ('\nstore { readonly: "yes" }', 2, "store.readonly", "yes"),
        ('logging { pid: "1" }', 1, "logging.pid", "1"),
    ],
)
def test_quoted_booleans_other_than_true_false_are_false_with_a_warning(
    tmp_path: Path, text: str, line: int, key: str, value: str
) -> None:
    s = load(tmp_path, text)
    section, _, attr = key.partition(".")
    assert getattr(getattr(s, section), attr) is False
    assert s.warnings == [
        f"configuration warning in {tmp_path / 'server.conf'} line {line}: "
        f'{key} "{value}" is neither "true" nor "false"; it is taken as false'
    ]


def test_quoted_true_and_false_are_not_warned_about(tmp_path: Path) -> None:
    s = load(tmp_path, 'store { shard: "TRUE", readonly: "False" }\nlogging { pid: yes, debug: off }')
    assert (s.store.shard, s.store.readonly, s.logging.pid) == (True, False, True)
    assert s.warnings == []


@pytest.mark.parametrize(
    ("text", "colors", "fmt"),
    [
        ("", True, "text"),
        ("logging { colors: true }", True, "text"),
        ("logging { colors: yes }", True, "text"),
        ("logging { colors: auto }", True, "text"),
        ("logging { colors: false }", False, "text"),
        ("logging { colors: never }", False, "text"),
        ('logging { colors: "Always" }', "always", "text"),
        ("logging { Colors: always, Format: json }", "always", "json"),
        ('logging { format: "TEXT" }', True, "text"),
    ],
)
def test_logging_colors_and_format_values(tmp_path: Path, text: str, colors: object, fmt: str) -> None:
    s = load(tmp_path, text)
    assert (s.logging.colors, s.logging.format, s.warnings) == (colors, fmt, [])
    assert settings_to_dump(s)["Logging"]["Colors"] == colors


def test_an_unknown_log_format_stops_naming_the_allowed_ones(tmp_path: Path) -> None:
    assert load_error(tmp_path, "logging {\n  format: xml\n}") == (
        f"configuration error in {tmp_path / 'server.conf'} line 2: "
        'logging.format "xml" is not one of "text", "json"'
    )
    with pytest.raises(ConfigError, match='^configuration error: logging.format "yaml" is not one of'):
        validate_settings(Settings(logging=LoggingSettings(format="yaml")))
    with pytest.raises(ConfigError, match="error parsing Format option 5"):
        load(tmp_path, "logging { format: 5 }")


def test_a_quoted_colors_word_without_meaning_is_false_with_a_warning(tmp_path: Path) -> None:
    s = load(tmp_path, 'logging { colors: "sometimes" }')
    assert s.logging.colors is False
    assert s.warnings == [
        f'configuration warning in {tmp_path / "server.conf"} line 1: logging.colors "sometimes" is '
        'none of "true", "false", "auto", "always", "never"; it is taken as false'
    ]


def test_build_settings_leaves_the_warnings_to_configure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """build_settings only carries the warnings (a reload checks a file before taking it); the
    server's configure logs them once the logger has the file's format."""
    from nats_account_server.log import log
    from nats_account_server.server import configure

    path = tmp_path / "server.conf"
    path.write_text('store { shard: "maybe" }\nlogging { colors: false }\n')
    flags = Flags(config=str(path))
    assert build_settings(flags).warnings[0].startswith(f"configuration warning in {path} line 1")
    assert capsys.readouterr().err == ""
    try:
        configure(flags)
    finally:
        log.configure(LoggingSettings())
    err = strip_ansi(capsys.readouterr().err)
    assert f'[WRN] configuration warning in {path} line 1: store.shard "maybe"' in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (Flags(primary="not a url"), 'configuration error in flag -primary: primary "not a url" is not'),
        (Flags(primary="http://h:70000"), "configuration error in flag -primary: primary"),
        (Flags(nats="::::"), 'configuration error in flag -nats: nats.servers entry "::::" is not'),
        (
            Flags(nats="nats://a:1,http://b"),
            'configuration error in flag -nats: nats.servers entry "http://b"',
        ),
    ],
)
def test_url_flags_are_checked_and_named(flags: Flags, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_settings(flags)
    assert str(info.value).startswith(message), str(info.value)


def test_url_flags_win_over_the_file_and_keep_good_urls(tmp_path: Path) -> None:
    path = tmp_path / "server.conf"
    path.write_text('primary: "http://file:1"\nnats { servers: "nats://file:2" }\n')
    s = build_settings(Flags(config=str(path), primary="https://p:9443/", nats="nats://a:4222,b:4223"))
    assert s.primary == "https://p:9443/" and s.nats.servers == ["nats://a:4222,b:4223"]
    with pytest.raises(ConfigError, match="^configuration error in flag -nats: "):
        build_settings(Flags(config=str(path), nats="nats://a:4222,b:99999"))


def test_validate_settings_checks_settings_built_in_code() -> None:
    s = Settings()
    validate_settings(s)
    s.http.port = 70000
    with pytest.raises(ConfigError, match=r"^configuration error: http.port 70000 is out of range"):
        validate_settings(s)
    s.http.port = 1
    s.store.kv.replicas = 9
    with pytest.raises(ConfigError, match="kv replicas must be between 1 and 5, not 9"):
        validate_settings(s)


def test_plain_trees_have_no_line_to_name() -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_tree({"cachesize": -5})
    assert str(info.value) == "configuration error: cachesize -5 is out of range (0 or more)"
