"""Keys that set nothing: a warning each, with file, line and a suggestion when one is close."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nats_account_server.config import Settings, load_settings, settings_from_tree, settings_to_dump
from nats_account_server.configkeys import MAX_PER_MAP
from tests.support.config_example import CONFIG_EXAMPLE


def warnings(tmp_path: Path, text: str, name: str = "server.conf") -> list[str]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_settings(path).warnings


def at(tmp_path: Path, line: int, name: str = "server.conf") -> str:
    return f"configuration warning in {tmp_path / name} line {line}: "


@pytest.mark.parametrize(
    ("text", "line", "key", "meant"),
    [
        ("# a\n\nhtttp { port: 9090 }\n", 3, "htttp", "http"),
        ("stroe { dir: /x }", 1, "stroe", "store"),
        ("bogus: 1", 1, "bogus", None),
        ("http {\n  port: 1\n  tsl { cert: c }\n}", 3, "http.tsl", "http.tls"),
        ("http { tls { crt: c } }", 1, "http.tls.crt", "http.tls.cert"),
        ("nats { server: x }", 1, "nats.server", "nats.servers"),
        ("nats { tls { rot: r } }", 1, "nats.tls.rot", "nats.tls.root"),
        ("store {\n dir: /d\n shards: true }", 3, "store.shards", "store.shard"),
        ("store { kv { buckt: b } }", 1, "store.kv.buckt", "store.kv.bucket"),
        ("store { kv { tls { kee: k } } }", 1, "store.kv.tls.kee", "store.kv.tls.key"),
        ("logging { colour: false }", 1, "logging.colour", "logging.colors"),
        ("logging { nothing: 1 }", 1, "logging.nothing", None),
        ("HTTP { Tsl {} }", 1, "http.Tsl", "http.tls"),
        ("OperatorJWT: /op.jwt", 1, "OperatorJWT", "operatorjwtpath"),
    ],
)
def test_unknown_keys_at_every_level(
    tmp_path: Path, text: str, line: int, key: str, meant: str | None
) -> None:
    hint = f'; did you mean "{meant}"?' if meant else ""
    assert warnings(tmp_path, text) == [at(tmp_path, line) + f'unknown key "{key}" is ignored{hint}']


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("debug: true", 'unknown key "debug" is ignored; did you mean "logging.debug"?'),
        ("port: 1", 'unknown key "port" is ignored; did you mean "http.port"?'),
        ("tls {}", 'unknown key "tls" is ignored; did you mean "http.tls" or "nats.tls" or "store.kv.tls"?'),
        ("store { bucket: b }", 'unknown key "store.bucket" is ignored; did you mean "store.kv.bucket"?'),
    ],
)
def test_a_key_in_the_wrong_block_points_to_its_block(tmp_path: Path, text: str, what: str) -> None:
    assert warnings(tmp_path, text) == [at(tmp_path, 1) + what]


def recase(tree: dict[str, Any], how: Callable[[str], str]) -> dict[str, Any]:
    return {how(k): recase(v, how) if isinstance(v, dict) else v for k, v in tree.items()}


@pytest.mark.parametrize("how", [str, str.lower, str.upper, str.swapcase])
def test_every_setting_in_any_case_is_known(tmp_path: Path, how: Callable[[str], str]) -> None:
    """The -dump output (every setting, Go spelling) read back as a file, in any case: no warning."""
    dump = recase(settings_to_dump(Settings()), how)
    assert warnings(tmp_path, json.dumps(dump)) == []
    assert warnings(tmp_path, CONFIG_EXAMPLE) == []


def test_a_setting_given_in_two_cases_warns_about_the_one_not_taken(tmp_path: Path) -> None:
    text = "http {\n  Port: 1\n  port: 2\n  PORT: 3\n}\n"
    assert warnings(tmp_path, text) == [
        at(tmp_path, 3) + 'key "http.port" is ignored: the setting is also given as "http.Port"',
        at(tmp_path, 4) + 'key "http.PORT" is ignored: the setting is also given as "http.Port"',
    ]
    assert load_settings(tmp_path / "server.conf").http.port == 1


def test_variable_definitions_are_not_stray(tmp_path: Path) -> None:
    text = "PORT: 8080\nroot: /var/lib\nhttp { port: $PORT }\nstore { dir: $root }\nunused: 1\n"
    assert warnings(tmp_path, text) == [at(tmp_path, 5) + 'unknown key "unused" is ignored']


def test_keys_from_an_included_file_name_that_file(tmp_path: Path) -> None:
    (tmp_path / "inc.conf").write_text("# included\nlogging { pidd: true }\nstroe { dir: /x }\n")
    text = "http { port: 1 }\ninclude inc.conf\nbogus: 2\n"
    assert warnings(tmp_path, text) == [
        at(tmp_path, 3, "inc.conf") + 'unknown key "stroe" is ignored; did you mean "store"?',
        at(tmp_path, 3) + 'unknown key "bogus" is ignored',
        at(tmp_path, 2, "inc.conf") + 'unknown key "logging.pidd" is ignored; did you mean "logging.pid"?',
    ]


def test_outer_blocks_first_each_in_file_order(tmp_path: Path) -> None:
    text = "a: 1\nhttp { b: 2 }\nc: 3\nnats { d: 4 }\ne: 5\n"
    found = [w.split(": ", 1)[1] for w in warnings(tmp_path, text)]
    assert found == [f'unknown key "{k}" is ignored' for k in ("a", "c", "e", "http.b", "nats.d")]


def test_unknown_keys_stay_non_fatal_and_values_still_apply(tmp_path: Path) -> None:
    path = tmp_path / "server.conf"
    path.write_text("htttp { port: 1 }\nhttp { port: 2 }\nextra { port: 3, deep { a: [1] } }\n")
    s = load_settings(path)
    assert s.http.port == 2 and len(s.warnings) == 2  # the content of an unknown block is not walked


def test_many_stray_keys_are_counted_not_listed(tmp_path: Path) -> None:
    text = "".join(f"k{i}: {i}\n" for i in range(MAX_PER_MAP + 5)) + "http { x: 1 }\n"
    found = warnings(tmp_path, text)
    assert len(found) == MAX_PER_MAP + 2
    assert (
        found[MAX_PER_MAP]
        == "configuration warning: 5 more keys at the top level that set nothing are ignored"
    )
    assert found[-1] == at(tmp_path, MAX_PER_MAP + 6) + 'unknown key "http.x" is ignored'


def test_trees_without_positions_and_odd_keys() -> None:
    s = settings_from_tree({"htttp": {}, "http": {"port": 1, 'a"\nb': 2}})
    assert s.warnings == [
        'configuration warning: unknown key "htttp" is ignored; did you mean "http"?',
        'configuration warning: unknown key "http.a\\"\\nb" is ignored',
    ]
    long = settings_from_tree({"x" * 1000: 1}).warnings[0]
    assert len(long) < 200 and '..."' in long
