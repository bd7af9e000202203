"""What an instance remembers of its announcements: only where others write the store, bounded."""

from __future__ import annotations

import time

import pytest

from nats_account_server.core import announce
from nats_account_server.core.announce import Announced


def test_without_other_writers_nothing_is_remembered_and_the_upload_is_announced() -> None:
    announced = Announced()
    announced.mark("AKEY", "v1")
    assert not announced.again("AKEY", "v2")
    assert len(announced) == 0
    assert announced.newest("AKEY", "uploaded") == "uploaded"


def test_the_store_s_current_jwt_is_announced_where_others_write_it() -> None:
    stored = {"AKEY": "newer"}
    announced = Announced(stored.get)
    assert announced.newest("AKEY", "older") == "newer"
    assert announced.newest("OTHER", "uploaded") == "uploaded"  # nothing stored yet


def test_an_unreadable_entry_announces_the_upload() -> None:
    def broken(key: str) -> str | None:
        raise OSError("unreadable")

    assert Announced(broken).newest("AKEY", "uploaded") == "uploaded"


def test_keys_are_recent_for_the_window_only() -> None:
    announced = Announced({}.get, window=0.05)
    announced.mark("AKEY", "v1")
    assert announced.again("AKEY", "v2")
    assert not announced.again("AKEY", "v1")  # our own version coming back: nothing new
    assert not announced.again("BKEY", "v2")
    time.sleep(0.06)
    assert not announced.again("AKEY", "v2")
    announced.mark("BKEY", "v1")  # a later mark drops what left the window
    assert len(announced) == 1


def test_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(announce, "KEPT", 10)
    announced = Announced({}.get)
    for i in range(100):
        announced.mark(f"K{i}", "v1")
    assert len(announced) == 10
    assert announced.again("K99", "v2") and not announced.again("K0", "v2")
    announced.mark("K95", "v2")  # marked again: moves to the young end, nothing else is lost
    assert len(announced) == 10 and announced.again("K90", "v2")
