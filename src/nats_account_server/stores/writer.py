"""One writer per store: a writable directory store holds an exclusive lock on a file in its root.

Two writable servers on one store would interfere (each one's start clears the other's temp files
and spares; their newer-wins checks race), so the second is refused at start, with the holder's
process id. Read-only servers take no lock and keep working beside the writer. The lock file holds
the writer's pid and is removed when the writer closes; where the platform has no file locks, the
store runs without one (logged at DBG).
"""

from __future__ import annotations

import os
from types import ModuleType

from ..core.store import StoreError
from ..log import log
from ..oserrors import os_error, os_reason
from .files import O_CLOEXEC

__all__ = ["LOCK_FILE", "WriterLock"]

LOCK_FILE = ".nas-writer.lock"


def _fcntl() -> ModuleType | None:
    try:
        import fcntl
    except ImportError:  # Windows
        return None
    return fcntl


class WriterLock:
    """The exclusive lock of one writable store, held until `release`."""

    def __init__(self, path: str, fd: int | None) -> None:
        self.path = path
        self._fd = fd

    @classmethod
    def take(cls, root: str) -> WriterLock:
        """Lock `root` for this process; StoreError naming the holder when another one has it."""
        path = os.path.join(root, LOCK_FILE)
        fcntl = _fcntl()
        if fcntl is None:
            log.debug(f"no file locks here: {root} is not protected against a second writer")
            return cls(path, None)
        while True:
            try:
                # held read-only: an open file for writing would keep its filesystem from a remount
                fd = os.open(path, os.O_RDONLY | os.O_CREAT | O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), 0o644)
            except OSError as exc:
                raise StoreError(f"unable to lock the store {root}: {os_error(exc, known=path)}") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise StoreError(
                    f"the store {root} is in use by another writable account server (pid {holder}); "
                    "give each writable server its own store, or start this one read-only (-ro)"
                ) from None
            except OSError as exc:
                os.close(fd)
                log.debug(f"no file locks on this filesystem: {root} is not protected ({os_reason(exc)})")
                return cls(path, None)
            try:  # the file may have been removed by the holder that just released it: lock the new one
                same = os.path.samestat(os.fstat(fd), os.stat(path, follow_symlinks=False))
            except OSError:
                same = False
            if same:
                break
            os.close(fd)
        try:
            out = os.open(path, os.O_WRONLY | os.O_TRUNC | O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
            try:
                os.write(out, f"{os.getpid()}\n".encode())
            finally:
                os.close(out)
        except OSError as exc:  # the lock holds without the pid: a second writer is refused all the same
            log.debug(f"unable to write the writer's pid to {path}: {os_reason(exc)}")
        return cls(path, fd)

    def release(self) -> None:
        """Remove the lock file (we still hold its lock, so nobody else is using it), then unlock."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.unlink(self.path)
        except OSError:
            pass
        os.close(fd)  # closing drops the lock
