"""Making a group of saved files durable: one ``syncfs`` for the group where that is complete and cheap.

``fdatasync`` on each file of a group writes the file and then asks the disk to flush its cache, once
per file. The flush is what costs: on a virtual disk every one of them is a round trip to the host, and
it blocks the IO thread, which then competes with the event loop for the GIL when it wakes. One
``syncfs`` writes every dirty file and inode of the filesystem and flushes once: for the uploads of a
group that is the same guarantee (stronger, even) at a third of the CPU time.

It is used only when all of these hold, and per-file syncs are used otherwise (also for a group of one,
and where the store's temp files cannot live in its spare folder, see Staging.temp_folder):

- the filesystem is one whose ``syncfs`` makes file data and metadata durable (ext4, XFS, btrfs,
  F2FS): FUSE, NFS and others may write back without flushing, where ``fsync`` would have;
- the kernel is Linux 5.8 or newer: older ones may return success from ``syncfs`` although the
  writeback of a file failed;
- little is dirty in the whole system (``/proc/meminfo`` ``Dirty``), so the call cannot turn into
  writing someone else's gigabytes before our upload is answered.

A failed ``syncfs`` (a writeback error anywhere on that filesystem since the file was opened) falls back
to per-file syncs, which report the error of the file it belongs to. Off Linux (no ``syncfs``, no
``uname`` on Windows, no ``/proc``) every group is synced file by file.
"""

from __future__ import annotations

import ctypes
import errno
import os

from ..log import log
from ..oserrors import os_reason
from .libc import function, last_error

__all__ = [
    "DIRTY_LIMIT_KIB",
    "GroupSync",
    "dirty_kib",
    "filesystem_type",
    "fsync_dir",
    "kernel_reports_errors",
    "syncs_whole",
]

DIRTY_LIMIT_KIB = 16 * 1024  # above this much dirty data system-wide, a group syncs file by file
MEMINFO = "/proc/meminfo"
#: statfs f_type of filesystems whose syncfs writes all data and metadata and flushes the disk cache
WHOLE_SYNC_FILESYSTEMS = {
    0xEF53: "ext4",  # ext2/3/4 share the magic
    0x58465342: "xfs",
    0x9123683E: "btrfs",
    0xF2F52010: "f2fs",
}
_STATFS_SIZE = 256  # bytes; struct statfs is 120 on x86-64, f_type its first member


def kernel_reports_errors(release: str) -> bool:
    """Whether a Linux release (``uname -r``) reports writeback errors from syncfs (5.8 and later)."""
    try:
        major, minor = (int(part) for part in release.split("-", 1)[0].split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (5, 8)


def _kernel_release() -> str:
    """``uname -r``; "" where there is no ``os.uname`` (Windows), which ``kernel_reports_errors`` refuses."""
    return os.uname().release if hasattr(os, "uname") else ""


_syncfs = function("syncfs", ctypes.c_int) if kernel_reports_errors(_kernel_release()) else None
_fstatfs = function("fstatfs", ctypes.c_int, ctypes.c_void_p)


# where a directory cannot be opened or synced at all, no entry in it can be made durable this way;
# such filesystems (and Windows) stay supported: said once, then the renames are trusted
_CANNOT_SYNC_DIRS = (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EISDIR, errno.EBADF, errno.EACCES)
_said: set[str] = set()


def fsync_dir(path: str) -> None:
    """Make a rename/creation inside ``path`` durable. An I/O error raises OSError: the entries
    changed in ``path`` may not survive a crash. Where directories cannot be synced at all, that is
    logged once per directory and the call returns."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        if exc.errno not in _CANNOT_SYNC_DIRS:
            raise
        _cannot(path, exc)
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _CANNOT_SYNC_DIRS:
            raise
        _cannot(path, exc)
    finally:
        os.close(fd)


def _cannot(path: str, exc: OSError) -> None:
    if path not in _said:
        _said.add(path)
        log.info(f"directories cannot be synced here ({path}: {os_reason(exc)}); renames are not fsynced")


def parse_dirty(meminfo: bytes) -> int | None:
    """The ``Dirty:`` figure (KiB) of a /proc/meminfo text, None when it has none."""
    start = meminfo.find(b"\nDirty:")
    if start < 0:
        return None
    end = meminfo.find(b"\n", start + 1)
    fields = meminfo[start + 7 : end if end > 0 else None].split()
    try:
        return int(fields[0])
    except (IndexError, ValueError):
        return None


def dirty_kib() -> int | None:
    """Dirty page cache of the whole system, in KiB; None where /proc/meminfo can't tell."""
    try:
        fd = os.open(MEMINFO, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        return parse_dirty(os.read(fd, 16384))
    except OSError:
        return None
    finally:
        os.close(fd)


def filesystem_type(path: str) -> int | None:
    """statfs ``f_type`` of the filesystem holding ``path``; None where it can't be asked."""
    if _fstatfs is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        buf = ctypes.create_string_buffer(_STATFS_SIZE)
        if _fstatfs(fd, buf) != 0:
            return None
        return ctypes.c_long.from_buffer(buf).value & 0xFFFFFFFF
    finally:
        os.close(fd)


def syncs_whole(fs_type: int | None) -> str | None:
    """The name of a filesystem whose syncfs is a complete, flushing sync; None for any other."""
    return None if fs_type is None else WHOLE_SYNC_FILESYSTEMS.get(fs_type)


class GroupSync:
    """Decides, per group, whether one ``syncfs`` replaces the group's per-file syncs."""

    def __init__(self, root: str, dirty_limit_kib: int = DIRTY_LIMIT_KIB) -> None:
        self.dirty_limit_kib = dirty_limit_kib
        self.filesystem = syncs_whole(filesystem_type(root)) if _syncfs is not None else None
        self.groups = 0  # groups one syncfs made durable (for the debug log and tests)
        if self.filesystem:
            log.debug(f"groups of saves to {root} ({self.filesystem}) are made durable by one syncfs")

    def sync(self, fds: list[int]) -> bool:
        """True when one syncfs made the files ``fds`` (written, open) durable; False: sync each file."""
        if len(fds) < 2 or self.filesystem is None or _syncfs is None:
            return False  # one file: its own fdatasync writes no more and flushes as often
        dirty = dirty_kib()
        if dirty is None or dirty > self.dirty_limit_kib:
            return False
        if _syncfs(fds[0]) != 0:
            log.debug(f"syncfs failed ({os_reason(last_error())}): the group's files are synced one by one")
            return False
        self.groups += 1
        return True
