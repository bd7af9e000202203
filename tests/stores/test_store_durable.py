"""Group durability (stores/durable.py): one syncfs for a group where it is complete and little is
dirty, per-file syncs otherwise. Pure parsing without IO; the policy on real files and filesystems."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from store_helpers import Minter

from nats_account_server.jwt.encode import encode
from nats_account_server.stores import DirectoryStore
from nats_account_server.stores.durable import (
    GroupSync,
    dirty_kib,
    filesystem_type,
    kernel_reports_errors,
    parse_dirty,
    syncs_whole,
)
from nats_account_server.stores.spares import SPARE_DIR

MEMINFO = b"""MemTotal:       24598944 kB
MemFree:        20169724 kB
Dirty:              1340 kB
Writeback:             0 kB
"""


def test_parse_dirty_reads_the_dirty_line() -> None:
    assert parse_dirty(MEMINFO) == 1340
    assert parse_dirty(MEMINFO.rstrip(b"\n").rsplit(b"\n", 1)[0]) == 1340  # Dirty as the last line
    assert parse_dirty(b"MemTotal: 1 kB\nDirty:\n") is None
    assert parse_dirty(b"MemTotal: 1 kB\nDirty: lots kB\n") is None
    assert parse_dirty(b"MemTotal: 1 kB\nSwapDirty: 9 kB\n") is None  # not the Dirty line
    assert parse_dirty(b"") is None


def test_syncs_whole_knows_flushing_filesystems_only() -> None:
    assert syncs_whole(0xEF53) == "ext4"
    assert syncs_whole(0x58465342) == "xfs"
    assert syncs_whole(0x01021994) is None  # tmpfs: nothing to flush, nothing gained
    assert syncs_whole(0x65735546) is None  # FUSE: syncfs may not reach the server's disk
    assert syncs_whole(None) is None


def test_syncfs_only_where_the_kernel_reports_writeback_errors() -> None:
    assert kernel_reports_errors("6.18.44-fc-v657")
    assert kernel_reports_errors("5.8.0")
    assert kernel_reports_errors("10.0")
    assert not kernel_reports_errors("5.7.19-200.fc32.x86_64")
    assert not kernel_reports_errors("4.18.0-553.el8_10.x86_64")
    assert not kernel_reports_errors("")
    assert not kernel_reports_errors("6")


def test_dirty_and_filesystem_type_of_this_machine(tmp_path: Path) -> None:
    dirty = dirty_kib()
    assert dirty is None or dirty >= 0
    assert isinstance(filesystem_type(str(tmp_path)), int)
    assert filesystem_type(str(tmp_path / "missing")) is None


def _open_written(folder: Path, n: int) -> list[int]:
    fds = []
    for i in range(n):
        fd = os.open(folder / f"f{i}", os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, b"x" * 650)
        fds.append(fd)
    return fds


def test_group_sync_policy(tmp_path: Path) -> None:
    fds = _open_written(tmp_path, 3)
    try:
        sync = GroupSync(str(tmp_path))
        assert not sync.sync(fds[:1])  # one file: its own fdatasync
        if sync.filesystem is None or dirty_kib() is None:
            assert not sync.sync(fds) and sync.groups == 0
        else:
            assert sync.sync(fds) and sync.groups == 1
        busy = GroupSync(str(tmp_path), dirty_limit_kib=-1)  # "too much dirty": file by file
        assert not busy.sync(fds) and busy.groups == 0
    finally:
        for fd in fds:
            os.close(fd)


def test_group_sync_is_off_on_tmpfs() -> None:
    if not os.path.isdir("/dev/shm") or syncs_whole(filesystem_type("/dev/shm")) is not None:
        pytest.skip("no tmpfs at /dev/shm")
    assert GroupSync("/dev/shm").filesystem is None


@pytest.fixture(params=[2, 1], ids=["v2", "v1"])
def version(request: pytest.FixtureRequest) -> int:
    return int(request.param)


def _jwts(minter: Minter, version: int, n: int, round_: int) -> list[tuple[str, str]]:
    out = []
    for i in range(n):
        pub = minter.account_key()
        if version == 2:
            out.append((pub, minter.account_jwt(pub, name=f"A{i}-{round_}")[1]))
        else:
            claims = {"sub": pub, "name": f"A{i}-{round_}", "type": "account", "iat": 1, "nats": {}}
            out.append((pub, encode(claims, minter.op_seed)))
    return out


@pytest.mark.parametrize("limit", [None, -1], ids=["syncfs", "per-file"])
def test_save_many_groups_are_saved_either_way(
    tmp_path: Path, minter: Minter, version: int, limit: int | None
) -> None:
    store = DirectoryStore(tmp_path)
    assert store.group_sync is not None
    if limit is not None:
        store.group_sync.dirty_limit_kib = limit
    items = _jwts(minter, version, 6, 0)
    assert store.save_many(items) == [None] * 6
    store.save(*_jwts(minter, version, 1, 1)[0])  # a group of one never takes syncfs
    whole = limit is None and store.group_sync.filesystem is not None and dirty_kib() is not None
    assert store.group_sync.groups == (1 if whole else 0)
    for key, jwt in items:
        assert store.load(key) == jwt
    store.close()


def test_temp_files_beside_the_jwts_are_synced_one_by_one(
    tmp_path: Path, minter: Minter, version: int
) -> None:
    (tmp_path / SPARE_DIR).write_text("not a folder")  # no spare folder: temp files go beside the JWTs
    store = DirectoryStore(tmp_path, shard=True)
    items = _jwts(minter, version, 6, 0)
    assert store.save_many(items) == [None] * 6
    assert store.group_sync is not None and store.group_sync.groups == 0
    for key, jwt in items:
        assert store.load(key) == jwt
    store.close()


def test_a_readonly_store_has_no_group_sync(tmp_path: Path) -> None:
    assert DirectoryStore(tmp_path, readonly=True).group_sync is None


def _failing_dir_fsync(monkeypatch: pytest.MonkeyPatch, code: int) -> list[str]:
    """os.fsync fails with `code` for directories (files still sync); returns the failed paths."""
    import stat

    real, failed = os.fsync, []

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            failed.append(os.readlink(f"/proc/self/fd/{fd}"))
            raise OSError(code, os.strerror(code))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return failed


def test_a_failed_directory_fsync_fails_the_saves_in_it(
    tmp_path: Path, minter: Minter, version: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An I/O error while syncing a directory is not swallowed: the uploads whose renames it should
    have made durable get an error (500), and no spare of that group is kept for reuse."""
    import errno

    store = DirectoryStore(tmp_path)
    items = _jwts(minter, version, 3, 0)
    assert store.save_many(items) == [None] * 3
    failed = _failing_dir_fsync(monkeypatch, errno.EIO)
    errors = store.save_many(_jwts(minter, version, 3, 1))
    assert failed and all(e is not None and "syncing" in str(e) for e in errors)
    assert not store.spares._pool  # never overwrite a spare whose swap may be undone by a crash
    store.close()


def test_filesystems_that_cannot_sync_directories_stay_supported(
    tmp_path: Path,
    minter: Minter,
    version: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import errno

    store = DirectoryStore(tmp_path)
    _failing_dir_fsync(monkeypatch, errno.EINVAL)
    assert store.save_many(_jwts(minter, version, 2, 0)) == [None, None]
    assert "directories cannot be synced here" in capsys.readouterr().err
    assert store.save_many(_jwts(minter, version, 2, 1)) == [None, None]
    assert "directories cannot be synced here" not in capsys.readouterr().err  # said once per folder
    store.close()
