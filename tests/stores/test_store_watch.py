"""StoreWatcher on real files: in-place edits, renames, new shard dirs, nsc folders; and silences."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from store_helpers import Minter, activation_hash, make_nsc, write_nsc_account

from nats_account_server.stores import DirectoryStore, MemoryStore, NscStore, StoreWatcher
from nats_account_server.stores import inotify as inotify_module
from nats_account_server.stores import watch as watch_module

Events = asyncio.Queue[tuple[str, str]]


@pytest.fixture(params=["inotify", "watchfiles"], autouse=True)
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs on both sources of changes: inotify on the loop and watchfiles' awatch (what
    a platform without inotify gets)."""
    if request.param == "watchfiles":
        monkeypatch.setattr(inotify_module, "available", lambda: False)
    return str(request.param)


@asynccontextmanager
async def watching(
    store: DirectoryStore | NscStore, *, sync: bool = False, track_content: bool = True
) -> AsyncIterator[Events]:
    queue: Events = asyncio.Queue()

    async def on_change_async(key: str, jwt: str) -> None:
        await queue.put((key, jwt))

    def on_change_sync(key: str, jwt: str) -> None:
        queue.put_nowait((key, jwt))

    watcher = StoreWatcher(store, on_change_sync if sync else on_change_async, track_content=track_content)
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    await asyncio.wait_for(watcher.ready.wait(), 5)
    try:
        yield queue
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def expect(queue: Events, key: str, jwt: str, within: float = 1.0) -> None:
    assert await asyncio.wait_for(queue.get(), within) == (key, jwt)


async def silence(queue: Events, wait: float = 0.5) -> None:
    await asyncio.sleep(wait)
    assert queue.empty(), queue.get_nowait()


def replace_via_temp(path: Path, content: str) -> None:
    tmp = path.parent / f".{path.name}.swp"
    tmp.write_text(content)
    os.replace(tmp, path)


@pytest.mark.parametrize("sync", [False, True])
async def test_modify_in_place(tmp_path: Path, minter: Minter, sync: bool) -> None:
    key, jwt = minter.account_jwt()
    path = tmp_path / f"{key}.jwt"
    path.write_text(jwt)
    store = DirectoryStore(tmp_path, readonly=True)
    async with watching(store, sync=sync) as q:
        await silence(q, 0.2)  # existing content is not announced
        _, jwt2 = minter.account_jwt(key, name="v2")
        path.write_text(jwt2)
        await expect(q, key, jwt2)


async def test_write_temp_then_rename(tmp_path: Path, minter: Minter) -> None:
    key, jwt = minter.account_jwt()
    path = tmp_path / f"{key}.jwt"
    path.write_text(jwt)
    async with watching(DirectoryStore(tmp_path, readonly=True)) as q:
        _, jwt2 = minter.account_jwt(key, name="renamed")
        replace_via_temp(path, jwt2)
        await expect(q, key, jwt2)
        # a brand-new file created by rename is announced too
        k3, j3 = minter.account_jwt()
        replace_via_temp(tmp_path / f"{k3}.jwt", j3)
        await expect(q, k3, j3)
        await silence(q, 0.3)


async def test_new_shard_directory(tmp_path: Path, minter: Minter) -> None:
    store = DirectoryStore(tmp_path, shard=True, readonly=True)
    async with watching(store) as q:
        key, jwt = minter.account_jwt()
        shard = tmp_path / key[-2:]
        shard.mkdir()
        (shard / f"{key}.jwt").write_text(jwt)
        await expect(q, key, jwt)
        _, jwt2 = minter.account_jwt(key, name="again")
        (shard / f"{key}.jwt").write_text(jwt2)
        await expect(q, key, jwt2)


async def test_store_saves_are_seen(tmp_path: Path, minter: Minter) -> None:
    """The writer here is another DirectoryStore on the same folder (atomic temp + rename)."""
    writer = DirectoryStore(tmp_path, shard=True)
    async with watching(DirectoryStore(tmp_path, shard=True, readonly=True)) as q:
        key, jwt = minter.account_jwt()
        await asyncio.to_thread(writer.save, key, jwt)
        await expect(q, key, jwt)
        await silence(q, 0.3)


async def test_ignored_changes(tmp_path: Path, minter: Minter) -> None:
    key, jwt = minter.account_jwt()
    path = tmp_path / f"{key}.jwt"
    path.write_text(jwt)
    async with watching(DirectoryStore(tmp_path, readonly=True)) as q:
        path.write_text(jwt)  # identical content
        replace_via_temp(path, jwt)
        (tmp_path / f"{activation_hash('x')}.jwt").write_text("activation")
        (tmp_path / f"{key}.txt").write_text(jwt)
        (tmp_path / "notes").write_text("hello")
        (tmp_path / f".{key}.jwt.abc.tmp").write_text(jwt + "x")
        other = minter.account_key()
        (tmp_path / "sub").mkdir()
        (tmp_path / "sub" / f"{other}.jwt").write_text(jwt)  # outside the flat layout
        path.unlink()
        await silence(q, 0.6)
        # deleted then re-created: new content is announced
        _, jwt2 = minter.account_jwt(key, name="back")
        path.write_text(jwt2)
        await expect(q, key, jwt2)


async def test_nsc_rewrite_and_new_account(tmp_path: Path, minter: Minter) -> None:
    ka, ja = minter.account_jwt(name="alpha")
    op = make_nsc(tmp_path, minter, {"alpha": ja})
    store = NscStore(op)
    async with watching(store) as q:
        _, ja2 = minter.account_jwt(ka, name="alpha2")
        write_nsc_account(op, "alpha", ja2)
        await expect(q, ka, ja2)
        kb, jb = minter.account_jwt(name="beta")
        write_nsc_account(op, "beta", jb)
        await expect(q, kb, jb)
        assert store.load(kb) == jb  # index refreshed by the watcher
        upub, ujwt = minter.user_jwt(ka)
        (op / "accounts" / "alpha" / "users").mkdir()
        (op / "accounts" / "alpha" / "users" / "u.jwt").write_text(ujwt)
        (op / "Op.jwt").write_text(minter.operator_jwt("Op2"))
        await silence(q, 0.5)


async def test_failure_is_logged_and_retried(
    tmp_path: Path, minter: Minter, monkeypatch: pytest.MonkeyPatch
) -> None:
    real: Callable[..., object] = watch_module.watch_changes
    attempts = 0

    def flaky(*args: object, **kwargs: object) -> object:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise OSError("inotify limit reached")
        return real(*args, **kwargs)

    monkeypatch.setattr(watch_module, "watch_changes", flaky)
    key, jwt = minter.account_jwt()
    (tmp_path / f"{key}.jwt").write_text(jwt)
    store = DirectoryStore(tmp_path, readonly=True)
    queue: Events = asyncio.Queue()
    watcher = StoreWatcher(store, lambda k, j: queue.put_nowait((k, j)), retry_pause=0.1)
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    try:
        await asyncio.wait_for(watcher.ready.wait(), 5)
        assert attempts == 2
        _, jwt2 = minter.account_jwt(key, name="after")
        (tmp_path / f"{key}.jwt").write_text(jwt2)
        await expect(queue, key, jwt2)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_stop_and_cancel_are_prompt(tmp_path: Path) -> None:
    watcher = StoreWatcher(DirectoryStore(tmp_path, readonly=True), lambda k, j: None)
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    await asyncio.wait_for(watcher.ready.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 1)
    watcher = StoreWatcher(DirectoryStore(tmp_path, readonly=True), lambda k, j: None)
    stop2 = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop2))
    await asyncio.wait_for(watcher.ready.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
    assert not stop2.is_set()


async def test_only_file_stores_offer_a_watcher(tmp_path: Path) -> None:
    async def changed(key: str, jwt: str) -> None:
        return None

    assert MemoryStore().watcher(changed, lambda key: None) is None  # nobody else writes it
    watcher = DirectoryStore(tmp_path, readonly=True).watcher(changed, lambda key: None)
    assert isinstance(watcher, StoreWatcher) and watcher.track_content


async def test_deletions_reported_on_the_loop(tmp_path: Path, minter: Minter) -> None:
    """Deleted account files reach ``on_delete`` with their key, on the event loop thread."""
    store = DirectoryStore(tmp_path, shard=True, readonly=True)
    keys = []
    for _ in range(2):
        key, jwt = minter.account_jwt()
        (tmp_path / key[-2:]).mkdir(exist_ok=True)
        (tmp_path / key[-2:] / f"{key}.jwt").write_text(jwt)
        keys.append(key)
    deleted: asyncio.Queue[tuple[str, bool]] = asyncio.Queue()
    loop_thread = threading.get_ident()
    watcher = StoreWatcher(
        store,
        lambda k, j: None,
        on_delete=lambda k: deleted.put_nowait((k, threading.get_ident() == loop_thread)),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    try:
        await asyncio.wait_for(watcher.ready.wait(), 5)
        (tmp_path / keys[0][-2:] / f"{keys[0]}.jwt").unlink()
        assert await asyncio.wait_for(deleted.get(), 2) == (keys[0], True)
        # a whole shard folder moved away: the known key whose file is gone
        os.rename(tmp_path / keys[1][-2:], tmp_path / "away")
        assert await asyncio.wait_for(deleted.get(), 2) == (keys[1], True)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_nsc_deleted_account_is_named(tmp_path: Path, minter: Minter) -> None:
    ka, ja = minter.account_jwt(name="alpha")
    kb, jb = minter.account_jwt(name="beta")
    op = make_nsc(tmp_path, minter, {"alpha": ja, "beta": jb})
    deleted: asyncio.Queue[str] = asyncio.Queue()
    queue: Events = asyncio.Queue()
    watcher = StoreWatcher(NscStore(op), lambda k, j: queue.put_nowait((k, j)), on_delete=deleted.put_nowait)
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    try:
        await asyncio.wait_for(watcher.ready.wait(), 5)
        (op / "accounts" / "beta" / "beta.jwt").unlink()
        assert await asyncio.wait_for(deleted.get(), 2) == kb
        # the same content written again after the deletion is announced (it was gone)
        write_nsc_account(op, "beta", jb)
        await expect(queue, kb, jb)
        # rewriting alpha unchanged in the same burst as a folder removal stays silent
        write_nsc_account(op, "alpha", ja)
        shutil.rmtree(op / "accounts" / "beta")
        assert await asyncio.wait_for(deleted.get(), 2) == kb
        await silence(queue, 0.5)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_untracked_content_reports_every_change(tmp_path: Path, minter: Minter) -> None:
    """``track_content=False`` (writable stores): no prefetch, identical rewrites are reported too."""
    key, jwt = minter.account_jwt()
    path = tmp_path / f"{key}.jwt"
    path.write_text(jwt)
    store = DirectoryStore(tmp_path)
    queue: Events = asyncio.Queue()
    watcher = StoreWatcher(store, lambda k, j: queue.put_nowait((k, j)), track_content=False)
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    try:
        await asyncio.wait_for(watcher.ready.wait(), 5)
        assert watcher._last == {}
        path.write_text(jwt)
        await expect(queue, key, jwt)
        assert watcher._last == {}
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_trailing_newline_is_not_content(tmp_path: Path, minter: Minter) -> None:
    """Editors add a final newline: the store serves the JWT without it, and it is no change."""
    key, jwt = minter.account_jwt()
    path = tmp_path / f"{key}.jwt"
    path.write_text(jwt)
    store = DirectoryStore(tmp_path, readonly=True)
    async with watching(store) as q:
        path.write_text(jwt + "\n")
        await silence(q, 0.4)
        assert store.load(key) == jwt
        _, jwt2 = minter.account_jwt(key, name="edited")
        path.write_text(jwt2 + "\r\n")
        await expect(q, key, jwt2)


async def test_own_saves_are_not_echoed_but_hand_edits_are(tmp_path: Path, minter: Minter) -> None:
    """A writable store's own saves already updated the cache: their inotify echo is skipped (no
    re-read); a hand edit of the same file right after is still reported."""
    store = DirectoryStore(tmp_path)
    async with watching(store, sync=True, track_content=False) as queue:
        key, jwt = minter.account_jwt()
        store.save(key, jwt)
        _, jwt2 = minter.account_jwt(key, name="second")
        store.save(key, jwt2)
        await silence(queue, 0.4)
        _, edited = minter.account_jwt(key, name="edited by hand")
        (tmp_path / f"{key}.jwt").write_text(edited)
        await expect(queue, key, edited)


async def test_a_swap_into_place_is_not_a_deletion(tmp_path: Path, minter: Minter) -> None:
    """Saves swap files in (RENAME_EXCHANGE, stores/spares.py), which inotify reports as the target
    deleted and added: that must not make caches forget the key; a real deletion still does."""
    store = DirectoryStore(tmp_path)
    deleted: asyncio.Queue[str] = asyncio.Queue()
    changed: Events = asyncio.Queue()
    watcher = StoreWatcher(
        store, lambda k, j: changed.put_nowait((k, j)), on_delete=deleted.put_nowait, track_content=False
    )
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    try:
        await asyncio.wait_for(watcher.ready.wait(), 5)
        key, jwt = minter.account_jwt()
        for n in range(4):
            store.save(key, minter.account_jwt(key, name=f"v{n}")[1])
        await asyncio.sleep(0.4)
        assert deleted.empty() and changed.empty()
        (tmp_path / f"{key}.jwt").unlink()
        assert await asyncio.wait_for(deleted.get(), 2) == key
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


def test_attribute_events_where_marks_need_echoes(tmp_path: Path, engine: str) -> None:
    """A writable store's verified marks are attribute writes: the server registers them as echoes
    only where its watcher hears of attributes (else each stamp would wait for an event in vain)."""
    store = DirectoryStore(tmp_path)
    assert StoreWatcher(DirectoryStore(tmp_path, readonly=True), print, track_content=True).hears_attributes
    assert StoreWatcher(store, print, track_content=False).hears_attributes is (engine == "watchfiles")
