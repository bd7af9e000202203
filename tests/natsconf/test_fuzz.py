"""Robustness: any input yields a dict or a ParseError, quickly, never another exception."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from nats_account_server.natsconf import ParseError, parse

ENV = {"PORT": "8080", "LIST": "[1, $PORT]", "SELF": "$SELF", "BAD": '"\\q"', "MAP": "{a: 1}"}

TOKENS = [
    "{", "}", "[", "]", "(", ")", ",", ";", ":", "=", " ", "\t", "\n", "\r\n", "#", "//", "\\",
    '"', "'", "$", "$PORT", "$LIST", "$SELF", "$BAD", "$MAP", "$a", "$nope",
    "a", "b", "key", "http", "port", "include", "include nope.conf", "include '/nonexistent/x'",
    "true", "no", "OFF", "0", "42", "-7", "2k", "1kb", "1.5", ".5", "1.", "9223372036854775808", "8eb",
    "10s", "127.0.0.1", "127.0.0.1:4222", "nats://localhost:4222", "/tmp/jwts", "2021-03-04T05:06:07Z",
    '"str"', "'raw'", '"\\x41\\t"', '"\\q"', "(\nblock\n)\n", "\ufeff", "é", "\x00",
]  # fmt: skip


def _check_tree(value: Any, depth: int = 0) -> None:
    """Every node must be one of the documented value types."""
    assert depth < 1000
    if isinstance(value, dict):
        for k, v in value.items():
            assert isinstance(k, str)
            _check_tree(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _check_tree(v, depth + 1)
    else:
        assert isinstance(value, str | bool | int | float | dt.datetime), type(value)


def _run(text: str) -> None:
    start = time.monotonic()
    try:
        result = parse(text, env=ENV)
    except ParseError as e:
        assert str(e)
    else:
        assert isinstance(result, dict)
        _check_tree(result)
    assert time.monotonic() - start < 5


@settings(deadline=None, max_examples=300)
@given(st.text())
def test_arbitrary_text(text: str) -> None:
    _run(text)


@settings(deadline=None, max_examples=300)
@given(st.lists(st.sampled_from(TOKENS), max_size=60))
def test_config_token_soup(tokens: list[str]) -> None:
    _run("".join(tokens))


@settings(deadline=None, max_examples=300)
@given(st.lists(st.sampled_from(TOKENS), max_size=40), st.integers(min_value=0, max_value=400))
def test_token_soup_inside_deep_nesting(tokens: list[str], depth: int) -> None:
    _run("a: " + "[" * depth + "".join(tokens) + "]" * depth)
    _run("a " + "{b " * depth + "".join(tokens) + "}" * depth)


_scalar = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
)
_value: st.SearchStrategy[Any] = st.recursive(
    _scalar,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True), inner, max_size=4)
    ),
    max_leaves=20,
)


def _render(value: Any) -> str:
    """Serialise a tree in the config language, with quoted strings so they round-trip exactly."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
        return '"' + escaped.replace("\r", "\\r") + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    return "{" + "\n".join(f'"{k}": {_render(v)}' for k, v in value.items()) + "}"


@settings(deadline=None, max_examples=300)
@given(st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True), _value, max_size=6))
def test_round_trip_of_generated_trees(tree: dict[str, Any]) -> None:
    assert parse(_render(tree), env={}) == tree
