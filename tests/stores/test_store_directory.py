"""DirectoryStore: layout, byte-exact files, key hygiene, atomic saves, pack, read-only mode."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from store_helpers import Minter, activation_hash, tree, umask

from nats_account_server.stores import DirectoryStore, ReadOnlyError, Store, StoreError
from nats_account_server.stores.spares import SPARE_DIR
from nats_account_server.stores.writer import LOCK_FILE

ACCOUNT1 = "ACATS5YOVB6ROX2WUNKGNQ2MP3GMXDMKSG2O4N5CLX3A6W4PZGZZIL2R"


def test_flat_layout_byte_exact(tmp_path: Path, minter: Minter) -> None:
    root = tmp_path / "store"
    store = DirectoryStore(root)
    assert isinstance(store, Store)
    assert store.description == f"creating a store at {root}"
    key, jwt = minter.account_jwt()
    store.save(key, jwt)
    path = root / f"{key}.jwt"
    assert path.read_bytes() == jwt.encode()  # no newline added
    assert store.load(key) == jwt
    # the (hidden) folder of temp files and spares, and the lock that keeps a second writer away
    assert tree(root) == {f"{key}.jwt", SPARE_DIR, LOCK_FILE}
    store.close()
    assert tree(root) == {f"{key}.jwt"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o644 & ~umask()


def test_sharded_layout(tmp_path: Path, minter: Minter) -> None:
    store = DirectoryStore(tmp_path, shard=True)
    _, jwt = minter.account_jwt()
    store.save(ACCOUNT1, jwt)
    assert (tmp_path / "2R" / f"{ACCOUNT1}.jwt").read_text() == jwt
    assert stat.S_IMODE((tmp_path / "2R").stat().st_mode) == 0o755 & ~umask()
    act = activation_hash("sharded")
    store.save(act, "activation-jwt")
    assert (tmp_path / "==" / f"{act}.jwt").read_text() == "activation-jwt"
    assert store.load(act) == "activation-jwt"
    assert store.load(ACCOUNT1) == jwt


def test_creates_root_with_parents(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b" / "c"
    DirectoryStore(root)
    assert root.is_dir()


@pytest.mark.parametrize("shard", [False, True])
def test_a_deleted_and_recreated_store_folder_takes_writes_again(
    tmp_path: Path, minter: Minter, shard: bool
) -> None:
    import shutil

    root = tmp_path / "store"
    store = DirectoryStore(root, shard=shard)
    key, jwt = minter.account_jwt()
    store.save(key, jwt)
    assert store.health() is None and store.counts() == (1, 0)
    shutil.rmtree(root)
    assert store.health() == f"store directory {root} does not exist"
    with pytest.raises(StoreError):
        store.save(key, jwt)
    assert not root.exists()  # a write never brings back a store folder someone removed
    root.mkdir()
    store.save(key, jwt)  # the folder of temp files is made again
    store.save(activation_hash("again"), "activation-jwt")
    assert store.load(key) == jwt and store.counts() == (1, 1) and store.health() is None
    store.close()


@pytest.mark.parametrize("shard", [False, True])
def test_hand_dropped_files_served(tmp_path: Path, minter: Minter, shard: bool) -> None:
    store = DirectoryStore(tmp_path, shard=shard)
    key, jwt = minter.account_jwt()
    assert store.load(key) is None
    path = tmp_path / key[-2:] / f"{key}.jwt" if shard else tmp_path / f"{key}.jwt"
    path.parent.mkdir(exist_ok=True)
    path.write_text(jwt)
    assert store.load(key) == jwt
    _, jwt2 = minter.account_jwt(key, name="edited")
    path.write_text(jwt2)
    assert store.load(key) == jwt2  # read on every request, no cache


def _bad_keys(minter: Minter) -> list[str]:
    acc = minter.account_key()
    seed = minter.accounts[acc]
    return [
        "",
        "A",
        "..",
        "../x",
        "a/b",
        "/etc/passwd",
        "..\\x",
        acc.lower(),
        acc + "\x00",
        acc[:-1] + "\x00",
        acc + "/..",
        "../" + acc,
        acc[:-1] + ("A" if acc[-1] != "A" else "B"),  # bad CRC
        seed,
        minter.op_pub,
        activation_hash("x").lower(),
        activation_hash("x")[:-1],
        "x" * 56 + "====",
    ]


@pytest.mark.parametrize("shard", [False, True])
def test_invalid_keys_never_touch_the_filesystem(tmp_path: Path, minter: Minter, shard: bool) -> None:
    root = tmp_path / "store"
    store = DirectoryStore(root, shard=shard)
    (tmp_path / "x.jwt").write_text("outside")
    (root / "..jwt").write_text("dotfile")
    before = tree(tmp_path)
    for bad in _bad_keys(minter):
        assert store.load(bad) is None, bad
        with pytest.raises(StoreError):
            store.save(bad, "jwt")
    assert tree(tmp_path) == before


def test_atomic_save_leaves_no_temp_files(tmp_path: Path, minter: Minter) -> None:
    store = DirectoryStore(tmp_path, shard=True)
    key, jwt = minter.account_jwt()
    for i in range(20):
        store.save(key, f"{jwt}{i}")
    spares = tree(tmp_path) - {key[-2:], f"{key[-2:]}/{key}.jwt", SPARE_DIR, LOCK_FILE}
    assert all(p.startswith(f"{SPARE_DIR}/.") and p.endswith(".tmp") for p in spares)
    store.close()  # spare inodes are unlinked
    assert tree(tmp_path) == {key[-2:], f"{key[-2:]}/{key}.jwt"}
    assert store.load(key) == f"{jwt}19"


@pytest.mark.parametrize("shard", [False, True])
def test_save_many_writes_a_group_and_reports_per_item(tmp_path: Path, minter: Minter, shard: bool) -> None:
    store = DirectoryStore(tmp_path, shard=shard)
    good = [minter.account_jwt() for _ in range(5)]
    blocked_key = minter.account_key()
    os.makedirs(store.path_for(blocked_key))  # a directory where its file should go: rename fails
    items = [*good[:2], ("../escape", "jwt"), (blocked_key, "jwt"), *good[2:]]
    errors = store.save_many(items)
    assert [e is None for e in errors] == [True, True, False, False, True, True, True]
    assert "invalid store key" in str(errors[2]) and "error saving JWT to" in str(errors[3])
    for key, jwt in good:
        assert store.load(key) == jwt
    store.close()
    leftovers = [p for p in tree(tmp_path) if p.endswith(".tmp")]
    assert leftovers == [] and not (tmp_path.parent / "escape").exists()


def test_save_many_into_a_readonly_store_raises(tmp_path: Path, minter: Minter) -> None:
    with pytest.raises(ReadOnlyError):
        DirectoryStore(tmp_path, readonly=True).save_many([minter.account_jwt()])
    assert tree(tmp_path) == set()


def test_reader_never_sees_partial_content(tmp_path: Path, minter: Minter) -> None:
    store = DirectoryStore(tmp_path)
    key = minter.account_key()
    values = [c * (512 * 1024) + "." + str(i) for i, c in enumerate("abcdefgh")]
    allowed = set(values)
    store.save(key, values[0])
    stop = threading.Event()
    bad: list[str] = []

    def writer() -> None:
        i = 0
        while not stop.is_set():
            store.save(key, values[i % len(values)])
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(300):
            got = store.load(key)
            if got not in allowed:
                bad.append(repr(got)[:40])
    finally:
        stop.set()
        t.join()
    assert not bad
    store.close()
    assert [p.name for p in tmp_path.iterdir()] == [f"{key}.jwt"]


def test_load_errors(tmp_path: Path, minter: Minter) -> None:
    store = DirectoryStore(tmp_path)
    key = minter.account_key()
    (tmp_path / f"{key}.jwt").write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(StoreError):
        store.load(key)
    key2 = minter.account_key()
    (tmp_path / f"{key2}.jwt").mkdir()
    with pytest.raises(StoreError):
        store.load(key2)
    with pytest.raises(StoreError):
        store.save(key2, "jwt")  # a directory is in the way


def test_pack(tmp_path: Path, minter: Minter) -> None:
    store = DirectoryStore(tmp_path)
    expected = {}
    for _ in range(3):
        k, j = minter.account_jwt()
        store.save(k, j)
        expected[k] = j
    act = activation_hash("p")
    store.save(act, "activation")
    expected[act] = "activation"
    # junk that must not be packed
    (tmp_path / "notakey.jwt").write_text("junk")
    (tmp_path / "README").write_text("junk")
    (tmp_path / f".{act}.jwt.123.tmp").write_text("junk")
    assert dict(store.pack()) == expected
    assert len(store.pack()) == 4
    assert store.pack(0) == []
    assert len(store.pack(2)) == 2
    assert dict(store.pack(2)).items() <= expected.items()
    assert dict(store.pack(-1)) == expected
    assert store.account_keys() == sorted(k for k in expected if k != act)


def test_pack_reads_other_layouts(tmp_path: Path, minter: Minter) -> None:
    writer = DirectoryStore(tmp_path)
    k1, j1 = minter.account_jwt()
    writer.save(k1, j1)
    writer.close()  # one writer at a time: the sharded one takes over, a flat reader looks on
    flat = DirectoryStore(tmp_path, readonly=True)
    sharded = DirectoryStore(tmp_path, shard=True)
    k2, j2 = minter.account_jwt()
    sharded.save(k2, j2)
    assert dict(sharded.pack()) == {k1: j1, k2: j2}
    assert dict(flat.pack()) == {k1: j1, k2: j2}
    # if a key exists in both layouts, the copy this store serves wins
    sharded.save(k1, j1 + "sharded")
    assert dict(sharded.pack())[k1] == j1 + "sharded"
    assert dict(flat.pack())[k1] == j1


def test_empty_pack(tmp_path: Path) -> None:
    assert DirectoryStore(tmp_path).pack() == []


def test_readonly(tmp_path: Path, minter: Minter) -> None:
    key, jwt = minter.account_jwt()
    (tmp_path / f"{key}.jwt").write_text(jwt)
    store = DirectoryStore(tmp_path, readonly=True)
    assert store.readonly
    assert store.description == f"creating a read-only store at {tmp_path}"
    assert store.load(key) == jwt
    with pytest.raises(ReadOnlyError, match="^store is read-only$"):
        store.save(key, jwt)
    assert dict(store.pack()) == {key: jwt}


def test_readonly_root_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(StoreError) as e:
        DirectoryStore(missing, readonly=True)
    assert str(e.value) == f"the path [{missing}] doesn't exist"
    assert not missing.exists()
    afile = tmp_path / "file"
    afile.write_text("")
    with pytest.raises(StoreError) as e:
        DirectoryStore(afile, readonly=True)
    assert str(e.value) == f"the path [{afile}] is not a directory"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError) as e:
        DirectoryStore("rel", readonly=True)
    assert str(e.value) == f"the path [{os.path.join(tmp_path, 'rel')}] doesn't exist"


def test_writable_root_is_a_file(tmp_path: Path) -> None:
    afile = tmp_path / "file"
    afile.write_text("")
    with pytest.raises(StoreError):
        DirectoryStore(afile)
    with pytest.raises(StoreError, match="doesn't exist"):
        DirectoryStore(tmp_path / "nope", create=False)


def test_own_write_marks_are_consumed_once_and_see_later_edits(tmp_path: Path, minter: Minter) -> None:
    """The watcher's echo test: true only for the file exactly as our latest save left it."""
    store = DirectoryStore(tmp_path / "store")
    key, _ = minter.account_jwt()
    path = store.path_for(key)
    store.save(key, "x.y.z")
    assert store.is_own_write(path)
    assert not store.is_own_write(path)  # the echo is consumed
    store.save(key, "x.y.z2")
    with open(path, "a") as f:  # edited in place after our save
        f.write("edit")
    assert not store.is_own_write(path)
    store.save(key, "x.y.z3")
    (tmp_path / "other.tmp").write_text("replaced")
    os.replace(tmp_path / "other.tmp", path)  # replaced by someone else's rename
    assert not store.is_own_write(path)
