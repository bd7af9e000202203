"""FileIndexCache: a file store's indexed responses are only served while their file is unchanged."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from store_helpers import Minter, make_nsc, write_nsc_account

from nats_account_server.core.cache import make_entry
from nats_account_server.stores import DirectoryStore, NscStore
from nats_account_server.stores.fileindex import FileIndexCache


def test_hit_while_unchanged_miss_after_any_change(tmp_path: Path, minter: Minter) -> None:
    key, jwt = minter.account_jwt()
    path = tmp_path / f"{key}.jwt"
    path.write_text(jwt)
    cache = FileIndexCache(DirectoryStore(tmp_path, readonly=True), 10)
    entry = make_entry(jwt, "j1", 1234)
    cache.put(key, entry)
    hit = cache.get(key)
    assert hit is not None and len(cache) == 1
    assert (hit.body, hit.jti, hit.etag, hit.exp) == (entry.body, "j1", '"j1"', 1234)
    _, jwt2 = minter.account_jwt(key, name="other")
    path.write_text(jwt2)  # in place
    assert cache.get(key) is None and len(cache) == 0
    cache.put(key, make_entry(jwt2, "j2", 0))
    assert cache.get(key) is not None
    tmp = tmp_path / "x.tmp"
    tmp.write_text(jwt2)
    os.replace(tmp, path)  # same bytes, new inode
    assert cache.get(key) is None
    cache.put(key, make_entry(jwt2, "j2", 0))
    path.unlink()
    assert cache.get(key) is None


def test_stale_entries_and_foreign_keys_are_not_cached(tmp_path: Path, minter: Minter) -> None:
    key, jwt = minter.account_jwt()
    (tmp_path / f"{key}.jwt").write_text(jwt + "\n")
    cache = FileIndexCache(DirectoryStore(tmp_path, readonly=True), 10)
    cache.put(key, make_entry("something else", "j", 0))  # the file changed since it was loaded
    assert cache.get(key) is None
    cache.put(key, make_entry(jwt, "j", 0))  # a trailing newline is not content
    hit = cache.get(key)
    assert hit is not None and hit.body == jwt.encode()
    cache.put("../../etc/passwd", make_entry(jwt, "j", 0))
    assert cache.get("../../etc/passwd") is None
    missing, _ = minter.account_jwt()
    cache.put(missing, make_entry(jwt, "j", 0))
    assert cache.get(missing) is None
    cache.clear()
    assert len(cache) == 0


def test_capacity_and_drop(tmp_path: Path, minter: Minter) -> None:
    store = DirectoryStore(tmp_path, readonly=True)
    keys = []
    for _ in range(3):
        key, jwt = minter.account_jwt()
        (tmp_path / f"{key}.jwt").write_text(jwt)
        keys.append((key, jwt))
    cache = FileIndexCache(store, 2)
    for key, jwt in keys:
        cache.put(key, make_entry(jwt, "j", 0))
    assert len(cache) == 2 and cache.get(keys[0][0]) is None
    cache.drop(keys[2][0])
    assert cache.get(keys[2][0]) is None and len(cache) == 1
    off = FileIndexCache(store, 0)
    off.put(keys[0][0], make_entry(keys[0][1], "j", 0))
    assert len(off) == 0


def test_nsc_store_entries(tmp_path: Path, minter: Minter) -> None:
    ka, ja = minter.account_jwt(name="alpha")
    op = make_nsc(tmp_path, minter, {"alpha": ja})
    store = NscStore(op)
    cache = FileIndexCache(store, 10)
    cache.put(ka, make_entry(ja, "j", 0))
    assert cache.get(ka) is not None
    _, ja2 = minter.account_jwt(ka, name="alpha2")
    write_nsc_account(op, "alpha", ja2)
    assert cache.get(ka) is None
    cache.put(ka, make_entry(ja2, "j", 0))
    assert cache.get(ka) is not None
    hash_key = "~" + "A" * 52 + "===="  # activations never have an nsc file
    cache.put(hash_key, make_entry(ja2, "j", 0))
    assert cache.get(hash_key) is None


def test_a_hundred_thousand_entries_stay_compact(tmp_path: Path, minter: Minter) -> None:
    """The index holds stamps, not responses: well under 300 bytes per account."""
    import tracemalloc

    key, jwt = minter.account_jwt()
    (tmp_path / f"{key}.jwt").write_text(jwt)
    store = DirectoryStore(tmp_path, readonly=True)
    cache = FileIndexCache(store, 100_000)
    cache.put(key, make_entry(jwt, "J" * 52, 1_900_000_000))
    record = cache._index[hash(key)]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(100_000):
        cache._index[hash(f"{key}{i}")] = bytes(record)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert used / 100_000 < 300, used / 100_000


def test_hot_responses_in_front_of_the_index(tmp_path: Path, minter: Minter) -> None:
    """Writable stores keep busy accounts ready; evicted ones are rebuilt from the index and file."""
    from nats_account_server.stores import fileindex

    store = DirectoryStore(tmp_path)
    accounts = [minter.account_jwt() for _ in range(3)]
    for key, jwt in accounts:
        store.save(key, jwt)
    cache = FileIndexCache(store, 10, hot=True)
    assert cache.hot is not None and cache.hot_capacity == min(fileindex.HOT, 10)
    entries = [make_entry(jwt, f"j{i}", 0) for i, (_, jwt) in enumerate(accounts)]
    for (key, _), entry in zip(accounts, entries, strict=True):
        cache.put(key, entry)
    assert cache.get(accounts[0][0]) is entries[0]  # ready: one stat, no read
    cache.hot.clear()
    rebuilt = cache.get(accounts[0][0])
    assert rebuilt is not None and rebuilt is not entries[0] and rebuilt.body == entries[0].body
    assert cache.get(accounts[0][0]) is rebuilt  # promoted again
    cache.drop(accounts[0][0])
    assert cache.get(accounts[0][0]) is None and len(cache) == 2
    cache.clear()
    assert len(cache) == 0 and cache.get(accounts[1][0]) is None


def test_ready_sees_only_the_hot_responses(tmp_path: Path, minter: Minter) -> None:
    """``ready`` is the hot path's first lookup: hot entries only, one stat, never a read."""
    store = DirectoryStore(tmp_path)
    key, jwt = minter.account_jwt()
    store.save(key, jwt)
    cache = FileIndexCache(store, 10, hot=True)
    entry = make_entry(jwt, "j", 0)
    assert cache.ready(key) is None
    cache.put(key, entry)
    assert cache.ready(key) is entry
    assert cache.hot is not None
    cache.hot.clear()
    assert cache.ready(key) is None and cache.get(key) is not None  # rebuilt from the index and file
    assert cache.ready(key) is not None
    cache.drop(key)
    assert cache.ready(key) is None
    cold = FileIndexCache(DirectoryStore(tmp_path, readonly=True), 10)  # no hot set: always a miss
    cold.put(key, entry)
    assert cold.ready(key) is None and cold.get(key) is not None


@pytest.mark.parametrize("how", ["rewritten", "replaced", "removed"])
def test_a_hand_edit_is_seen_by_the_very_next_hot_hit(tmp_path: Path, minter: Minter, how: str) -> None:
    """A hot response is served only while its file has the stamp it was built from: an edit in
    place, a file replaced by rename, or a removed file is a miss on the very next lookup."""
    import os

    store = DirectoryStore(tmp_path)
    key, jwt = minter.account_jwt()
    store.save(key, jwt)
    cache = FileIndexCache(store, 10, hot=True)
    entry = make_entry(jwt, "j", 0)
    cache.put(key, entry)
    assert cache.ready(key) is entry and cache.get(key) is entry
    path = Path(store.path_for(key))
    _, other = minter.account_jwt()
    if how == "rewritten":  # same size, same inode, within the same clock tick as the save
        path.write_text(jwt[:-1] + ("A" if jwt[-1] != "A" else "B"))
    elif how == "replaced":
        (tmp_path / "new.tmp").write_text(other)
        os.replace(tmp_path / "new.tmp", path)
    else:
        path.unlink()
    assert cache.ready(key) is None and cache.get(key) is None
