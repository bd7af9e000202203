"""JSON parsed the way Go's `encoding/json` parses it for the NATS JWT library's structures.

Parsing keeps what Go's decoder sees and a plain parser loses: every member of an object in document
order (repeated names included), numbers as their literal text, invalid UTF-8 and lone surrogate
escapes as U+FFFD. Member names match under Go's case-insensitive rule, with Unicode simple folding
(the Kelvin sign is `k`, the long s is `s`). Typed reading into structures is in `gofields`.
"""

from __future__ import annotations

import codecs
import functools
import json
import re
import sys
import threading
from collections.abc import Iterable
from typing import Any, Final

import orjson

from nats_account_server.records import record

__all__ = [
    "DecodeError",
    "Number",
    "Object",
    "fold",
    "is_object",
    "loads",
    "members",
]


class DecodeError(ValueError):
    """The JSON text, or a member's type or range, is not what Go's decoder accepts."""


class Object(list[tuple[str, Any]]):
    """A JSON object: its members in document order, repeated names kept."""


@record(frozen=True)
class Number:
    """A JSON number with a fraction or exponent, kept as its literal text."""

    text: str


def _replace_bytewise(exc: UnicodeError) -> tuple[str, int]:
    """Go replaces every byte of an invalid UTF-8 sequence by its own U+FFFD."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "\ufffd" * (exc.end - exc.start), exc.end


codecs.register_error("nas-go-replace", _replace_bytewise)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_constant(name: str) -> Any:
    raise DecodeError(f"invalid character '{name[0]}' looking for beginning of value")


def _clean(value: Any) -> Any:
    """Lone surrogates (from `\\ud800` escapes) become U+FFFD in strings and member names."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, Object):
        return Object((_clean(k), _clean(v)) for k, v in value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _integer(text: str) -> int | Number:
    """Integer literals beyond any Go integer type stay text (they fail every integer member)."""
    return int(text) if len(text) <= 21 else Number(text)


_DECODER = json.JSONDecoder(
    object_pairs_hook=Object, parse_float=Number, parse_int=_integer, parse_constant=_no_constant
)


_SPACED_NAME_END = re.compile(rb'"[ \t\r\n]+:')


def _unique(kept: int, data: bytes) -> bool:
    """Whether a plain parse that kept `kept` member names kept them all: every name in the text is
    followed by a colon, so as many colons as names (the usual case, counted at memchr speed) or as
    many places where a name may end prove that no name repeated."""
    return kept == data.count(b":") or kept == _name_ends(data)


def _name_ends(data: bytes) -> int:
    """Places where a member name may end (`"` then `:`); at least the number of names in the text."""
    return data.count(b'":') + len(_SPACED_NAME_END.findall(data))


def _names(value: Any) -> int:
    """How many member names a plain parse kept (fewer than the text has when a name repeats)."""
    if type(value) is dict:
        count = len(value)
        items: Any = value.values()
    else:
        count, items = 0, value
    for item in items:
        if type(item) is dict or type(item) is list:
            count += _names(item)
    return count


def loads(data: bytes) -> Any:
    """Parse one JSON value as Go does (syntax errors and a byte-order mark raise DecodeError).

    Most tokens take orjson's path (strict RFC 8259 like Go's, ~5x faster): when every member name is
    unique, plain dicts hold exactly what Go sees. Repeated names, invalid UTF-8, lone surrogates and
    numbers beyond 64 bits take the path that keeps them."""
    if not data.startswith(b"\xef\xbb\xbf"):
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
        else:
            try:
                unique = type(value) is not dict or _unique(_names(value), data)
            except RecursionError:
                unique = False
            if unique:
                return value
    text = data.decode("utf-8", errors="nas-go-replace")
    if not text.strip(" \t\r\n"):
        raise DecodeError("unexpected end of JSON input")
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise DecodeError(f"invalid JSON: {exc.msg} at offset {exc.pos}") from None
    except RecursionError:
        value = _deep(text)
    if "\\ud" in text or "\\uD" in text:
        try:
            value = _clean(value)
        except RecursionError:
            raise DecodeError("exceeded max depth") from None
    return value


MAX_DEPTH: Final = 10000
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


def _depth(text: str) -> int:
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _deep(text: str, decoder: json.JSONDecoder = _DECODER) -> Any:
    """Go nests up to 10000 levels; Python's parser recurses, so a deeper document than its default
    limit is parsed on a thread with room for it (rare: only hostile or odd payloads get here)."""
    if _depth(text) > MAX_DEPTH:
        raise DecodeError("exceeded max depth")
    result: list[Any] = []

    def parse() -> None:
        try:
            result.append(decoder.decode(text))
        except (json.JSONDecodeError, RecursionError) as exc:
            result.append(exc)

    with _DEEP_LOCK:
        limit = sys.getrecursionlimit()
        size = threading.stack_size(256 * 1024 * 1024)
        try:
            sys.setrecursionlimit(max(limit, 4 * MAX_DEPTH))
            worker = threading.Thread(target=parse, name="deep-json")
            worker.start()
            worker.join()
        finally:
            threading.stack_size(size)
            sys.setrecursionlimit(limit)
    if isinstance(result[0], BaseException):
        raise DecodeError(f"invalid JSON: {result[0]}")
    return result[0]


_DEEP_LOCK = threading.Lock()


def is_object(value: Any) -> bool:
    """A JSON object: ours (members in order, repeats kept) or a plain dict (names known unique)."""
    return isinstance(value, (Object, dict))


def members(value: Any) -> Iterable[tuple[str, Any]]:
    """The (name, value) members of a JSON object, in document order."""
    return value.items() if isinstance(value, dict) else value


_FOLD: Final = str.maketrans({"\u212a": "k", "\u017f": "s"})


@functools.lru_cache(maxsize=4096)
def fold(name: str) -> str:
    """The key a member name matches under Go's case-insensitive rule (ASCII names only match)."""
    return name.translate(_FOLD).lower() if not name.isascii() else name.lower()


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (Object, dict)):
        return "object"
    if isinstance(value, list):
        return "array"
    return "number"


def type_error(value: Any, where: str, go_type: str) -> DecodeError:
    return DecodeError(
        f"json: cannot unmarshal {json_type(value)} into Go struct field {where} of type {go_type}"
    )
