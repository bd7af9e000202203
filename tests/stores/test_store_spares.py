"""Spare inodes (stores/spares.py): saves swap files in and reuse the inodes they swapped out, but never
one whose bytes someone may still read. Real files, real leases, JWTs of both generations."""

from __future__ import annotations

import os
import signal
import stat
import time
from pathlib import Path

import pytest
from store_helpers import Minter, tree

from nats_account_server.jwt.encode import encode
from nats_account_server.stores import DirectoryStore, StoreError
from nats_account_server.stores.spares import SPARE_DIR, Spares, exchange, exchange_supported

pytestmark = pytest.mark.skipif(not exchange_supported(), reason="needs renameat2 (Linux, glibc >= 2.28)")


IAT = 1_700_000_000


def jwt_of(minter: Minter, version: int, pub: str, n: int) -> str:
    """An account JWT of either generation; ``n`` makes each one different (and longer). The fixed
    iat makes it the same JWT on every call (Ed25519 signatures are deterministic)."""
    if version == 2:
        return minter.account_jwt(pub, name=f"A{n}" * (1 + n % 5), iat=IAT)[1]
    claims = {"sub": pub, "name": f"A{n}" * (1 + n % 5), "type": "account", "iat": IAT, "nats": {}}
    return encode(claims, minter.op_seed)


@pytest.fixture(params=[2, 1], ids=["v2", "v1"])
def version(request: pytest.FixtureRequest) -> int:
    return int(request.param)


def eager(root: Path, **kwargs: bool) -> DirectoryStore:
    """A store whose spares are reusable at once (no quarantine), to make reuse observable."""
    store = DirectoryStore(root, **kwargs)
    assert store.spares.enabled
    store.spares.quarantine = 0.0
    return store


def test_saves_reuse_the_inodes_they_swap_out(tmp_path: Path, minter: Minter, version: int) -> None:
    store = eager(tmp_path)
    pub = minter.account_key()
    inodes = set()
    for n in range(30):
        jwt = jwt_of(minter, version, pub, n)
        store.save(pub, jwt)
        assert store.load(pub) == jwt
        inodes.add(os.stat(store.path_for(pub)).st_ino)
    assert len(inodes) <= 3  # two inodes take turns (a third when a first save had no spare yet)
    assert len(store.spares) == 1
    spare = [p for p in tree(tmp_path) if p.endswith(".tmp")]
    assert len(spare) == 1 and os.path.dirname(spare[0]) == SPARE_DIR
    store.close()  # spares and their folder are removed
    assert tree(tmp_path) == {f"{pub}.jwt"}


def test_a_spare_rests_before_reuse(tmp_path: Path, minter: Minter, version: int) -> None:
    store = DirectoryStore(tmp_path)
    store.spares.quarantine = 0.3
    pub = minter.account_key()
    store.save(pub, jwt_of(minter, version, pub, 0))
    first = os.stat(store.path_for(pub)).st_ino
    store.save(pub, jwt_of(minter, version, pub, 1))  # `first` is now a spare, resting
    store.save(pub, jwt_of(minter, version, pub, 2))
    assert os.stat(store.path_for(pub)).st_ino != first
    time.sleep(0.35)
    store.save(pub, jwt_of(minter, version, pub, 3))
    assert os.stat(store.path_for(pub)).st_ino == first
    assert store.load(pub) == jwt_of(minter, version, pub, 3)


def test_a_reader_of_the_old_file_keeps_its_bytes(tmp_path: Path, minter: Minter, version: int) -> None:
    store = eager(tmp_path)
    pub, other = minter.account_key(), minter.account_key()
    old = jwt_of(minter, version, pub, 0)
    store.save(pub, old)
    reader = os.open(store.path_for(pub), os.O_RDONLY)
    try:
        held = os.fstat(reader).st_ino
        for n in range(1, 6):  # every save would take the spare that the reader holds, if it could
            store.save(pub, jwt_of(minter, version, pub, n))
            store.save(other, jwt_of(minter, version, other, n))
            assert os.stat(store.path_for(pub)).st_ino != held
            assert os.stat(store.path_for(other)).st_ino != held
        assert os.pread(reader, 1 << 16, 0) == old.encode()
    finally:
        os.close(reader)


def test_a_hard_linked_file_is_never_written(tmp_path: Path, minter: Minter, version: int) -> None:
    store = eager(tmp_path / "store")
    pub = minter.account_key()
    old = jwt_of(minter, version, pub, 0)
    store.save(pub, old)
    backup = tmp_path / "backup.jwt"
    os.link(store.path_for(pub), backup)  # e.g. `cp -al` snapshots
    for n in range(1, 6):
        store.save(pub, jwt_of(minter, version, pub, n))
    assert backup.read_text() == old
    assert os.stat(backup).st_nlink == 1  # our link to it was dropped, the backup kept


@pytest.mark.parametrize("change", ["xattr", "mode"])
def test_a_file_changed_by_hand_is_not_recycled(tmp_path: Path, minter: Minter, change: str) -> None:
    store = eager(tmp_path)
    pub = minter.account_key()
    store.save(pub, jwt_of(minter, 2, pub, 0))
    path = store.path_for(pub)
    if change == "xattr":
        try:
            os.setxattr(path, "user.backup.tag", b"1")
        except OSError:
            pytest.skip("no user extended attributes here")
    else:
        os.chmod(path, 0o600)
    store.save(pub, jwt_of(minter, 2, pub, 1))
    store.save(pub, jwt_of(minter, 2, pub, 2))  # would take the swapped-out file: it is dropped
    assert "user.backup.tag" not in os.listxattr(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == store.spares.mode
    spares = [tmp_path / p for p in tree(tmp_path) if p.endswith(".tmp")]
    assert len(spares) == 1  # what save 3 swapped out; the changed file was dropped, not kept
    assert "user.backup.tag" not in os.listxattr(spares[0])
    assert stat.S_IMODE(os.stat(spares[0]).st_mode) == store.spares.mode


def test_a_symlink_in_place_is_replaced_and_its_target_untouched(tmp_path: Path, minter: Minter) -> None:
    store = eager(tmp_path / "store")
    pub = minter.account_key()
    outside = tmp_path / "outside.jwt"
    outside.write_text("precious")
    os.symlink(outside, store.path_for(pub))
    for n in range(3):
        store.save(pub, jwt_of(minter, 2, pub, n))
    assert not os.path.islink(store.path_for(pub))
    assert outside.read_text() == "precious"
    assert store.load(pub) == jwt_of(minter, 2, pub, 2)


def test_a_directory_in_place_stays_and_fails_the_save(tmp_path: Path, minter: Minter) -> None:
    store = eager(tmp_path)
    pub = minter.account_key()
    os.makedirs(store.path_for(pub))
    (Path(store.path_for(pub)) / "inside").write_text("kept")
    with pytest.raises(StoreError):
        store.save(pub, jwt_of(minter, 2, pub, 0))
    assert (Path(store.path_for(pub)) / "inside").read_text() == "kept"
    store.close()
    assert tree(tmp_path) == {f"{pub}.jwt", f"{pub}.jwt/inside"}


def test_a_spare_removed_by_hand_is_skipped(tmp_path: Path, minter: Minter) -> None:
    store = eager(tmp_path)
    pub = minter.account_key()
    store.save(pub, jwt_of(minter, 2, pub, 0))
    store.save(pub, jwt_of(minter, 2, pub, 1))
    for spare in [p for p in tree(tmp_path) if p.endswith(".tmp")]:
        os.unlink(tmp_path / spare)  # `rm .*.tmp` while the server runs
    store.save(pub, jwt_of(minter, 2, pub, 2))
    assert store.load(pub) == jwt_of(minter, 2, pub, 2)


def test_the_pool_is_bounded(tmp_path: Path, minter: Minter) -> None:
    store = eager(tmp_path)
    store.spares.limit = 3
    pubs = [minter.account_key() for _ in range(8)]
    for round_ in range(2):
        store.save_many([(p, jwt_of(minter, 2, p, round_)) for p in pubs])
    assert len(store.spares) == 3
    assert len([p for p in tree(tmp_path) if p.endswith(".tmp")]) == 3


def test_sharded_stores_swap_across_folders(tmp_path: Path, minter: Minter, version: int) -> None:
    store = eager(tmp_path, shard=True)
    pubs = [minter.account_key() for _ in range(6)]
    for n in range(4):
        store.save_many([(p, jwt_of(minter, version, p, n)) for p in pubs])
    for p in pubs:
        assert store.load(p) == jwt_of(minter, version, p, 3)
    spares = [p for p in tree(tmp_path) if p.endswith(".tmp")]
    assert spares and all(os.path.dirname(p) == SPARE_DIR for p in spares)
    assert sorted(k for k, _ in store.pack()) == sorted(pubs)  # the spare folder is not walked
    store.close()
    assert tree(tmp_path) == {p[-2:] for p in pubs} | {f"{p[-2:]}/{p}.jwt" for p in pubs}


def test_spares_ignore_sigio_unless_someone_handles_it(tmp_path: Path, minter: Minter) -> None:
    """A lease break's SIGIO must not end the process: spares ignore it where nobody handles it, and
    stay off where someone else does."""
    previous = signal.signal(signal.SIGIO, signal.SIG_DFL)
    try:
        assert DirectoryStore(tmp_path / "default").spares.enabled
        assert signal.getsignal(signal.SIGIO) == signal.SIG_IGN
        signal.signal(signal.SIGIO, lambda n, f: None)
        store = DirectoryStore(tmp_path)
    finally:
        signal.signal(signal.SIGIO, previous)
    assert not store.spares.enabled
    pub = minter.account_key()
    for n in range(3):
        store.save(pub, jwt_of(minter, 2, pub, n))
    assert not [p for p in tree(tmp_path) if p.endswith(".tmp")]  # plain renames: nothing kept


def test_exchange_swaps_and_reports_missing_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("A")
    b.write_text("B")
    exchange(str(a), str(b))
    assert (a.read_text(), b.read_text()) == ("B", "A")
    with pytest.raises(FileNotFoundError):
        exchange(str(a), str(tmp_path / "missing"))


def test_the_creation_mode_follows_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        assert Spares(0o644).mode == 0o600
    finally:
        os.umask(old)


def test_a_start_clears_what_a_crash_left(tmp_path: Path, minter: Minter) -> None:
    store = eager(tmp_path)
    pub = minter.account_key()
    for n in range(3):
        store.save(pub, jwt_of(minter, 2, pub, n))
    (tmp_path / SPARE_DIR / f".{pub}.jwt.0123456789abcdef.tmp").write_text("interrupted")
    assert len([p for p in tree(tmp_path) if p.endswith(".tmp")]) == 2  # no close(): as after kill -9
    assert store._writer is not None
    store._writer.release()  # the process died: the kernel dropped its lock, nothing was cleaned up
    again = DirectoryStore(tmp_path)
    assert not [p for p in tree(tmp_path) if p.endswith(".tmp")]
    assert again.load(pub) == jwt_of(minter, 2, pub, 2)


def test_a_symlinked_spare_folder_is_never_followed(tmp_path: Path, minter: Minter) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious.tmp").write_text("not ours")
    root = tmp_path / "store"
    root.mkdir()
    os.symlink(elsewhere, root / SPARE_DIR)
    store = DirectoryStore(root)  # no clean-up through the link
    pub = minter.account_key()
    for n in range(3):  # temp files go beside the JWTs instead, without spares
        store.save(pub, jwt_of(minter, 2, pub, n))
    assert not store.spares.enabled
    assert store.load(pub) == jwt_of(minter, 2, pub, 2)
    assert tree(elsewhere) == {"precious.tmp"}
    assert not [p for p in tree(root) if p.endswith(".tmp")]


@pytest.mark.parametrize("planted", ["fifo", "symlink"])
def test_a_spare_replaced_by_hand_is_dropped(tmp_path: Path, minter: Minter, planted: str) -> None:
    """Whoever can write the store may put a FIFO (whose open for writing would block) or a symlink
    where a spare was: the save takes a fresh temp file and nothing outside is touched."""
    store = eager(tmp_path / "store")
    pub = minter.account_key()
    store.save(pub, jwt_of(minter, 2, pub, 0))
    store.save(pub, jwt_of(minter, 2, pub, 1))
    (spare,) = [tmp_path / "store" / p for p in tree(tmp_path / "store") if p.endswith(".tmp")]
    spare.unlink()
    target = tmp_path / "target"
    target.write_text("untouched")
    if planted == "fifo":
        os.mkfifo(spare)
    else:
        os.symlink(target, spare)
    store.save(pub, jwt_of(minter, 2, pub, 2))  # returns: no open blocks on the FIFO
    assert store.load(pub) == jwt_of(minter, 2, pub, 2)
    assert target.read_text() == "untouched"
    assert not spare.exists() and not spare.is_symlink()
