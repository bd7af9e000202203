"""Store changes from Linux inotify, read on the event loop.

watchfiles (notify-rs) reads inotify in a thread of its own, which the kernel wakes for every event,
and it asks for IN_OPEN, so every file the server reads wakes it too: on a busy server those
wake-ups cost several times what reading the same events here does, where the loop reads the
inotify fd like a socket, between requests, with no thread and no context switch. The contract is awatch's
(an async iterator of sets of ``(Change, path)``, batched until ``step`` ms pass without a new
change or ``debounce`` ms after the first), so the watcher is the same above it. Where inotify is
missing (not Linux) the watcher keeps watchfiles.

Not asked for: IN_OPEN and IN_ACCESS (reads), and IN_ATTRIB unless wanted (a writable store marks
the files it verified with an extended attribute on the first GET: one event per file otherwise).

Watches are installed on a worker thread (``install``): the kernel flags every cached entry of a
folder when it gets its first watch, 85 ms for a flat store of a million files that served before,
and the loop keeps answering meanwhile.
"""

from __future__ import annotations

import asyncio
import ctypes
import enum
import errno
import functools
import os
import struct
import weakref
from collections.abc import AsyncGenerator, Callable
from typing import Protocol

from .libc import function, last_error
from .spares import SPARE_DIR

__all__ = ["Change", "FileChange", "Watches", "available", "changes", "install", "parse"]


class Change(enum.IntEnum):
    """watchfiles' values (so its changes compare equal): watchfiles is imported only where used."""

    added = 1
    modified = 2
    deleted = 3


FileChange = tuple[Change, str]

IN_MODIFY = 0x2
IN_ATTRIB = 0x4
IN_CLOSE_WRITE = 0x8
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ONLYDIR = 0x1000000
IN_ISDIR = 0x40000000
MASK = (
    IN_MODIFY
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
    | IN_ONLYDIR
)
_ADDED = IN_CREATE | IN_MOVED_TO
_REMOVED = IN_DELETE | IN_MOVED_FROM
_SELF = IN_DELETE_SELF | IN_MOVE_SELF
_HEADER = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len; then len bytes of name
_READ_SIZE = 64 * 1024


def parse(buf: bytes) -> list[tuple[int, int, bytes]]:
    """``(wd, mask, name)`` of each ``struct inotify_event`` in ``buf`` (name without its NUL padding)."""
    events = []
    offset, end = 0, len(buf)
    while offset + _HEADER.size <= end:
        wd, mask, _cookie, size = _HEADER.unpack_from(buf, offset)
        offset += _HEADER.size
        events.append((wd, mask, buf[offset : offset + size].rstrip(b"\0")))
        offset += size
    return events


def change_of(mask: int) -> Change:
    """What watchfiles would report for an event on a child of a watched folder."""
    if mask & _ADDED:
        return Change.added
    if mask & _REMOVED:
        return Change.deleted
    return Change.modified


def _libc() -> tuple[Callable[..., int], Callable[..., int], Callable[..., int]] | None:
    init = function("inotify_init1", ctypes.c_int)
    add = function("inotify_add_watch", ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32)
    rm = function("inotify_rm_watch", ctypes.c_int, ctypes.c_int)
    return None if init is None or add is None or rm is None else (init, add, rm)


_LIBC = _libc()


def available() -> bool:
    return _LIBC is not None


class Watches:
    """One inotify instance: the folders it watches and the changes read but not yet taken.

    ``recursive`` watches every folder below the root (shards, nsc account folders) and each new
    one as it appears, except the store's spare folder, whose writes are the server's own.
    """

    def __init__(self, root: str, *, recursive: bool, attrib: bool = False) -> None:
        assert _LIBC is not None, "inotify is not available"
        self.root = root
        self.recursive = recursive
        self.mask = MASK | (IN_ATTRIB if attrib else 0)
        self.pending: set[FileChange] = set()
        self.error: OSError | None = None
        self._dirs: dict[int, str] = {}
        self._wds: dict[str, int] = {}
        self.fd = _LIBC[0](os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise last_error("inotify_init1")
        # closed once: by close(), or when dropped unclosed (a change iterator that never started)
        self._closer = weakref.finalize(self, os.close, self.fd)
        try:
            self._add(root)
            if recursive:
                self._add_tree(root)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self._closer()

    def take(self) -> set[FileChange]:
        found, self.pending = self.pending, set()
        return found

    def read(self) -> None:
        """The loop's reader callback: every event queued so far, as pending changes."""
        try:
            buf = os.read(self.fd, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            self.error = exc
            return
        for wd, mask, name in parse(buf):
            self._event(wd, mask, name)

    def _event(self, wd: int, mask: int, name: bytes) -> None:
        if mask & IN_Q_OVERFLOW:
            self.error = OSError(errno.EOVERFLOW, "inotify event queue overflowed, changes were lost")
            return
        folder = self._dirs.get(wd)
        if folder is None:
            return  # a folder whose watch was dropped: its last events
        if mask & (_SELF | IN_IGNORED):
            if folder == self.root:
                self.error = FileNotFoundError(errno.ENOENT, "watched folder removed or moved", folder)
            elif mask & IN_IGNORED:
                self._forget(folder)
            return
        if not name:
            return
        path = f"{folder}{os.sep}{os.fsdecode(name)}"
        if mask & IN_ISDIR and self.recursive:
            if mask & _ADDED and name != SPARE_DIR.encode():
                self._add_new(path)
            elif mask & _REMOVED:
                self._forget(path)  # moved away: its watches would report paths it no longer has
        self.pending.add((change_of(mask), path))

    def _add(self, path: str) -> None:
        assert _LIBC is not None
        wd = _LIBC[1](self.fd, os.fsencode(path), self.mask)
        if wd < 0:
            raise last_error(path)
        self._dirs[wd] = path
        self._wds[path] = wd

    def _add_tree(self, top: str) -> None:
        """Watch the folders below ``top``; scandir tells folders apart without a stat per file."""
        stack = [top]
        while stack:
            try:
                entries = os.scandir(stack.pop())
            except OSError:
                continue  # vanished or unreadable meanwhile
            with entries:
                for entry in entries:
                    if entry.name != SPARE_DIR and entry.is_dir(follow_symlinks=False):
                        try:
                            self._add(entry.path)
                        except (FileNotFoundError, NotADirectoryError):
                            continue
                        stack.append(entry.path)

    def _add_new(self, path: str) -> None:
        try:
            self._add(path)
            self._add_tree(path)
        except (FileNotFoundError, NotADirectoryError):
            pass  # gone again: its deletion is in the queue
        except OSError as exc:  # out of watches (fs.inotify.max_user_watches): say so, start over
            self.error = exc

    def _forget(self, folder: str) -> None:
        assert _LIBC is not None
        below = f"{folder}{os.sep}"
        for path in [p for p in self._wds if p == folder or p.startswith(below)]:
            wd = self._wds.pop(path)
            self._dirs.pop(wd, None)
            _LIBC[2](self.fd, wd)  # EINVAL when the kernel dropped it already: nothing to do


class StopSignal(Protocol):
    def is_set(self) -> bool: ...


async def install(root: str, *, recursive: bool, attrib: bool = False) -> Watches:
    """``Watches`` built on a worker thread, so that a big folder's first watch does not stall the
    loop; OSError as from ``Watches``. A cancelled caller's watches are closed when they are built."""
    loop = asyncio.get_running_loop()
    built = loop.run_in_executor(None, functools.partial(Watches, root, recursive=recursive, attrib=attrib))
    try:
        return await asyncio.shield(built)
    except asyncio.CancelledError:
        built.add_done_callback(_close_unclaimed)
        raise


def _close_unclaimed(built: asyncio.Future[Watches]) -> None:
    if not built.cancelled() and built.exception() is None:
        built.result().close()


async def changes(
    watches: Watches, *, debounce_ms: int, step_ms: int, stop: StopSignal
) -> AsyncGenerator[set[FileChange], None]:
    """Batches of the changes ``watches`` report until ``stop`` is set (the watches are closed then);
    OSError when the watch breaks (the root went away, the event queue overflowed)."""
    loop = asyncio.get_running_loop()
    loop.add_reader(watches.fd, watches.read)
    step, debounce = step_ms / 1000, debounce_ms / 1000
    try:
        while True:
            while not watches.pending and watches.error is None:
                if stop.is_set():
                    return
                await asyncio.sleep(step)
            first, seen = loop.time(), -1
            while watches.error is None and len(watches.pending) != seen and loop.time() - first < debounce:
                seen = len(watches.pending)
                await asyncio.sleep(step)
            if watches.error is not None:
                raise watches.error
            if stop.is_set():
                return
            yield watches.take()
    finally:
        loop.remove_reader(watches.fd)
        watches.close()
