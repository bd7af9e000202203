"""JSON read the way Go's `encoding/json` reads it into the NATS JWT library's structures.

Parsing keeps what Go's decoder sees and a plain parser loses: every member of an object in document
order (repeated names included), numbers as their literal text, invalid UTF-8 and lone surrogate
escapes as U+FFFD. Typed reading then follows Go's rules, one `Field` per member: names match in any
case (with Unicode simple folding, so the Kelvin sign is `k` and the long s is `s`), a repeated member
overwrites a scalar but merges into a structure, `null` leaves a scalar or structure as it was and
empties a list, map or optional structure, unknown members are ignored, and a value of the wrong JSON
type or out of range fails the whole decode.
"""

from __future__ import annotations

import codecs
import functools
import json
import re
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import field
from typing import Any, Final

import orjson

from nats_account_server.records import record

__all__ = [
    "DecodeError",
    "Field",
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


# ---------------------------------------------------------------- member readers
# A reader takes (JSON value, the member's current value, its path) and returns the new value.
Reader = Callable[[Any, Any, str], Any]
Schema = dict[str, "Field"]

INT64: Final = (-(2**63), 2**63 - 1)
UINT64: Final = (0, 2**64 - 1)
UINT8: Final = (0, 255)


@record(frozen=True)
class Scalar:
    """A reader of one scalar type: null keeps the value, a value of the type (in range) replaces it."""

    py_type: type
    go_type: str
    bounds: tuple[int, int] | None = None

    def __call__(self, value: Any, current: Any, where: str) -> Any:
        if value is None:
            return current
        if type(value) is not self.py_type or not self._within(value):
            raise type_error(value, where, self.go_type)
        return value

    def _within(self, value: Any) -> bool:
        return self.bounds is None or self.bounds[0] <= value <= self.bounds[1]


def integer(bounds: tuple[int, int], go_type: str) -> Scalar:
    return Scalar(int, go_type, bounds)


read_int64: Final = integer(INT64, "int64")
read_int: Final = integer(INT64, "int")
read_uint: Final = integer(UINT64, "uint")
read_uint8: Final = integer(UINT8, "uint8")
read_str: Final = Scalar(str, "string")
read_bool: Final = Scalar(bool, "bool")


def read_strings(value: Any, current: Any, where: str) -> Any:
    """A list of strings; `null` empties it, a `null` element is the empty string."""
    if value is None:
        return []
    if type(value) is not list:
        raise type_error(value, where, "[]string")
    out: list[str] = []
    for item in value:
        if item is not None and type(item) is not str:
            raise type_error(item, where, "string")
        out.append(item or "")
    return out


def read_int64_map(value: Any, current: Any, where: str) -> Any:
    """An object of string -> int64, merged key by key into the current map."""
    if value is None:
        return {}
    if not is_object(value):
        raise type_error(value, where, "map[string]int64")
    out = dict(current)
    for key, item in members(value):
        out[key] = read_int64(item, 0, where)
    return out


Apply = Callable[[Any, Any], None]


@record(frozen=True)
class Field:
    """One member of a Go structure: its JSON name, the attribute it fills and how it is read."""

    name: str
    attr: str
    read: Reader
    inline: Schema | None = None  # members of a nested object that belong to the target itself
    apply: Apply = field(init=False, repr=False, compare=False)  # (target, JSON value) -> None

    def __post_init__(self) -> None:
        object.__setattr__(self, "apply", _applier(self))


def _applier(f: Field) -> Apply:
    """The one step that reads a member into its target, chosen once per field."""
    name, attr, read, inline = f.name, f.attr, f.read, f.inline
    if inline is not None:

        def apply_inline(target: Any, item: Any) -> None:
            if item is not None:
                read_into(item, target, inline, name)

        return apply_inline
    if not attr:
        return _check_only(read, name)
    if isinstance(read, Scalar):
        return _apply_scalar(read, name, attr)

    def apply(target: Any, item: Any) -> None:
        setattr(target, attr, read(item, getattr(target, attr), name))

    return apply


def _apply_scalar(read: Scalar, name: str, attr: str) -> Apply:
    """The hot case, checked in place: most members are strings and integers."""
    py_type, go_type = read.py_type, read.go_type
    low, high = read.bounds or (0, 0)
    if read.bounds is None:

        def apply_scalar(target: Any, item: Any) -> None:
            if item is not None:
                if type(item) is not py_type:
                    raise type_error(item, name, go_type)
                setattr(target, attr, item)

        return apply_scalar

    def apply_integer(target: Any, item: Any) -> None:
        if item is not None:
            if type(item) is not int or not low <= item <= high:
                raise type_error(item, name, go_type)
            setattr(target, attr, item)

    return apply_integer


def _check_only(read: Reader, name: str) -> Apply:
    def apply_check(target: Any, item: Any) -> None:  # read for its type check only, then dropped
        read(item, read(None, None, name), name)

    return apply_check


def schema(*fields: Field) -> Schema:
    return {f.name: f for f in fields}


def read_into(value: Any, target: Any, fields: Schema, where: str) -> None:
    """Decode a JSON object into `target` (merging: members not in the object keep their values)."""
    if type(value) is dict:  # parsed by orjson: names were unique
        value = value.items()
    elif type(value) is not Object:
        raise type_error(value, where, type(target).__name__)
    get = fields.get
    for name, item in value:
        f = get(name) or get(fold(name))
        if f is not None:
            f.apply(target, item)


def structure(fields: Schema) -> Reader:
    """A nested structure: `null` leaves it as it was, an object merges into it."""

    def read(value: Any, current: Any, where: str) -> Any:
        if value is None:
            return current
        read_into(value, current, fields, where)
        return current

    return read


def optional(factory: Callable[[], Any], fields: Schema) -> Reader:
    """A pointer to a structure: `null` removes it, an object merges into it (or a new one)."""

    def read(value: Any, current: Any, where: str) -> Any:
        if value is None:
            return None
        target = current if current is not None else factory()
        read_into(value, target, fields, where)
        return target

    return read


def listing(element: Reader, *, fresh: Callable[[], Any] | None = None) -> Reader:
    """A list: `null` empties it; element i of a repeated list is decoded into the earlier element i."""

    def read(value: Any, current: Any, where: str) -> Any:
        if value is None:
            return []
        if type(value) is not list:
            raise type_error(value, where, "array")
        out = []
        for i, item in enumerate(value):
            earlier = current[i] if i < len(current) else (fresh() if fresh else None)
            out.append(element(item, earlier, where))
        return out

    return read


def mapping(element: Reader, fresh: Callable[[], Any]) -> Reader:
    """An object of name -> value: merged key by key, each key's value decoded afresh."""

    def read(value: Any, current: Any, where: str) -> Any:
        if value is None:
            return {}
        if not is_object(value):
            raise type_error(value, where, "map")
        out = dict(current)
        for key, item in members(value):
            out[key] = element(item, fresh(), where)
        return out

    return read
