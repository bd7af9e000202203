"""Verified marks (stores/marks.py): sealing is pure; the key file, attributes and the file index's
marked mode run on real files."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from store_helpers import Minter

from nats_account_server.core.cache import make_entry
from nats_account_server.stores import DirectoryStore
from nats_account_server.stores.fileindex import FileIndexCache
from nats_account_server.stores.marks import KEY_FILE, XATTR, Marks, mark_file, read_marked

SECRET = bytes(range(32))
BODY = b"eyJhbGciOiJlZDI1NTE5In0.eyJqdGkiOiJKIn0.c2ln"

# ----------------------------------------------------------------------------- pure


def test_a_seal_opens_only_for_the_same_bytes_and_secret() -> None:
    marks = Marks(SECRET)
    value = marks.seal("K", BODY, 1234, '"JTI"')
    assert marks.unseal("K", BODY, value) == (1234, '"JTI"')
    assert marks.unseal("K", BODY + b"x", value) is None
    assert marks.unseal("K", BODY[:-1] + b"M", value) is None
    assert marks.unseal("L", BODY, value) is None  # another key's file
    assert marks.unseal("K1", BODY[1:], marks.seal("K", BODY[1:], 1234, '"JTI"')) is None
    assert Marks(bytes(32)).unseal("K", BODY, value) is None


@pytest.mark.parametrize("position", [0, 15, 16, 23, 24, -1])
def test_any_flipped_byte_of_a_seal_voids_it(position: int) -> None:
    marks = Marks(SECRET)
    value = bytearray(marks.seal("K", BODY, 99, '"E"'))
    value[position] ^= 0x01
    assert marks.unseal("K", BODY, bytes(value)) is None


@pytest.mark.parametrize("value", [b"", b"short", bytes(24), bytes(100), b"\xff" * 40])
def test_garbage_attribute_values_are_not_seals(value: bytes) -> None:
    assert Marks(SECRET).unseal("K", BODY, value) is None


def test_the_secret_is_32_bytes() -> None:
    with pytest.raises(ValueError):
        Marks(b"short")


# ----------------------------------------------------------------------------- key file


def test_the_key_is_created_private_and_reused(tmp_path: Path) -> None:
    first = Marks.open(str(tmp_path))
    assert first is not None
    key = tmp_path / KEY_FILE
    assert key.stat().st_mode & 0o777 == 0o600 and key.stat().st_size == 32
    again = Marks.open(str(tmp_path))
    assert again is not None
    assert again.unseal("K", BODY, first.seal("K", BODY, 0, '"J"')) == (0, '"J"')
    assert XATTR not in os.listxattr(key)  # the support probe leaves nothing behind


@pytest.mark.parametrize("spoil", ["readable", "short", "symlink"])
def test_a_key_file_that_is_not_ours_alone_turns_marks_off(tmp_path: Path, spoil: str) -> None:
    key = tmp_path / KEY_FILE
    if spoil == "symlink":
        (tmp_path / "elsewhere").write_bytes(SECRET)
        (tmp_path / "elsewhere").chmod(0o600)
        key.symlink_to(tmp_path / "elsewhere")
    else:
        key.write_bytes(SECRET if spoil == "readable" else b"x" * 8)
        key.chmod(0o644 if spoil == "readable" else 0o600)
    assert Marks.open(str(tmp_path)) is None


def test_no_marks_where_the_store_cannot_hold_a_key(tmp_path: Path) -> None:
    assert Marks.open(str(tmp_path / "missing")) is None


# ----------------------------------------------------------------------------- files


def test_mark_file_seals_only_unchanged_content(tmp_path: Path, minter: Minter) -> None:
    marks = Marks(SECRET)
    key, jwt = minter.account_jwt()
    path = tmp_path / f"{key}.jwt"
    path.write_text(jwt + "\n")  # hand-written files often end in a newline
    assert read_marked(str(path)) == ((jwt + "\n").encode(), None)
    st = mark_file(str(path), marks, key, jwt.encode(), 77, '"J"')
    assert st is not None and st.st_ino == path.stat().st_ino
    data, mark = read_marked(str(path))
    assert mark is not None and marks.unseal(key, data.strip(), mark) == (77, '"J"')
    assert mark_file(str(path), marks, key, b"what the core verified before an edit", 77, '"J"') is None


def marked_cache(store: DirectoryStore) -> FileIndexCache:
    marks = Marks.open(store.root)
    assert marks is not None
    return FileIndexCache(store, 100, hot=True, marks=marks, echo=store.remember_own)


def test_marked_files_are_served_after_a_restart_with_nothing_in_memory(
    tmp_path: Path, minter: Minter
) -> None:
    store = DirectoryStore(tmp_path)
    accounts = dict(minter.account_jwt() for _ in range(3))
    for key, jwt in accounts.items():
        store.save(key, jwt)
    cache = marked_cache(store)
    for key, jwt in accounts.items():
        assert cache.get(key) is None  # never verified yet
        cache.put(key, make_entry(jwt, f"J{key[:4]}", 1234))
    assert len(cache) == 0  # no per-account index in memory

    store.close()
    restarted = marked_cache(DirectoryStore(tmp_path))  # a new process: empty memory, same key
    for key, jwt in accounts.items():
        hit = restarted.get(key)
        assert hit is not None and hit.body == jwt.encode()
        assert (hit.etag, hit.jti, hit.exp) == (f'"J{key[:4]}"', f"J{key[:4]}", 1234)
    assert restarted.get(minter.account_key()) is None  # no file: a miss for the core to answer


def test_edits_and_foreign_seals_send_the_file_back_to_the_core(tmp_path: Path, minter: Minter) -> None:
    store = DirectoryStore(tmp_path / "a")
    (key, jwt), (key2, jwt2) = minter.account_jwt(), minter.account_jwt()
    store.save(key, jwt)
    store.save(key2, jwt2)
    cache = marked_cache(store)
    cache.put(key, make_entry(jwt, "J", 0))
    cache.put(key2, make_entry(jwt2, "J2", 0))
    cache.clear()  # forget the hot set: only the files speak now
    assert cache.get(key) is not None

    path = Path(store.path_for(key))
    _, other = minter.account_jwt(key, name="edited")
    with open(path, "r+") as f:  # in place: the attribute stays, the bytes change
        f.write(other)
        f.truncate()
    assert XATTR in os.listxattr(path)
    cache.drop(key)  # what the store watcher does on the edit's event
    assert cache.get(key) is None

    copy = DirectoryStore(tmp_path / "b")  # another store (another secret), attributes copied along
    shutil.copy2(store.path_for(key2), copy.path_for(key2))
    assert XATTR in os.listxattr(copy.path_for(key2))
    assert marked_cache(copy).get(key2) is None


def test_a_mark_is_an_echo_for_the_watcher(tmp_path: Path, minter: Minter) -> None:
    store = DirectoryStore(tmp_path)
    key, jwt = minter.account_jwt()
    store.save(key, jwt)
    assert store.is_own_write(store.path_for(key))  # the save's own echo, consumed
    marked_cache(store).put(key, make_entry(jwt, "J", 0))
    assert store.is_own_write(store.path_for(key))  # the mark's attribute event is ours too
    assert not store.is_own_write(store.path_for(key))


@pytest.mark.skipif(shutil.which("chattr") is None, reason="needs chattr (e2fsprogs)")
def test_a_file_that_cannot_take_a_mark_is_indexed_in_memory(tmp_path: Path, minter: Minter) -> None:
    """An immutable file (or another user's) refuses the attribute: the in-memory index serves it."""
    store = DirectoryStore(tmp_path)
    key, jwt = minter.account_jwt()
    store.save(key, jwt)
    path = store.path_for(key)
    if subprocess.run(["chattr", "+i", path], capture_output=True).returncode != 0:
        pytest.skip("this filesystem has no immutable attribute")
    try:
        cache = marked_cache(store)
        cache.put(key, make_entry(jwt, "J", 0))
        assert XATTR not in os.listxattr(path) and len(cache) == 1
        assert cache.hot is not None
        cache.hot.clear()  # only the index can answer now
        hit = cache.get(key)
        assert hit is not None and hit.body == jwt.encode() and hit.etag == '"J"'
    finally:
        subprocess.run(["chattr", "-i", path], check=True)


def test_an_nsc_jti_is_sealed_compactly_and_any_other_etag_as_text() -> None:
    marks = Marks(SECRET)
    jti = "RX4WPKSC6AWMWTP2OXFJGKSRV35EOAIWQZA74CKYVPC63CD3T4IQ"  # base32 of a SHA-256, as nsc makes it
    compact = marks.seal("K", BODY, 5, f'"{jti}"')
    assert len(compact) <= 60  # fits inside a 256-byte ext4 inode next to its name
    assert marks.unseal("K", BODY, compact) == (5, f'"{jti}"')
    for etag in ['"short-jti"', '"' + "a" * 52 + '"', '"' + jti[:-1] + 'R"', "unquoted", '""']:
        assert marks.unseal("K", BODY, marks.seal("K", BODY, 5, etag)) == (5, etag)


def test_a_marked_file_keeps_its_size_on_disk(tmp_path: Path, minter: Minter) -> None:
    """The attribute lives in the inode: no extra 4 KiB block per file (where the filesystem allows)."""
    store = DirectoryStore(tmp_path)
    key, jwt = minter.account_jwt()
    store.save(key, jwt)
    before = os.stat(store.path_for(key)).st_blocks
    jti = "RX4WPKSC6AWMWTP2OXFJGKSRV35EOAIWQZA74CKYVPC63CD3T4IQ"
    marked_cache(store).put(key, make_entry(jwt, jti, 1234))
    assert XATTR in os.listxattr(store.path_for(key))
    probe = tmp_path / "probe"
    probe.write_bytes(b"x")
    plain = probe.stat().st_blocks
    os.setxattr(probe, XATTR, b"\0" * 60)  # as large as a mark of an nsc JWT
    if before == 0 or probe.stat().st_blocks != plain:
        pytest.skip("this filesystem keeps no ~80-byte attributes inside its inodes")
    assert os.stat(store.path_for(key)).st_blocks == before


def test_bytes_moved_between_file_and_seal_void_it() -> None:
    """Cutting the sealed message elsewhere (file bytes + the start of the seal's tail) opens nothing."""
    marks = Marks(SECRET)
    value = marks.seal("K", BODY, 7, '"E"')
    tag, rest = value[:16], value[16:]
    for k in range(1, len(rest)):
        assert marks.unseal("K", BODY + rest[:k], tag + rest[k:]) is None


def test_a_response_whose_file_changed_meanwhile_is_served_once_not_kept(
    tmp_path: Path, minter: Minter
) -> None:
    store = DirectoryStore(tmp_path)
    key, jwt = minter.account_jwt()
    store.save(key, jwt)
    cache = marked_cache(store)
    _, newer = minter.account_jwt(key, name="newer")
    Path(store.path_for(key)).write_text(newer)  # lands between the core's read and the put
    cache.put(key, make_entry(jwt, "J", 0))
    assert cache.ready(key) is None and len(cache) == 0
    assert XATTR not in os.listxattr(store.path_for(key))
    assert cache.get(key) is None  # the core verifies the new file


def test_debug_logging_says_whether_a_store_uses_marks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nats_account_server.config import LoggingSettings
    from nats_account_server.log import log

    log.configure(LoggingSettings(debug=True, colors=False, time=False))
    try:
        assert Marks.open(str(tmp_path)) is not None
        (tmp_path / KEY_FILE).chmod(0o644)  # no longer ours alone
        assert Marks.open(str(tmp_path)) is None
    finally:
        log.configure(LoggingSettings())
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == f"[DBG] verified marks are on for {tmp_path} ({XATTR})"
    assert lines[1].startswith(f"[DBG] verified marks are off for {tmp_path}: ") and "0600" in lines[1]


def test_an_nsc_jti_is_sealed_as_its_32_bytes_and_anything_else_as_text() -> None:
    """nsc's jti (base32 of a SHA-256, 52 digits, the last one carrying 4 zero bits) packs to 32
    bytes, so the attribute stays inside the inode; every other ETag comes back exactly as text."""
    import base64
    import hashlib

    from nats_account_server.stores.marks import _pack_etag, _unpack_etag

    for seed in range(200):
        jti = base64.b32encode(hashlib.sha256(bytes([seed])).digest()).decode().rstrip("=")
        packed = _pack_etag(f'"{jti}"')
        assert len(packed) == 33 and packed[1:] == hashlib.sha256(bytes([seed])).digest()
        assert _unpack_etag(packed) == f'"{jti}"'
    for etag in [
        '"' + "A" * 51 + 'B"',
        '"' + "a" * 52 + '"',
        '"x"',
        'W/"' + "A" * 50 + '"',
        '"' + "A" * 51 + '="',
        "ABC",
    ]:
        packed = _pack_etag(etag)
        assert packed[:1] == b"\x02" and _unpack_etag(packed) == etag
