"""Core writes into a directory store (core.save_if_newer / core.save through groupcommit).

Real files, a real one-thread IO executor and a real event loop; JWTs of both generations.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from nats_account_server.core.kinds import Kind
from nats_account_server.core.service import Core
from nats_account_server.core.store import Version
from nats_account_server.core.trust import load_trust
from nats_account_server.core.verdict import Saved
from nats_account_server.jwt import decode_account
from nats_account_server.stores import DirectoryStore, StoreError
from tests.support.trust import Trust as Fixture


class RecordingStore(DirectoryStore):
    """A directory store that remembers the size of every group it was asked to write."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.groups: list[int] = []

    def save_many(
        self, items: Sequence[tuple[str, str]], versions: Sequence[Version | None] | None = None
    ) -> list[StoreError | None]:
        self.groups.append(len(items))
        return super().save_many(items, versions)


async def upload(core: Core, key: str, jwt: str) -> Saved:
    return await core.save_if_newer(Kind.ACCOUNT, key, decode_account(jwt))


@pytest.fixture(params=[2, 1], ids=["v2", "v1"])
def fx(request: pytest.FixtureRequest, tmp_path: Path) -> Fixture:
    names = [f"A{i}" for i in range(40)]
    return Fixture(tmp_path / "trust", version=request.param, accounts=names)


async def test_concurrent_uploads_are_written_in_groups_under_newer_wins(fx: Fixture, tmp_path: Path) -> None:
    store = RecordingStore(tmp_path / "store")
    core = Core(store, load_trust(str(fx.operator_jwt_path), ""))
    now = int(time.time())
    names = [f"A{i}" for i in range(40)]
    stored = {n: fx.account_jwt(n, iat=now) for n in names}
    for n in names:  # one at a time: groups of one
        assert await upload(core, fx.pub(n), stored[n]) is Saved.SAVED
    assert store.groups == [1] * 40

    newer = {n: fx.account_jwt(n, iat=now + 10) for n in names[:20]}
    older = {n: fx.account_jwt(n, iat=now - 10) for n in names[20:]}
    uploads = [*newer.items(), *older.items(), *((n, stored[n]) for n in names[:5])]
    verdicts = await asyncio.gather(*(upload(core, fx.pub(n), jwt) for n, jwt in uploads))

    # newer ones replace; older ones and re-uploads of the same jti keep the stored JWT
    assert verdicts[:20] == [Saved.SAVED] * 20
    assert verdicts[20:40] == [Saved.OLDER] * 20
    assert all(v in (Saved.OLDER, Saved.UNCHANGED) for v in verdicts[40:])  # raced with its newer one
    for n in names:
        assert store.load(fx.pub(n)) == (newer.get(n) or stored[n])
    assert max(store.groups[40:]) > 1  # concurrent uploads shared jobs
    assert sum(store.groups[40:]) == 20  # only the replacing uploads were written
    core.close()


async def test_a_failed_write_fails_only_its_upload(fx: Fixture, tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    core = Core(store, load_trust(str(fx.operator_jwt_path), ""))
    blocked = fx.pub("A1")
    Path(store.path_for(blocked)).mkdir()  # its file can't be replaced
    results = await asyncio.gather(
        *(upload(core, fx.pub(n), fx.account_jwt(n)) for n in ("A0", "A1", "A2")),
        return_exceptions=True,
    )
    assert results[0] is Saved.SAVED and results[2] is Saved.SAVED
    assert isinstance(results[1], StoreError)
    assert store.load(fx.pub("A0")) and store.load(fx.pub("A2"))
    core.close()


async def test_newer_wins_checks_a_hand_edited_file_not_what_we_saved(fx: Fixture, tmp_path: Path) -> None:
    """The newer-wins check trusts the iat/jti of our latest save only while the file is what that
    save left (one stat); after a hand edit it reads the file again."""
    store = RecordingStore(tmp_path / "store")
    core = Core(store, load_trust(str(fx.operator_jwt_path), ""))
    now, key = int(time.time()), fx.pub("A0")
    first = fx.account_jwt("A0", iat=now)
    assert await upload(core, key, first) is Saved.SAVED
    assert store.saved_version(key) == (decode_account(first).iat, decode_account(first).jti)
    # from what we saved: the same JWT is unchanged, an older one loses, a newer one wins
    assert await upload(core, key, first) is Saved.UNCHANGED
    assert await upload(core, key, fx.account_jwt("A0", iat=now - 5)) is Saved.OLDER
    assert await upload(core, key, fx.account_jwt("A0", iat=now + 5)) is Saved.SAVED
    # a hand edit puts a much newer JWT there: an upload newer than our save but older than the file loses
    by_hand = fx.account_jwt("A0", iat=now + 100)
    Path(store.path_for(key)).write_text(by_hand)
    assert store.saved_version(key) is None
    assert await upload(core, key, fx.account_jwt("A0", iat=now + 50)) is Saved.OLDER
    assert store.load(key) == by_hand
    # the file removed by hand: anything is accepted again
    Path(store.path_for(key)).unlink()
    assert store.saved_version(key) is None
    assert await upload(core, key, fx.account_jwt("A0", iat=now + 10)) is Saved.SAVED
    assert store.saved_version(fx.pub("A1")) is None  # never saved: no stat, no trust
    core.close()


async def test_a_miss_the_marked_index_saw_is_not_looked_up_twice(
    fx: Fixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The GET hot path asks the cache first; a writable store's marked index then knows the file is
    missing, and the core answers the 404 with no second look at the filesystem, but a file made
    after that look is served, and the system account still comes from the configuration (v1 + v2)."""
    from nats_account_server.stores.fileindex import FileIndexCache
    from nats_account_server.stores.marks import Marks

    store = DirectoryStore(tmp_path / "store")
    marks = Marks.open(store.root)
    assert marks is not None
    core = Core(
        store,
        load_trust(str(fx.operator_jwt_path), str(fx.system_account_jwt_path)),
        cache=FileIndexCache(store, 100, hot=True, marks=marks),
    )
    looks: list[str] = []
    real_stat = os.stat

    def stat(path: str, *args: object, **kwargs: object) -> os.stat_result:
        if str(path).endswith(".jwt"):
            looks.append(os.path.basename(path))
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "stat", stat)
    missing = fx.pub("A1")
    assert core.cache.get(missing) is None
    assert await core.miss(Kind.ACCOUNT, missing) is None
    assert looks == [f"{missing}.jwt"]  # one look for a 404

    jwt = fx.account_jwt("A1")
    store.save(missing, jwt)  # appears after a look found nothing: the next look sees it
    assert core.cache.get(missing) is None  # there, not verified yet
    entry = await core.miss(Kind.ACCOUNT, missing)
    assert entry is not None and entry.body == jwt.encode()

    system = fx.system_account
    looks.clear()
    assert core.cache.get(system) is None
    entry = await core.miss(Kind.ACCOUNT, system)
    assert entry is not None and entry.body == core.trust.system_account_jwt.encode()
    assert looks == [f"{system}.jwt"]
    core.close()


async def test_per_key_write_locks_live_only_while_writes_are_in_flight(fx: Fixture, tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    core = Core(store, load_trust(str(fx.operator_jwt_path), ""))
    now = int(time.time())
    names = [f"A{i}" for i in range(40)]
    try:
        # many writers per key at once (newer and older versions), over many keys
        jobs = [upload(core, fx.pub(n), fx.account_jwt(n, iat=now + d)) for n in names for d in (0, 5, -5, 9)]
        results = await asyncio.gather(*jobs)
        assert results.count(Saved.SAVED) >= len(names)
        assert core._locks == {}  # noqa: SLF001 - the map of per-key locks is what must not grow
        for n in names:
            assert decode_account(store.load(fx.pub(n)) or "").iat == now + 9
        # later writes make a key's lock again and drop it again
        for n in names[:5]:
            assert await upload(core, fx.pub(n), fx.account_jwt(n, iat=now + 20)) is Saved.SAVED
        assert core._locks == {}  # noqa: SLF001
    finally:
        core.close()
