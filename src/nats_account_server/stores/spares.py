"""Spare inodes: durable saves that swap files instead of freeing and allocating inodes.

Replacing a file by rename frees the old inode and the next save allocates a new one. On ext4 that
pair (an inode bitmap search, freeing and allocating a data block, a discard) costs about twice the
write itself. A save therefore swaps its temp file in with ``renameat2(RENAME_EXCHANGE)``, which is as
atomic as a rename but leaves the old inode at the temp name: a spare. A later save overwrites a spare
in place, syncs it, and swaps it in; no inode is freed or allocated while uploads keep coming.

A spare is written only when that can change no bytes anyone may read:

- its swap is durable (the group's directory fsync ran) and it rested ``QUARANTINE`` seconds, so a
  reader that looked up the old name just before the swap has long since opened it;
- no one has it open: a write lease is granted only then (the lease is released at once; the
  server ignores SIGIO, which a lease break would send), so a reader that opened the old file keeps
  reading what it opened, for as long as it likes;
- it is a regular file of ours with a single link, mode 0644 and no extended attributes besides ours
  and security labels (a hard link made by a backup keeps its bytes).

Anything else is unlinked and the save takes a fresh temp file. Spares and temp files live in one
hidden folder of the store root (``SPARE_DIR``): the store's watcher never watches it, so it does not
see their writes, and a start can clear what a crash left there without scanning the store.

Spares are Linux only: without ``renameat2``, ``fcntl`` leases (Windows has no ``fcntl`` module),
``os.listxattr`` or SIGIO, ``Spares.enabled`` is False and every save takes a fresh temp file that is
renamed over.
"""

from __future__ import annotations

import collections
import ctypes
import errno
import os
import signal
import stat
import threading
import time
from collections.abc import Callable

from ..log import log
from ..oserrors import os_error
from .libc import function, last_error

__all__ = [
    "QUARANTINE",
    "SPARE_DIR",
    "Spares",
    "exchange",
    "exchange_supported",
    "unlink_quietly",
    "unsupported",
]

SPARE_DIR = ".nas-spares"
QUARANTINE = 0.25  # seconds between a spare's swap and its reuse
LIMIT = 2048  # spares kept per store (4 KiB of disk each); beyond that, old inodes are freed as before
OWN_ATTRS = ("user.nas.", "security.")  # our verified mark (void on new bytes) and security labels
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_UNSUPPORTED = (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV)


_renameat2 = function(  # None without glibc >= 2.28 / Linux
    "renameat2", ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint
)


def _lease_probe() -> Callable[[int], None] | None:
    """Take and drop a write lease on an open file at once: OSError (EAGAIN) unless that open file is
    the only one of its inode. None where there is no ``fcntl`` (Windows): no spares there."""
    try:
        import fcntl
    except ImportError:
        return None
    setlease = getattr(fcntl, "F_SETLEASE", 1024)

    def probe(fd: int) -> None:
        fcntl.fcntl(fd, setlease, fcntl.F_WRLCK)
        fcntl.fcntl(fd, setlease, fcntl.F_UNLCK)

    return probe


_probe_lease = _lease_probe()


def exchange_supported() -> bool:
    return _renameat2 is not None


def _sigio_ignored() -> bool:
    """A lease break signals SIGIO, whose default action ends the process: where nobody else handles
    it, it is ignored from now on (on the main thread; elsewhere it must be ignored already). A
    handler someone else installed is left alone, and there are no spares then."""
    if not hasattr(signal, "SIGIO"):
        return False
    current = signal.getsignal(signal.SIGIO)
    if current == signal.SIG_IGN:
        return True
    if current not in (signal.SIG_DFL, None):
        return False
    try:
        signal.signal(signal.SIGIO, signal.SIG_IGN)
    except ValueError:  # not the main thread
        return False
    return True


def _supported() -> bool:
    """Whether a spare can be proven safe to overwrite here: ``renameat2`` swaps, a write lease shows
    that no one has it open, ``os.listxattr`` that no other tool tagged it, and a lease break's
    SIGIO cannot end the process."""
    return exchange_supported() and _probe_lease is not None and hasattr(os, "listxattr") and _sigio_ignored()


def exchange(a: str, b: str) -> None:
    """Atomically swap the files at ``a`` and ``b`` (both must exist); OSError as from os.rename."""
    if _renameat2 is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available", a, None, b)
    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        raise last_error(a, None, b)


def unsupported(exc: OSError) -> bool:
    """The filesystem (or kernel) cannot swap: plain renames from then on."""
    return exc.errno in _UNSUPPORTED


class Spares:
    """The spare inodes of one store, oldest first; shared by the IO jobs."""

    def __init__(self, mode: int, quarantine: float = QUARANTINE, limit: int = LIMIT) -> None:
        self.mode = mode & ~_umask()  # what a save creates: a spare with other bits would change a file's
        self.quarantine = quarantine
        self.limit = limit
        self._pool: collections.deque[tuple[str, float]] = collections.deque()
        self._lock = threading.Lock()
        self._uid = os.geteuid() if hasattr(os, "geteuid") else -1  # -1 (Windows): no file is ours
        self.enabled = _supported()

    def __len__(self) -> int:
        return len(self._pool)

    def take(self) -> tuple[str, int, int] | None:
        """(path, fd open for writing, size) of a spare that may be overwritten, or None."""
        if not self.enabled:
            return None
        now = time.monotonic()
        with self._lock:
            if not self._pool or self._pool[0][1] > now:
                return None
            path = self._pool.popleft()[0]
        claimed = self._claim(path)
        return None if claimed is None else (path, *claimed)

    def rest(self, paths: list[str]) -> None:
        """Spares whose swaps directory fsyncs made durable: reusable after the quarantine."""
        if not paths:
            return
        ready = time.monotonic() + self.quarantine
        with self._lock:
            room = max(0, self.limit - len(self._pool))
            kept, extra = paths[:room], paths[room:]
            self._pool.extend((p, ready) for p in kept)
        for path in extra:
            unlink_quietly(path)

    def close(self) -> None:
        """Unlink every spare (shutdown): the store is left with its JWTs only."""
        with self._lock:
            pool, self._pool = self._pool, collections.deque()
        for path, _ in pool:
            unlink_quietly(path)

    def _claim(self, path: str) -> tuple[int, int] | None:
        try:
            # O_NONBLOCK: a FIFO put there fails at once (ENXIO) instead of blocking the job
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | _O_NOFOLLOW | _O_CLOEXEC)
        except OSError:
            unlink_quietly(path)  # gone, a symlink or a FIFO put there, ...
            return None
        try:
            size = self._usable(fd)
            if size is not None:
                return fd, size
        except OSError as exc:
            if exc.errno != errno.EAGAIN:  # EAGAIN: someone has it open, the expected refusal
                self.enabled = False  # no leases here (NFS, leases-enable=0): plain saves from now on
                log.debug(f"spare inodes are off: no write lease on {path}: {os_error(exc, known=path)}")
        os.close(fd)
        unlink_quietly(path)
        return None

    def _usable(self, fd: int) -> int | None:
        """The spare's size when it may be written, else None."""
        st = os.fstat(fd)
        if (
            not stat.S_ISREG(st.st_mode)
            or st.st_nlink != 1
            or st.st_uid != self._uid
            or stat.S_IMODE(st.st_mode) != self.mode
        ):
            return None
        if _probe_lease is None or not hasattr(os, "listxattr"):
            return None  # enabled by hand where nothing can prove the spare unused and untagged
        _probe_lease(fd)  # EAGAIN unless this is the only open file
        try:
            names = os.listxattr(fd)
        except OSError as exc:
            if exc.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
            names = []
        return st.st_size if all(name.startswith(OWN_ATTRS) for name in names) else None


def _umask() -> int:
    """The process umask, read without setting it where Linux shows it (os.umask would race threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
