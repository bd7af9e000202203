"""Signing keys of an account: plain keys and user scopes, with the user template a scope imposes.

A scope is read as nats-server reads it: through Go's generic map (member names unique, the last
wins; numbers through a float64, so any integral spelling is an integer), then into its structure.
Its template is type-checked, not validated, and held as read.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from nats_account_server.records import record

from .claims import PERMISSIONS_FIELDS, Permission, ResponsePermission
from .gofields import (
    Field,
    listing,
    read_bool,
    read_int64,
    read_into,
    read_str,
    read_strings,
    schema,
    structure,
)
from .gojson import DecodeError, Number, Object, is_object, members, type_error


def _float_integer(value: Any, where: str) -> Any:
    """Numbers in a scope went through a float64: integral values of any spelling are integers."""
    if isinstance(value, (Number, int, float)) and type(value) is not bool:
        number = float(value.text) if isinstance(value, Number) else float(value)
        if not number.is_integer() or abs(number) >= 1e21:
            raise type_error(value, where, "int64")
        return int(number)
    return value


def _generic(value: Any, where: str) -> Any:
    """The scope object as Go's generic map holds it: names unique (last wins), numbers as floats."""
    if is_object(value):
        unique = {name: _generic(item, where) for name, item in members(value)}
        return Object(sorted(unique.items(), key=lambda kv: kv[0].encode("utf-8", "surrogatepass")))
    if isinstance(value, list):
        return [_generic(v, where) for v in value]
    return _float_integer(value, where)


def _read_src(value: Any, current: Any, where: str) -> Any:
    if type(value) is str:
        return [part.strip().lower() for part in value.split(",")]
    return read_strings(value, current, where)


SPAN = schema(Field("start", "start", read_str), Field("end", "end", read_str))


@record
class Span:
    """One time-of-day range of an activation (`times`)."""

    start: str = ""
    end: str = ""


@record
class Template:
    """The user permissions and limits a scoped signing key imposes."""

    pub: Permission = field(default_factory=Permission)
    sub: Permission = field(default_factory=Permission)
    resp: ResponsePermission | None = None
    subs: int = -1
    data: int = -1
    payload: int = -1
    src: list[str] = field(default_factory=list)
    times: list[Span] = field(default_factory=list)
    times_location: str = ""
    allowed_connection_types: list[str] = field(default_factory=list)
    bearer_token: bool = False
    proxy_required: bool = False


TEMPLATE = schema(
    *PERMISSIONS_FIELDS,
    Field("subs", "subs", read_int64),
    Field("data", "data", read_int64),
    Field("payload", "payload", read_int64),
    Field("src", "src", _read_src),
    Field("times", "times", listing(structure(SPAN), fresh=Span)),
    Field("times_location", "times_location", read_str),
    Field("allowed_connection_types", "allowed_connection_types", read_strings),
    Field("bearer_token", "bearer_token", read_bool),
    Field("proxy_required", "proxy_required", read_bool),
)


@record
class _ScopeRead:
    """A signing key entry as read, before it becomes a scope or a plain key."""

    kind: str = ""
    key: str = ""
    role: str = ""
    description: str = ""
    template: Template = field(default_factory=Template)


@record
class Scope:
    """A scoped signing key; the template is type-checked but not validated, held as read."""

    key: str = ""
    role: str = ""
    description: str = ""
    template: Template = field(default_factory=Template)


SCOPE = schema(
    Field("kind", "kind", read_str),
    Field("key", "key", read_str),
    Field("role", "role", read_str),
    Field("description", "description", read_str),
    Field("template", "template", structure(TEMPLATE)),
)


def _scope(value: Any, where: str) -> Scope:
    kinds = [item for name, item in members(value) if name == "kind"]
    if not kinds or kinds[-1] != "user_scope":
        raise DecodeError("unknown signing key scope %!q(<nil>)")
    read = _ScopeRead()
    read_into(_generic(value, where), read, SCOPE, where)
    return Scope(read.key, read.role, read.description, read.template)


def signing_keys_reader(v1: bool) -> Any:
    """Keys by their text (plain: None; scoped: its Scope); a repeated member adds to earlier keys."""

    def read(value: Any, current: dict[str, Scope | None], where: str) -> dict[str, Scope | None]:
        if value is None:
            return current
        if type(value) is not list:
            raise type_error(value, where, "[]interface {}")
        out = {} if v1 else dict(current)  # v1 holds a plain list: a repeated member replaces it
        for item in value:
            if type(item) is str:
                out[item] = None
            elif v1:
                out[read_str(item, "", where) or ""] = None
            elif is_object(item):
                scope = _scope(item, where)
                out[scope.key] = scope
        return out

    return read
