"""Behaviour of the nats-server configuration parser, rule by rule."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest

from nats_account_server.natsconf import MAX_DEPTH, ParseError, parse, parse_file
from tests.support.config_example import CONFIG_EXAMPLE


def p(text: str, **env: str) -> dict[str, Any]:
    return parse(text, env=env)


def err(text: str, **env: str) -> str:
    with pytest.raises(ParseError) as info:
        parse(text, env=env)
    return str(info.value)


def test_config_example() -> None:
    assert p(CONFIG_EXAMPLE) == {
        "operatorjwtpath": "/etc/nats/op/OP.jwt",
        "systemaccountjwtpath": "/etc/nats/op/accounts/SYS/SYS.jwt",
        "http": {"host": "0.0.0.0", "port": 9090, "ReadTimeout": 2000},
        "store": {"dir": "/var/lib/nas", "shard": True},
        "logging": {"pid": True, "colors": False},
        "nats": {
            "servers": ["nats://127.0.0.1:4222", "tls://nats2:4222"],
            "usercredentials": "/etc/nats/sys.creds",
            "reconnectwait": 2000,
        },
    }


# -- top level, keys, separators, terminators ---------------------------------------------------


@pytest.mark.parametrize(
    "text", ["", "   \n\n", "# only a comment\n", "// c\n  # d", "{}", " { \n } \n", "\ufeff"]
)
def test_empty_documents(text: str) -> None:
    assert p(text) == {}


def test_top_level_braces_json() -> None:
    assert p('{"port": 4222, "http": {"host": "x"}, "list": [1, 2]}\n') == {
        "port": 4222,
        "http": {"host": "x"},
        "list": [1, 2],
    }


def test_content_after_top_level_brace_is_error() -> None:
    assert err("{a: 1}\nb: 2") == "Parse error on line 2: 'unexpected 'b' after the closing top-level brace'"


def test_stray_closing_brace_at_top() -> None:
    assert err("a: 1\n}") == "Parse error on line 2: 'unexpected '}' outside of a map'"


@pytest.mark.parametrize(
    "text", ["port = 9090", "port: 9090", "port 9090", "port\t9090", "port:9090", "port=9090"]
)
def test_separators(text: str) -> None:
    assert p(text) == {"port": 9090}


def test_quoted_keys() -> None:
    assert p('"a b": 1\n\'c:d\' = 2\n"" 3\n"t\\tk": 4') == {"a b": 1, "c:d": 2, "": 3, "t\tk": 4}


def test_keys_keep_case_and_dots() -> None:
    assert p("OperatorJWTPath: x\na.b-c_d: 1") == {"OperatorJWTPath": "x", "a.b-c_d": 1}


def test_terminators() -> None:
    assert p("a: 1; b: 2, c: 3\nd: 4;\ne: 5,") == {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}


def test_map_directly_after_key() -> None:
    assert p("http {port: 1}\nnats{x: 2}\nx [1]") == {"http": {"port": 1}, "nats": {"x": 2}, "x": [1]}


def test_allman_brace_on_next_line() -> None:
    assert p("http\n{\n  port: 1\n}\n") == {"http": {"port": 1}}


def test_value_on_next_line_after_explicit_separator() -> None:
    assert p("a =\n   5\n") == {"a": 5}


def test_duplicate_keys_last_wins() -> None:
    assert p("a: 1\nb { x: 1 }\na: 2\nb { y: 2 }") == {"a": 2, "b": {"y": 2}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a", "Parse error on line 1: 'missing value for key 'a''"),
        ("\n\na:\n", "Parse error on line 3: 'missing value for key 'a''"),
        ("a\nb", "Parse error on line 1: 'missing value for key 'a''"),
        ("{a}", "Parse error on line 1: 'missing value for key 'a''"),
        ("a: # nothing\n", "Parse error on line 1: 'missing value for key 'a''"),
        ("= 1", "Parse error on line 1: 'unexpected key separator '=''"),
        ("x: 1\n: 1", "Parse error on line 2: 'unexpected key separator ':''"),
        ("a: 1,, b: 2", "Parse error on line 1: 'unexpected ',' where a key was expected'"),
        ("]", "Parse error on line 1: 'unexpected ']' where a key was expected'"),
        ("a: 1 b: 2", "Parse error on line 1: 'expected a new line, ';' or ',' after a value, got 'b''"),
        ('a: "x"y', "Parse error on line 1: 'expected a new line, ';' or ',' after a value, got 'y''"),
        ("a: foo bar", "Parse error on line 1: 'expected a new line, ';' or ',' after a value, got 'b''"),
    ],
)
def test_entry_errors(text: str, message: str) -> None:
    assert err(text) == message


# -- comments -----------------------------------------------------------------------------------


def test_comments_everywhere() -> None:
    text = """
    # leading
    // also leading
    a: 1 # after value
    b: 2 // after value
    m { # after brace
      c: 3 // inside
      # own line
    } # after map
    l: [ # after bracket
      1, # after element
      // own line
      2
    ]
    """
    assert p(text) == {"a": 1, "b": 2, "m": {"c": 3}, "l": [1, 2]}


def test_hash_inside_unquoted_value_is_kept() -> None:
    assert p("url: http://x/#frag\nu2: nats://h:1 // c") == {"url": "http://x/#frag", "u2": "nats://h:1"}


# -- maps and arrays ----------------------------------------------------------------------------


def test_nested_maps() -> None:
    assert p("a { b { c { d: 1 } } }") == {"a": {"b": {"c": {"d": 1}}}}


def test_map_entries_mixed_terminators() -> None:
    assert p("m { k1: v1, k2 = v2 \n k3 v3; k4: 4 }") == {"m": {"k1": "v1", "k2": "v2", "k3": "v3", "k4": 4}}


def test_unterminated_map_is_error() -> None:
    assert err("a {\n  b: 1\n") == "Parse error on line 3: 'unexpected EOF processing map'"
    assert err("{ a: 1") == "Parse error on line 1: 'unexpected EOF processing map'"


def test_arrays() -> None:
    assert p("a: [1, 2, 3]") == {"a": [1, 2, 3]}
    assert p("a: []\nb: [ ]\nc: [\n]") == {"a": [], "b": [], "c": []}
    assert p("a: [1, 2,]\nb: [\n 1,\n 2,\n]") == {"a": [1, 2], "b": [1, 2]}
    assert p("a: [\n 1\n 2\n , 3\n]") == {"a": [1, 2, 3]}
    assert p("a: [ {x: 1}, {y: [2, {z: 3}]}, [4, 5] ]") == {"a": [{"x": 1}, {"y": [2, {"z": 3}]}, [4, 5]]}
    assert p("a: [x, 'y', \"z\", true, 1.5, 10s]") == {"a": ["x", "y", "z", True, 1.5, "10s"]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [1,,2]", "Parse error on line 1: 'empty array element'"),
        ("a: [,1]", "Parse error on line 1: 'empty array element'"),
        ("a: [1,\n,2]", "Parse error on line 2: 'empty array element'"),
        ("a: [1, 2", "Parse error on line 1: 'unexpected EOF processing array'"),
        ("a: [1,\n", "Parse error on line 2: 'unexpected EOF processing array'"),
        ("a: [1 2]", "Parse error on line 1: 'expected ',' or ']' after an array element, got '2''"),
        ("a: [1; 2]", "Parse error on line 1: 'expected ',' or ']' after an array element, got ';''"),
        ("a: [}]", "Parse error on line 1: 'expected a value, got '}''"),
    ],
)
def test_array_errors(text: str, message: str) -> None:
    assert err(text) == message


def test_deep_nesting_limit() -> None:
    ok = "a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    assert isinstance(p(ok)["a"], list)
    assert "nesting deeper than" in err("a: " + "[" * (MAX_DEPTH + 1))
    assert "nesting deeper than" in err("a: " + "{b: " * (MAX_DEPTH + 5))
    assert "nesting deeper than" in err("a: " + "[" * 100_000)


# -- strings ------------------------------------------------------------------------------------


def test_double_quoted_escapes() -> None:
    assert p(r'a: "t\tn\nr\rq\"b\\x\x41"') == {"a": 't\tn\nr\rq"b\\xA'}
    assert p(r'a: "\xc3\xa9"') == {"a": "é"}
    assert p(r'a: "\xff"') == {"a": "\xff"}
    assert p('a: "multi\nline"') == {"a": "multi\nline"}


@pytest.mark.parametrize("escape", [r"\q", r"\'", r"\u0041", r"\0"])
def test_invalid_escapes(escape: str) -> None:
    assert err(f'x: 1\na: "{escape}"').startswith("Parse error on line 2: 'invalid escape character")


def test_bad_hex_escape() -> None:
    assert err(r'a: "\xZZ"') == "Parse error on line 1: 'invalid hex escape '\\xZZ': expected two hex digits'"
    assert "invalid hex escape" in err(r'a: "\x4"')


def test_single_quoted_raw() -> None:
    assert p(r"a: 'C:\new\path'") == {"a": "C:\\new\\path"}
    # adjacent quotes are not an escape: the second quote starts garbage after the value
    assert err("a: 'it''s'").startswith("Parse error on line 1: 'expected a new line")


def test_unterminated_strings() -> None:
    assert (
        err('a: 1\nb: "abc\n\n') == "Parse error on line 2: 'unexpected EOF processing double-quoted string'"
    )
    assert err("a: 'abc") == "Parse error on line 1: 'unexpected EOF processing single-quoted string'"


def test_quoted_values_are_never_converted() -> None:
    assert p('a: "yes"\nb: "5000"\nc: \'true\'\nd: "$x"') == {"a": "yes", "b": "5000", "c": "true", "d": "$x"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/tmp/jwts", "/tmp/jwts"),
        ("./certs/x.pem", "./certs/x.pem"),
        ("localhost", "localhost"),
        ("nats://localhost:4222", "nats://localhost:4222"),
        ("127.0.0.1", "127.0.0.1"),
        ("127.0.0.1:4222", "127.0.0.1:4222"),
        ("0.0.0.0", "0.0.0.0"),
        ("10s", "10s"),
        ("1h", "1h"),
        ("3abc", "3abc"),
        ("1.2.3", "1.2.3"),
        ("1.5k", "1.5k"),
        ("0x10", "0x10"),
        ("-foo", "-foo"),
        ("-", "-"),
        ("null", "null"),
        ("yess", "yess"),
        ("a$b", "a$b"),
        (r"tab\there", "tab\there"),
        (r"q\"x", 'q"x'),
        ("naïve", "naïve"),
    ],
)
def test_unquoted_strings(value: str, expected: str) -> None:
    assert p(f"v: {value}\n") == {"v": expected}


def test_unquoted_string_terminators() -> None:
    assert p("a: x;b: y,c: z\nm {d: w}\nl: [u,v]") == {
        "a": "x",
        "b": "y",
        "c": "z",
        "m": {"d": "w"},
        "l": ["u", "v"],
    }


def test_unquoted_invalid_escape() -> None:
    assert err(r"a: C:\path").startswith("Parse error on line 1: 'invalid escape character 'p'")
    assert err("a: foo\\") == "Parse error on line 1: 'invalid escape at end of string'"


def test_block_string() -> None:
    text = "a: (\n  line one\n  line (two)\n)\nb: 1\n"
    assert p(text) == {"a": "\n  line one\n  line (two)\n", "b": 1}
    assert p("a: (\n)") == {"a": "\n"}
    assert p("a: (x\n  )  \nb: 2") == {"a": "x\n  ", "b": 2}
    assert p("l: [\n(\nz\n)\n]") == {"l": ["\nz\n"]}


def test_block_string_unterminated() -> None:
    assert err("x: 1\na: (\nfoo)\n") == "Parse error on line 2: 'unexpected EOF processing block string'"
    assert err("a: (foo)") == "Parse error on line 1: 'unexpected EOF processing block string'"


# -- booleans, numbers, datetimes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "value"),
    [("true", True), ("TRUE", True), ("Yes", True), ("on", True), ("ON", True),
     ("false", False), ("No", False), ("off", False), ("OFF", False), ("fAlSe", False)],
)  # fmt: skip
def test_booleans(word: str, value: bool) -> None:
    assert p(f"b: {word}") == {"b": value}
    assert p(f"b: [{word}]") == {"b": [value]}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0), ("42", 42), ("-42", -42), ("007", 7),
        ("2k", 2000), ("2K", 2000), ("1kb", 1024), ("1KB", 1024), ("1ki", 1024), ("1KiB", 1024),
        ("1m", 10**6), ("1mb", 2**20), ("1mi", 2**20), ("1mib", 2**20),
        ("1g", 10**9), ("1gb", 2**30), ("1gi", 2**30), ("1gib", 2**30),
        ("1t", 10**12), ("1tb", 2**40), ("1p", 10**15), ("1pb", 2**50),
        ("1e", 10**18), ("1eb", 2**60), ("7eb", 7 * 2**60), ("-8eb", -8 * 2**60),
        ("-3k", -3000), ("9223372036854775807", 2**63 - 1), ("-9223372036854775808", -(2**63)),
        ("0000000000000000000000042", 42),
    ],
)  # fmt: skip
def test_integers(text: str, value: int) -> None:
    result = p(f"n: {text}")["n"]
    assert result == value and type(result) is int


@pytest.mark.parametrize(
    "text", ["9223372036854775808", "-9223372036854775809", "8eb", "10e", "9" * 5000, "99999999999999999999k"]
)
def test_integer_out_of_range(text: str) -> None:
    shown = text if len(text) <= 40 else text[:40] + "..."  # long tokens are clipped in messages
    assert err(f"x: 1\nn: {text}") == f"Parse error on line 2: 'integer '{shown}' is out of range'"


def test_floats() -> None:
    assert p("a: 1.5\nb: -0.25\nc: 3.0\nd: 1.5e3") == {"a": 1.5, "b": -0.25, "c": 3.0, "d": 1500.0}
    assert type(p("c: 3.0")["c"]) is float


@pytest.mark.parametrize("text", [".5", "-.5", ".5s"])
def test_float_must_start_with_digit(text: str) -> None:
    assert err(f"a: {text}").startswith("Parse error on line 1: 'floats must start with a digit")


def test_float_errors() -> None:
    assert err("a: 1.") == "Parse error on line 1: 'floats must end with a digit: '1.''"
    assert err("a: 1" + "0" * 400 + ".0").endswith("is out of range'")


def test_datetime() -> None:
    assert p("d: 2021-03-04T05:06:07Z") == {"d": dt.datetime(2021, 3, 4, 5, 6, 7, tzinfo=dt.UTC)}
    assert err("d: 2021-13-04T05:06:07Z").startswith("Parse error on line 1: 'invalid datetime")
    assert p("d: 2021-03-04T05:06:07+01:00") == {"d": "2021-03-04T05:06:07+01:00"}  # Zulu only


# -- variables ----------------------------------------------------------------------------------


def test_variable_from_earlier_key() -> None:
    assert p("port: 4222\nlisten: $port\nm { p: $port }") == {"port": 4222, "listen": 4222, "m": {"p": 4222}}


def test_variable_innermost_first() -> None:
    text = "x: outer\nm { x: inner\n  a: $x\n  n { b: $x } }\nc: $x\nl: [$x, {d: $x}]"
    assert p(text) == {
        "x": "outer",
        "m": {"x": "inner", "a": "inner", "n": {"b": "inner"}},
        "c": "outer",
        "l": ["outer", {"d": "outer"}],
    }


def test_variable_must_be_defined_earlier() -> None:
    assert err("a: $b\nb: 1") == "variable reference for 'b' on line 1 can not be found"
    assert err("m { x: 1 }\n\ny: $x") == "variable reference for 'x' on line 3 can not be found"


def test_variable_keeps_type_and_structure() -> None:
    assert p("m { a: 1 }\nn: $m\nl: [1, 2]\nk: $l") == {
        "m": {"a": 1},
        "n": {"a": 1},
        "l": [1, 2],
        "k": [1, 2],
    }


def test_variable_from_environment_is_parsed() -> None:
    env = {"PORT": "8080", "HOST": "0.0.0.0", "ON": "yes", "LIST": "[a, 2]", "Q": '"quoted"', "E": ""}
    text = "p: $PORT\nh: $HOST\no: $ON\nl: $LIST\nq: $Q\ne: $E"
    assert parse(text, env=env) == {
        "p": 8080,
        "h": "0.0.0.0",
        "o": True,
        "l": ["a", 2],
        "q": "quoted",
        "e": "",
    }


def test_config_key_beats_environment() -> None:
    assert p("PORT: 1\np: $PORT", PORT="2") == {"PORT": 1, "p": 1}


def test_environment_default_is_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATSCONF_TEST_VALUE", "2k")
    assert parse("v: $NATSCONF_TEST_VALUE") == {"v": 2000}


def test_environment_nested_and_cyclic() -> None:
    assert p("v: $A", A="[$B, $B]", B="7") == {"v": [7, 7]}
    assert "refers to itself" in err("v: $A", A="$B", B="$A")
    assert err("x: 1\nv: $A", A="$NOPE") == "variable reference for 'NOPE' on line 2 can not be found"


def test_environment_bad_text() -> None:
    assert err("\nv: $A", A='"\\q"').startswith(
        "Parse error on line 2: 'in environment variable 'A': invalid escape character 'q'"
    )
    assert err("v: $A", A="a b") == (
        "Parse error on line 1: 'in environment variable 'A': unexpected 'b' after value'"
    )


def test_environment_exponential_blowup_is_linear() -> None:
    env = {f"V{i}": f"[$V{i + 1}, $V{i + 1}]" for i in range(60)}
    env["V60"] = "1"
    v = parse("v: $V0", env=env)["v"]
    for _ in range(60):
        v = v[0]
    assert v == 1


def test_invalid_variable_name() -> None:
    assert err("a: $") == "Parse error on line 1: 'invalid variable name '$''"
    assert err("a: $x/y").startswith("Parse error on line 1: 'invalid variable name")


# -- include ------------------------------------------------------------------------------------


def test_include_merges_relative_to_including_file(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "inner.conf").write_text("port: 4222\nhttp { port: 1 }\n")
    (sub / "mid.conf").write_text("include inner.conf\nname: mid\n")
    (tmp_path / "main.conf").write_text(
        "a: 1\ninclude \"sub/mid.conf\"\nhttp { host: x\n  include 'sub/inner.conf'\n}\nport: 5\n"
    )
    assert parse_file(tmp_path / "main.conf") == {
        "a": 1,
        "port": 5,
        "http": {"host": "x", "port": 4222, "http": {"port": 1}},
        "name": "mid",
    }


def test_include_with_parse_filename_and_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "x.conf").write_text("x: 1")
    assert parse("include x.conf", filename=str(tmp_path / "main.conf")) == {"x": 1}
    monkeypatch.chdir(tmp_path)
    assert parse("include x.conf; y: $x") == {"x": 1, "y": 1}
    assert parse(f"include {tmp_path}/x.conf") == {"x": 1}


def test_include_is_a_plain_key_when_not_followed_by_a_path() -> None:
    assert p("include: 1") == {"include": 1}
    assert p("include = 2") == {"include": 2}
    assert p('"include" 3') == {"include": 3}
    assert p("include { a: 1 }") == {"include": {"a": 1}}


def test_include_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ParseError) as info:
        parse("a: 1\ninclude nope.conf", filename=str(tmp_path / "main.conf"))
    assert str(info.value) == (
        f"error parsing include file 'nope.conf', open {tmp_path}/nope.conf: no such file or directory"
    )
    assert info.value.line == 2


def test_include_directory_and_device(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="error parsing include file '.*', .*not a regular file"):
        parse(f"include {tmp_path}")
    if os.path.exists("/dev/zero"):
        with pytest.raises(ParseError, match="not a regular file"):
            parse("include /dev/zero")


def test_include_error_inside_file(tmp_path: Path) -> None:
    (tmp_path / "bad.conf").write_text("a: 1\nb: [1,,2]\n")
    with pytest.raises(ParseError) as info:
        parse("include bad.conf", filename=str(tmp_path / "m.conf"))
    assert str(info.value) == (
        "error parsing include file 'bad.conf', Parse error on line 2: 'empty array element'"
    )


def test_include_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "bin.conf").write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(ParseError, match="not valid UTF-8"):
        parse("include bin.conf", filename=str(tmp_path / "m.conf"))


def test_include_cycle(tmp_path: Path) -> None:
    (tmp_path / "a.conf").write_text("include b.conf\n")
    (tmp_path / "b.conf").write_text("include ./a.conf\n")
    with pytest.raises(ParseError, match="include cycle"):
        parse_file(tmp_path / "a.conf")


def test_include_does_not_see_outer_variables(tmp_path: Path) -> None:
    (tmp_path / "v.conf").write_text("y: $x\n")
    with pytest.raises(ParseError, match="variable reference for 'x' on line 1 can not be found"):
        parse("x: 1\ninclude v.conf", filename=str(tmp_path / "m.conf"), env={})


# -- parse_file ---------------------------------------------------------------------------------


def test_parse_file(tmp_path: Path) -> None:
    f = tmp_path / "c.conf"
    f.write_text(CONFIG_EXAMPLE, encoding="utf-8")
    assert parse_file(f) == p(CONFIG_EXAMPLE)
    assert parse_file(str(f)) == p(CONFIG_EXAMPLE)


def test_parse_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="error reading config file"):
        parse_file(tmp_path / "missing.conf")
    with pytest.raises(ParseError, match="error reading config file"):
        parse_file(tmp_path)
    (tmp_path / "bin.conf").write_bytes(b"\xff")
    with pytest.raises(ParseError, match="not valid UTF-8"):
        parse_file(tmp_path / "bin.conf")


def test_crlf_line_endings() -> None:
    assert p("a: 1\r\nb {\r\n c: x\r\n}\r\nl: [1,\r\n2]\r\n") == {"a": 1, "b": {"c": "x"}, "l": [1, 2]}


def test_error_line_numbers_count_lines() -> None:
    assert err("a: 1\n# c\n\nb: {\n c: [1,,]\n}\n").startswith("Parse error on line 5:")
    assert err('a: "x\ny\\q"').startswith("Parse error on line 2:")


def test_include_odd_paths(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="embedded null byte"):
        parse('include "a\\x00b"', filename=str(tmp_path / "m.conf"))
    (tmp_path / "x.conf").write_text("x: 1")
    assert parse("{\n include x.conf\n y: 2 }", filename=str(tmp_path / "m.conf")) == {"x": 1, "y": 2}
