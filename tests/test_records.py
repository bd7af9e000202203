"""Records behave as the slotted dataclasses they replace, with their methods compiled on first use."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import FrozenInstanceError, field

import pytest

from nats_account_server.records import is_record, is_record_class, members_of, record, replace


@record
class Permission:
    allow: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)


@record
class Limits:
    subs: int = -1
    wildcards: bool = True


@record
class Tiered(Limits):
    tiers: dict[str, int] = field(default_factory=dict)
    subs: int = 0  # redefined: keeps its place, takes the new default


@record(frozen=True)
class Stamp:
    inode: int
    size: int = 0
    note: str = field(default="", compare=False, repr=False)


@record
class Derived:
    source: str
    length: int = field(init=False, default=-1)
    seen: list[str] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.length = len(self.source)


@dataclasses.dataclass(slots=True)
class Twin:
    allow: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)


def test_defaults_and_factories_are_fresh_per_instance() -> None:
    one, two = Permission(), Permission()
    assert one.allow == [] and one.allow is not two.allow
    assert Permission(["a"]).allow == ["a"] and Permission(deny=["b"]).deny == ["b"]
    assert Limits().subs == -1 and Limits(5, False) == Limits(subs=5, wildcards=False)


def test_a_record_matches_the_dataclass_it_replaces() -> None:
    ours, theirs = Permission(["x"], ["y"]), Twin(["x"], ["y"])
    assert repr(ours).replace("Permission", "Twin", 1) == repr(theirs)
    assert [m.name for m in members_of(ours)] == [f.name for f in dataclasses.fields(theirs)]
    assert Permission.__match_args__ == Twin.__match_args__
    assert not hasattr(ours, "__dict__")
    with pytest.raises(TypeError):
        Permission(["x"], ["y"], ["z"])  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        hash(ours)  # mutable with __eq__: unhashable, like a dataclass


def test_inheritance_keeps_the_base_members_first() -> None:
    assert [m.name for m in members_of(Tiered)] == ["subs", "wildcards", "tiers"]
    tiered = Tiered()
    assert (tiered.subs, tiered.wildcards, tiered.tiers) == (0, True, {})
    assert Tiered(1, False, {"R1": 2}).tiers == {"R1": 2}
    assert Tiered() != Limits(0, True)  # another class: not equal, like dataclasses
    assert isinstance(tiered, Limits) and Limits() == Limits()


def test_frozen_records_refuse_assignment_and_hash_their_compared_members() -> None:
    stamp = Stamp(7, 3, "why")
    with pytest.raises(FrozenInstanceError):
        stamp.size = 4  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del stamp.size
    assert Stamp(7, 3, "a") == Stamp(7, 3, "b") and hash(Stamp(7, 3, "a")) == hash(Stamp(7, 3))
    assert {Stamp(1), Stamp(1), Stamp(2)} == {Stamp(1), Stamp(2)}
    assert repr(stamp) == "Stamp(inode=7, size=3)"


def test_init_false_members_and_post_init() -> None:
    derived = Derived("abc")
    assert (derived.length, derived.seen) == (3, [])
    with pytest.raises(TypeError):
        Derived("abc", 5)  # type: ignore[call-arg]


def test_copies_and_pickles_round_trip() -> None:
    nested = Tiered(2, True, {"R3": [1, 2]})  # type: ignore[dict-item]
    deep = copy.deepcopy(nested)
    assert deep == nested and deep.tiers is not nested.tiers
    for value in (Stamp(9, 1, "n"), Permission(["p"]), nested):
        assert pickle.loads(pickle.dumps(value)) == value
        assert copy.copy(value) == value
    thawed = pickle.loads(pickle.dumps(Stamp(9, 1, "n")))
    assert thawed.note == "n"
    with pytest.raises(FrozenInstanceError):
        thawed.inode = 1


def test_methods_a_class_writes_itself_are_kept() -> None:
    @record
    class Spelled:
        name: str = ""

        def __repr__(self) -> str:
            return f"<{self.name}>"

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Spelled) and self.name.lower() == other.name.lower()

    assert repr(Spelled("A")) == "<A>" and Spelled("A") == Spelled("a")


def test_a_required_member_after_a_default_is_refused_at_definition() -> None:
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):

        @record
        class Wrong:
            a: int = 0
            b: int  # type: ignore[misc]


def test_is_record() -> None:
    assert is_record(Permission()) and not is_record(Permission) and not is_record(Twin())
    assert is_record_class(Permission) and not is_record_class(Permission()) and not is_record_class(Twin)


def test_replace_and_metadata() -> None:
    @record
    class Keyed:
        port: int = field(default=9090, metadata={"name": "Port"})
        host: str = "localhost"

    changed = replace(Keyed(), port=1)
    assert (changed.port, changed.host) == (1, "localhost")
    assert replace(Stamp(1, 2, "n"), size=5) == Stamp(1, 5)
    assert [dict(m.metadata) for m in members_of(Keyed)] == [{"name": "Port"}, {}]
    with pytest.raises(TypeError):
        replace(Derived("x"), length=2)  # not an __init__ member, as with dataclasses.replace
