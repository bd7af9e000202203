"""inotify read on the event loop: event parsing (pure), watches on real folders, batching, failures."""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import struct
import threading
import time
from pathlib import Path

import pytest

from nats_account_server.stores import inotify
from nats_account_server.stores.inotify import Change, Watches, change_of, parse
from nats_account_server.stores.spares import SPARE_DIR

pytestmark = pytest.mark.skipif(not inotify.available(), reason="Linux inotify only")


def event(wd: int, mask: int, name: bytes = b"", pad: int = 0) -> bytes:
    padded = name + b"\0" * pad if name or pad else b""
    return struct.pack("iIII", wd, mask, 0, len(padded)) + padded


def test_parse_events_and_padding() -> None:
    buf = event(1, inotify.IN_MOVED_TO, b"A.jwt", 11) + event(2, inotify.IN_DELETE_SELF)
    buf += event(1, 8, b"x", 3)
    assert parse(buf) == [(1, inotify.IN_MOVED_TO, b"A.jwt"), (2, inotify.IN_DELETE_SELF, b""), (1, 8, b"x")]
    assert parse(b"") == []
    assert parse(buf[:10]) == []  # a torn header is not an event


def test_changes_as_watchfiles_names_them() -> None:
    assert change_of(inotify.IN_CREATE) is Change.added
    assert change_of(inotify.IN_MOVED_TO) is Change.added
    assert change_of(inotify.IN_DELETE) is Change.deleted
    assert change_of(inotify.IN_MOVED_FROM) is Change.deleted
    assert change_of(inotify.IN_CLOSE_WRITE) is Change.modified
    assert change_of(inotify.IN_MODIFY | inotify.IN_ATTRIB) is Change.modified


def drain(w: Watches, until: float = 1.0) -> set[tuple[Change, str]]:
    """Read until nothing more comes for a moment (the kernel queues events as they happen)."""
    deadline = time.monotonic() + until
    while time.monotonic() < deadline:
        w.read()
        time.sleep(0.01)
    return w.take()


def test_flat_folder_events_without_reads_or_attributes(tmp_path: Path) -> None:
    w = Watches(str(tmp_path), recursive=False)
    try:
        a = tmp_path / "A.jwt"
        a.write_text("one")
        a.read_text()  # reads are not changes (no IN_OPEN)
        os.setxattr(a, "user.nas.test", b"1")  # a verified mark is not a change (no IN_ATTRIB)
        tmp = tmp_path / ".A.tmp"
        tmp.write_text("two")
        os.replace(tmp, a)
        b = tmp_path / "B.jwt"
        b.write_text("x")
        b.unlink()
        (tmp_path / "sub").mkdir()
        (tmp_path / "sub" / "C.jwt").write_text("not watched: flat")
        got = drain(w)
        root = str(tmp_path)
        assert (Change.added, f"{root}/A.jwt") in got
        assert (Change.modified, f"{root}/A.jwt") in got
        assert (Change.added, f"{root}/B.jwt") in got and (Change.deleted, f"{root}/B.jwt") in got
        assert (Change.deleted, f"{root}/.A.tmp") in got
        assert (Change.added, f"{root}/sub") in got
        assert not any(path.endswith("C.jwt") for _, path in got)
        assert w.error is None
    finally:
        w.close()


def test_attributes_when_asked(tmp_path: Path) -> None:
    a = tmp_path / "A.jwt"
    a.write_text("one")
    w = Watches(str(tmp_path), recursive=False, attrib=True)
    try:
        os.chmod(a, 0o600)
        assert drain(w, 0.3) == {(Change.modified, str(a))}
    finally:
        w.close()


def test_recursive_follows_new_and_moved_folders_but_not_spares(tmp_path: Path) -> None:
    (tmp_path / "AB").mkdir()
    (tmp_path / SPARE_DIR).mkdir()
    w = Watches(str(tmp_path), recursive=True)
    try:
        (tmp_path / "AB" / "ABX.jwt").write_text("1")
        (tmp_path / SPARE_DIR / "spare").write_text("ours")
        (tmp_path / "CD" / "deeper").mkdir(parents=True)  # a new tree: watched as it appears
        drain(w, 0.3)
        (tmp_path / "CD" / "deeper" / "CDX.jwt").write_text("2")
        got = drain(w, 0.3)
        assert (Change.modified, str(tmp_path / "CD" / "deeper" / "CDX.jwt")) in got
        shutil.move(str(tmp_path / "AB"), str(tmp_path.parent / f"{tmp_path.name}-moved-away"))
        got = drain(w, 0.3)
        assert (Change.deleted, str(tmp_path / "AB")) in got
        (tmp_path.parent / f"{tmp_path.name}-moved-away" / "ABX.jwt").write_text("gone from the store")
        (tmp_path / SPARE_DIR / "spare").write_text("still ours")
        assert drain(w, 0.3) == set()  # neither the moved folder nor the spares are reported
        assert w.error is None
    finally:
        w.close()
        shutil.rmtree(tmp_path.parent / f"{tmp_path.name}-moved-away", ignore_errors=True)


def test_odd_names_are_kept_as_the_os_decodes_them(tmp_path: Path) -> None:
    w = Watches(str(tmp_path), recursive=False)
    try:
        name = b"\xff\xfe-not-utf8.jwt"
        with open(os.path.join(os.fsencode(tmp_path), name), "w") as f:
            f.write("x")
        got = drain(w, 0.3)
        assert (Change.added, f"{tmp_path}/{os.fsdecode(name)}") in got
    finally:
        w.close()


def test_root_removed_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "store"
    root.mkdir()
    w = Watches(str(root), recursive=False)
    try:
        root.rmdir()
        drain(w, 0.3)
        assert isinstance(w.error, FileNotFoundError)
    finally:
        w.close()


def test_missing_root_fails_at_once(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Watches(str(tmp_path / "nope"), recursive=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        Watches(str(tmp_path / "file"), recursive=False)


def test_queue_overflow_is_an_error(tmp_path: Path) -> None:
    """More events than the kernel queues (fs.inotify.max_queued_events) before anyone reads."""
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    if limit > 100_000:
        pytest.skip("queue too long to overflow quickly")
    files = [tmp_path / "A.jwt", tmp_path / "B.jwt"]
    for f in files:
        f.write_text("x")
    w = Watches(str(tmp_path), recursive=False, attrib=True)
    try:
        for i in range(limit + 10):
            os.chmod(files[i % 2], 0o644)  # two files in turn: the kernel merges an event equal to the last
        for _ in range(limit):
            w.read()
            if w.error is not None:
                break
        assert w.error is not None and "overflowed" in str(w.error)
    finally:
        w.close()


async def test_batches_on_the_loop_and_stops(tmp_path: Path) -> None:
    stop = asyncio.Event()
    watches = await inotify.install(str(tmp_path), recursive=False)  # the watch exists from here on
    gen = inotify.changes(watches, debounce_ms=200, step_ms=20, stop=stop)
    first = asyncio.ensure_future(anext(gen))
    for i in range(5):
        (tmp_path / f"K{i}.jwt").write_text("x")
        await asyncio.sleep(0.005)
    batch = await asyncio.wait_for(first, 2)
    assert {path for _, path in batch} == {str(tmp_path / f"K{i}.jwt") for i in range(5)}
    pending = asyncio.ensure_future(anext(gen))
    stop.set()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(pending, 1)


async def test_root_removed_ends_the_iterator_with_an_error(tmp_path: Path) -> None:
    root = tmp_path / "store"
    root.mkdir()
    watches = await inotify.install(str(root), recursive=False)
    gen = inotify.changes(watches, debounce_ms=50, step_ms=10, stop=asyncio.Event())
    pending = asyncio.ensure_future(anext(gen))
    root.rmdir()
    with pytest.raises(FileNotFoundError):
        await asyncio.wait_for(pending, 2)


def _inotify_fds() -> int:
    """inotify instances this process has open."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:inotify"
        except OSError:
            pass
    return count


async def test_install_builds_the_watches_off_the_loop_and_reports_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built_on: list[int] = []

    class Recorded(Watches):  # real watches that note the thread that installs them
        def _add(self, path: str) -> None:
            built_on.append(threading.get_ident())
            super()._add(path)

    monkeypatch.setattr(inotify, "Watches", Recorded)
    (tmp_path / "AB").mkdir()
    before = _inotify_fds()
    watches = await inotify.install(str(tmp_path), recursive=True)
    try:
        assert len(built_on) == 2 and threading.get_ident() not in built_on  # not the loop's thread
        assert sorted(watches._wds) == [str(tmp_path), str(tmp_path / "AB")]
        assert _inotify_fds() == before + 1
    finally:
        watches.close()
    with pytest.raises(FileNotFoundError):
        await inotify.install(str(tmp_path / "missing"), recursive=False)
    assert _inotify_fds() == before


async def test_a_cancelled_install_closes_the_watches_it_built(tmp_path: Path) -> None:
    before = _inotify_fds()
    task = asyncio.ensure_future(inotify.install(str(tmp_path), recursive=False))
    await asyncio.sleep(0)  # on its way in the worker thread
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(500):  # the thread finishes building, then the watches are closed (slower under load)
        if _inotify_fds() == before:
            break
        await asyncio.sleep(0.01)
    assert _inotify_fds() == before


def test_watches_close_once_and_when_dropped_unclosed(tmp_path: Path) -> None:
    before = _inotify_fds()
    watches = Watches(str(tmp_path), recursive=False)
    watches.close()
    watches.close()  # a second close is a no-op, not an EBADF (or a close of a reused descriptor)
    assert _inotify_fds() == before
    dropped = Watches(str(tmp_path), recursive=False)  # e.g. given to a change iterator never started
    assert _inotify_fds() == before + 1
    del dropped
    gc.collect()
    assert _inotify_fds() == before
