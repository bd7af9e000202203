"""Streaming walks of a directory store: every key once, from the path GET serves when it is there."""

from __future__ import annotations

import types
from pathlib import Path

from store_helpers import Minter

from nats_account_server.stores import DirectoryStore
from nats_account_server.stores.spares import SPARE_DIR
from nats_account_server.stores.walk import key_from_filename, store_files


def test_walk_streams_each_key_once_preferring_its_own_path(tmp_path: Path, minter: Minter) -> None:
    store = DirectoryStore(tmp_path, shard=True)
    a, b, c = (minter.account_key() for _ in range(3))
    jwt_a, jwt_b, jwt_c = (minter.account_jwt(k)[1] for k in (a, b, c))
    store.save(a, jwt_a)
    (tmp_path / f"{a}.jwt").write_text("flat copy of a")  # the other layout: GET serves the shard's
    (tmp_path / f"{b}.jwt").write_text(jwt_b)  # only in the flat layout: served from there
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / f"{b}.jwt").write_text("a deeper copy of b")  # a second stray copy: not again
    (tmp_path / SPARE_DIR).mkdir(exist_ok=True)
    (tmp_path / SPARE_DIR / f"{c}.jwt").write_text(jwt_c)  # our spare folder: never walked
    (tmp_path / "notes.txt").write_text("not a JWT")
    walked = store_files(str(tmp_path), store.path_for)
    assert isinstance(walked, types.GeneratorType)  # streamed, not a listing
    found = list(walked)
    assert sorted(key for key, _ in found) == sorted([a, b])
    assert dict(found)[a] == store.path_for(a)
    streamed = dict(store.stream())
    assert streamed[a] == jwt_a and streamed[b] in (jwt_b, "a deeper copy of b")  # strays: the first found
    assert store.counts() == (2, 0)
    assert sorted(store.account_keys()) == sorted([a, b])
    assert len(store.pack(1)) == 1 and store.pack(0) == []


def test_key_from_filename() -> None:
    assert key_from_filename("notes.txt") is None
    assert key_from_filename(".AB.jwt.0123.tmp") is None
