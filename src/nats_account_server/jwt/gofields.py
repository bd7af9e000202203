"""Typed reading of parsed JSON into the NATS JWT library's structures, by Go's rules.

One `Field` per member of a Go structure: names match in any case (with Unicode simple folding), a
repeated member overwrites a scalar but merges into a structure, `null` leaves a scalar or structure
as it was and empties a list, map or optional structure, unknown members are ignored, and a value of
the wrong JSON type or out of range fails the whole decode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from typing import Any, Final

from nats_account_server.records import record

from .gojson import Object, fold, is_object, members, type_error

__all__ = [
    "Field",
    "Reader",
    "Schema",
    "listing",
    "mapping",
    "optional",
    "read_into",
    "schema",
    "structure",
]

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
