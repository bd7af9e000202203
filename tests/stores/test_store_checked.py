"""FileCheckedCache: cached responses of hand-edited stores are only served while their file is unchanged."""

from __future__ import annotations

import os
from pathlib import Path

from store_helpers import Minter, make_nsc, write_nsc_account

from nats_account_server.cache import make_entry
from nats_account_server.stores import DirectoryStore, NscStore
from nats_account_server.stores.checked import FileCheckedCache


def test_hit_while_unchanged_miss_after_any_change(tmp_path: Path, minter: Minter) -> None:
    key, jwt = minter.account_jwt()
    path = tmp_path / f"{key}.jwt"
    path.write_text(jwt)
    cache = FileCheckedCache(DirectoryStore(tmp_path, readonly=True), 10)
    entry = make_entry(jwt, "j1", 0)
    cache.put(key, entry)
    assert cache.get(key) is entry and len(cache) == 1
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
    cache = FileCheckedCache(DirectoryStore(tmp_path, readonly=True), 10)
    cache.put(key, make_entry("something else", "j", 0))  # the file changed since it was loaded
    assert cache.get(key) is None
    cache.put(key, make_entry(jwt, "j", 0))  # a trailing newline is not content
    assert cache.get(key) is not None
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
    cache = FileCheckedCache(store, 2)
    for key, jwt in keys:
        cache.put(key, make_entry(jwt, "j", 0))
    assert len(cache) == 2 and cache.get(keys[0][0]) is None
    cache.drop(keys[2][0])
    assert cache.get(keys[2][0]) is None and len(cache) == 1
    off = FileCheckedCache(store, 0)
    off.put(keys[0][0], make_entry(keys[0][1], "j", 0))
    assert len(off) == 0


def test_nsc_store_entries(tmp_path: Path, minter: Minter) -> None:
    ka, ja = minter.account_jwt(name="alpha")
    op = make_nsc(tmp_path, minter, {"alpha": ja})
    store = NscStore(op)
    cache = FileCheckedCache(store, 10)
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
