"""Records: slotted value classes declared like dataclasses, whose methods are compiled on first use.

`dataclasses` writes and compiles `__init__`, `__repr__` and `__eq__` (and more when frozen) as a
class is defined, 0.4-1 ms per class on a slow core; the server defines some fifty value classes
before it answers its first request, and a given start instantiates only a few of them. A record
is declared like ``@dataclass(slots=True)``: annotations, defaults, `dataclasses.field` for
factories and its ``init``/``repr``/``compare`` flags, ``__post_init__``, ``frozen=True``. Its
``__init__``, ``__eq__`` and ``__hash__`` are compiled (the same code a dataclass has) when the
first instance is made or compared; ``__repr__`` reads the members. Type checkers treat a record
as a dataclass (`typing.dataclass_transform`); reflection goes through `members_of`, `is_record`
and `replace` instead of their `dataclasses` namesakes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, FrozenInstanceError, field
from types import MappingProxyType
from typing import Any, TypeVar, dataclass_transform, overload

__all__ = ["Member", "is_record", "is_record_class", "members_of", "record", "replace"]

C = TypeVar("C", bound=type)
R = TypeVar("R")
_NO_METADATA: Mapping[str, Any] = MappingProxyType({})

_MEMBERS = "__record_members__"
_COMPILED = ("__init__", "__eq__", "__hash__")


class Member:
    """One member of a record: its name, default or factory, whether `__init__` takes it,
    `__repr__` shows it and `__eq__`/`__hash__` compare it, and its `field` metadata."""

    __slots__ = ("name", "default", "factory", "init", "repr", "compare", "metadata")

    def __init__(
        self,
        name: str,
        default: Any,
        factory: Any,
        init: bool,
        repr: bool,
        compare: bool,
        metadata: Mapping[str, Any],
    ) -> None:
        self.name, self.default, self.factory = name, default, factory
        self.init, self.repr, self.compare, self.metadata = init, repr, compare, metadata

    @property
    def required(self) -> bool:
        return self.default is MISSING and self.factory is MISSING


def members_of(value: object) -> tuple[Member, ...]:
    """The members of a record (class or instance), in declaration order, base classes first."""
    found: tuple[Member, ...] = getattr(value, _MEMBERS)
    return found


def is_record(value: object) -> bool:
    """Whether `value` is an instance of a record (not a record class)."""
    return not isinstance(value, type) and hasattr(type(value), _MEMBERS)


def is_record_class(value: object) -> bool:
    return isinstance(value, type) and hasattr(value, _MEMBERS)


def replace(value: R, /, **changes: Any) -> R:
    """A new record like `value` with `changes` (members `__init__` takes), as `dataclasses.replace`."""
    for member in members_of(value):
        if member.init and member.name not in changes:
            changes[member.name] = getattr(value, member.name)
    return type(value)(**changes)


@overload
def record(cls: C, /) -> C: ...
@overload
def record(*, frozen: bool = False) -> Callable[[C], C]: ...


@dataclass_transform(field_specifiers=(field, Field))
def record(cls: Any = None, /, *, frozen: bool = False) -> Any:
    """Make `cls` a record (a slotted class with dataclass semantics); ``frozen`` refuses
    assignment after `__init__` and gives the record a hash of its compared members."""

    def wrap(klass: type) -> type:
        return _build(klass, frozen)

    return wrap if cls is None else wrap(cls)


def _members(cls: type) -> dict[str, Member]:
    members: dict[str, Member] = {}
    for base in reversed(cls.__mro__[1:]):
        for member in base.__dict__.get(_MEMBERS, ()):
            members[member.name] = member
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if str(annotation).startswith(("ClassVar", "typing.ClassVar")):
            continue
        value = cls.__dict__.get(name, MISSING)
        if isinstance(value, Field):
            members[name] = Member(
                name,
                value.default,
                value.default_factory,
                value.init,
                value.repr,
                value.compare,
                value.metadata,
            )
        else:
            members[name] = Member(name, value, MISSING, True, True, True, _NO_METADATA)
    return members


def _build(cls: type, frozen: bool) -> type:
    members = _members(cls)
    defaulted = False
    for member in members.values():
        if member.init and member.required and defaulted:
            raise TypeError(f"non-default argument {member.name!r} follows default argument")
        defaulted = defaulted or (member.init and not member.required)
    taken = {slot for base in cls.__mro__[1:] for slot in base.__dict__.get("__slots__", ())}
    own = tuple(name for name in members if name not in taken)
    namespace = {k: v for k, v in cls.__dict__.items() if k not in members}  # defaults vs slots
    namespace.pop("__dict__", None)
    namespace.pop("__weakref__", None)
    namespace["__slots__"] = own
    namespace[_MEMBERS] = tuple(members.values())
    namespace["__match_args__"] = tuple(m.name for m in members.values() if m.init)
    defined = set(cls.__dict__)
    if "__repr__" not in defined:
        namespace["__repr__"] = _repr
    placeholders = {"__init__"} - defined
    if "__eq__" not in defined:
        placeholders.add("__eq__")
        if frozen:
            placeholders.add("__hash__")
        else:
            namespace["__hash__"] = None
    if frozen:
        namespace["__setattr__"] = _refuse_set
        namespace["__delattr__"] = _refuse_delete
        namespace["__getstate__"] = _state
        namespace["__setstate__"] = _set_state
    built: list[type] = []
    for name in placeholders:
        namespace[name] = _placeholder(name, built, frozen)
    new = type(cls)(cls.__name__, cls.__bases__, namespace)
    new.__qualname__ = cls.__qualname__
    built.append(new)
    return new


def _placeholder(method: str, built: list[type], frozen: bool) -> Callable[..., Any]:
    def first_call(self: Any, *args: Any, **kwargs: Any) -> Any:
        cls = built[0]
        if cls.__dict__[method] is first_call:
            _compile(cls, method, frozen)
        return getattr(cls, method)(self, *args, **kwargs)

    first_call.__record_placeholder__ = True  # type: ignore[attr-defined]
    return first_call


def _compile(cls: type, method: str, frozen: bool) -> None:
    """Write the record's `__init__`, or its `__eq__` and `__hash__`, as a dataclass would, and
    put the compiled function in place of the placeholder."""
    members = members_of(cls)
    env: dict[str, Any] = {"_set": object.__setattr__, "_no": MISSING}
    if method == "__init__":
        source = _init_source(cls, members, env, frozen)
    else:
        compared = "(" + "".join(f"self.{m.name}," for m in members if m.compare) + ")"
        source = [
            "def __eq__(self, other):",
            "    if other.__class__ is self.__class__:",
            f"        return {compared} == {compared.replace('self.', 'other.')}",
            "    return NotImplemented",
            "def __hash__(self):",
            f"    return hash({compared})",
        ]
    exec("\n".join(source), env)  # noqa: S102  # our own generated source, from member names only
    for name in _COMPILED:
        if name in env and getattr(cls.__dict__.get(name), "__record_placeholder__", False):
            function = env[name]
            function.__qualname__ = f"{cls.__qualname__}.{name}"
            setattr(cls, name, function)


def _init_source(cls: type, members: tuple[Member, ...], env: dict[str, Any], frozen: bool) -> list[str]:
    params, body = ["self"], []
    for i, m in enumerate(members):
        default, factory = f"_default{i}", f"_factory{i}"
        env[default], env[factory] = m.default, m.factory
        if m.init:
            if m.factory is not MISSING:
                params.append(f"{m.name}=_no")
                value = f"{factory}() if {m.name} is _no else {m.name}"
            else:
                params.append(m.name if m.default is MISSING else f"{m.name}={default}")
                value = m.name
        elif m.factory is not MISSING:
            value = f"{factory}()"
        elif m.default is not MISSING:
            value = default
        else:
            continue
        body.append(f"_set(self, {m.name!r}, {value})" if frozen else f"self.{m.name} = {value}")
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    return [f"def __init__({', '.join(params)}):", *(f"    {line}" for line in body or ["pass"])]


def _repr(self: Any) -> str:
    shown = ", ".join(f"{m.name}={getattr(self, m.name)!r}" for m in members_of(self) if m.repr)
    return f"{type(self).__qualname__}({shown})"


def _refuse_set(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _refuse_delete(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _state(self: Any) -> list[Any]:
    return [getattr(self, m.name) for m in members_of(self)]


def _set_state(self: Any, state: list[Any]) -> None:
    for member, value in zip(members_of(self), state, strict=True):
        object.__setattr__(self, member.name, value)
