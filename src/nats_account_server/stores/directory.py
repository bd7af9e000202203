"""Directory store: one ``<key>.jwt`` file per key, optionally sharded.

Files are the source of truth on every request, so JWTs dropped in by hand are served at once. Writes
go through a temp file (or a spare inode, see spares.py) that is synced and swapped or renamed into
place, so that readers (and crashes) never see half a JWT. Here: the order of a save and what our
own saves left; the temp files and swaps are staging.py's, deletions and tombstones tombstones.py's,
walks and pages walk.py's.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator, Sequence

from ..core.cache import Cache
from ..core.store import (
    OnChange,
    OnDelete,
    ReadOnlyError,
    StoreError,
    Version,
    Watcher,
    Writes,
    is_store_key,
)
from ..jwt import is_account_key
from ..log import log
from ..oserrors import os_error, os_reason
from . import inotify
from .durable import GroupSync, fsync_dir
from .fileindex import FileIndexCache
from .files import JWT_SUFFIX, TEMP_SUFFIX, RefusedFile, folder_health, read_fd, read_file
from .marks import KEY_FILE, Marks
from .spares import Spares, unlink_quietly
from .staging import DIR_MODE, FILE_MODE, Staged, Staging
from .tombstones import delete_file, read_tombstone, tombstone_path
from .walk import key_from_filename, keys_after, store_files
from .writer import WriterLock

__all__ = ["DirectoryStore", "JWT_SUFFIX", "TEMP_SUFFIX", "key_from_filename", "read_fd", "read_file"]

OWN_WRITES_KEPT = 65536  # echo marks the watcher has not consumed yet; beyond that, echoes are re-read
# versions of our latest saves (~600 bytes each): enough for the keys uploaded again and again; a
# stream of new accounts must not grow the process by 40 MiB (65,536 of them) before a clear
SAVED_KEPT = 4096


Stamp = tuple[int, int, int]  # inode, size, mtime_ns: what a rename keeps and any rewrite changes


def _stamp(st: os.stat_result) -> Stamp:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _still(path: str, stamp: Stamp | None) -> bool:
    """True when the file at ``path`` still has ``stamp`` (False without a stamp or a file)."""
    if stamp is None:
        return False
    try:
        return _stamp(os.stat(path)) == stamp
    except OSError:
        return False


class DirectoryStore:
    """Key -> JWT map on disk. Saves are serialized; loads need no lock thanks to atomic renames."""

    supports_pack = True
    entries_vetted = True
    writes = Writes.GROUPED

    def __init__(
        self, root: str | os.PathLike[str], shard: bool = False, readonly: bool = False, create: bool = True
    ) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self._prefix = os.path.join(self.root, "")  # the root with one trailing separator
        self.shard = shard
        self.readonly = readonly
        if readonly or not create:
            self._check_root()
        else:
            try:
                os.makedirs(self.root, mode=DIR_MODE, exist_ok=True)
            except FileExistsError as e:
                raise StoreError(f"the path [{self.root}] is not a directory") from e
            except OSError as e:
                why = os_error(e, known=self.root)
                raise StoreError(f"unable to create the store directory {self.root}: {why}") from e
        self.description = (
            f"creating a read-only store at {self.root}" if readonly else f"creating a store at {self.root}"
        )
        # path -> stamp of our latest write there, until the watcher sees its echo
        self._own: dict[str, Stamp] = {}
        # path -> stamp and version of our latest save there (kept, unlike the echo marks)
        self._saved: dict[str, tuple[Stamp, Version | None]] = {}
        self._absent = ""  # the key whose file the response cache just found missing (see found_absent)
        self.spares = Spares(FILE_MODE)
        self.group_sync: GroupSync | None = None
        self._writer: WriterLock | None = None
        if not readonly:
            self._writer = WriterLock.take(self.root)  # before anything of a running writer is touched
            self.group_sync = GroupSync(self.root)
        self._staging = Staging(self.root, self.spares, self.group_sync)  # temp files and swaps
        if not readonly:
            self._staging.clear_leftovers()
            log.debug(f"spare inodes are {'on' if self.spares.enabled else 'off'} for {self.root}")

    def make_cache(self, capacity: int) -> Cache:
        """A compact index of verified files; a writable store also keeps its busy accounts ready
        (the watcher drops hand edits) and seals verified files with marks where it can, so that
        nothing per account stays in memory. Hand-edited (read-only) stores check the file per GET."""
        if self.readonly:
            return FileIndexCache(self, capacity)
        # where the watcher hears attribute changes, the event of a verified mark is our own echo
        echo = self.remember_own if not inotify.available() else None
        marks = Marks.open(self.root)
        key_file = os.path.join(self.root, KEY_FILE)
        return FileIndexCache(self, capacity, hot=True, marks=marks, echo=echo, key_file=key_file)

    def watcher(self, on_change: OnChange, on_delete: OnDelete) -> Watcher | None:
        from .watch import StoreWatcher  # the watcher reads this store's layout: imported on use

        return StoreWatcher(self, on_change, on_delete=on_delete, track_content=self.readonly)

    async def start(self, on_remote_change: Callable[[str, str], None]) -> None:
        return None

    async def stop(self) -> None:
        return None

    def _check_root(self) -> None:
        if not os.path.exists(self.root):
            raise StoreError(f"the path [{self.root}] doesn't exist")
        if not os.path.isdir(self.root):
            raise StoreError(f"the path [{self.root}] is not a directory")

    def _directory_of(self, key: str) -> str:
        return f"{self._prefix}{key[-2:]}" if self.shard else self.root

    def path_for(self, key: str) -> str:
        """Where ``key`` lives; callers must have checked ``is_store_key`` (no traversal possible then)."""
        if self.shard:
            return f"{self._prefix}{key[-2:]}{os.sep}{key}{JWT_SUFFIX}"
        return f"{self._prefix}{key}{JWT_SUFFIX}"  # plain concatenation: a third of os.path.join

    def found_absent(self, key: str) -> None:
        """The response cache has just found no file for ``key``: the next load of it answers None
        without looking again (a 404 costs one check of the filesystem, not two)."""
        self._absent = key

    def load(self, key: str) -> str | None:
        """The JWT in the file of ``key`` (surrounding whitespace removed), None without a file;
        StoreError for a file that can't be served (unreadable, special, too large, not UTF-8)."""
        if self._absent and key == self._absent:
            self._absent = ""
            return None
        if not is_store_key(key):
            return None
        path = self.path_for(key)
        if not os.access(path, os.F_OK):  # a miss without raising: 404s are a hot path too
            return None
        try:
            data = read_file(path)  # a regular file of at most FILE_LIMIT bytes, else RefusedFile
        except (FileNotFoundError, NotADirectoryError):
            return None
        except RefusedFile as e:  # a FIFO, a device, a folder, a huge file: a 500 for this key only
            raise StoreError(str(e)) from e
        except OSError as e:
            raise StoreError(f"error reading {path}: {os_error(e, known=path)}") from e
        try:
            # hand-edited files often end in a newline (editors, `echo $JWT > f`, git checkouts); a JWT
            # never contains whitespace, and Go's base64 decoder skipped it, so the originals served them
            return data.decode("utf-8").strip()
        except UnicodeDecodeError as e:
            raise StoreError(f"error reading {path}: content is not UTF-8 text") from e

    def file_of(self, key: str) -> str | None:
        """The file that holds ``key`` (whether or not it exists); None for keys that are not ours."""
        return self.path_for(key) if is_store_key(key) else None

    def save(self, key: str, jwt: str) -> None:
        error = self.save_many([(key, jwt)])[0]
        if error is not None:
            raise error

    def save_many(
        self, items: Sequence[tuple[str, str]], versions: Sequence[Version | None] | None = None
    ) -> list[StoreError | None]:
        """Durably write a group of JWTs (distinct keys): each goes to a temp file, the temp files
        are synced (by one syncfs where durable.py allows, else back to back), renamed over their
        targets, and each directory fsynced once.

        A group shares the fsync of its directories, and the journal commits of its files follow one
        another instead of interleaving with other threads' work. Returns one error (or None) per item:
        an item that fails (bad key, ENOSPC, ...) leaves its old file in place and the others saved.
        """
        if self.readonly:
            raise ReadOnlyError()
        errors: list[StoreError | None] = [None] * len(items)
        staged: list[Staged] = []
        for i, (key, jwt) in enumerate(items):
            if not is_store_key(key):
                errors[i] = StoreError(f"invalid store key {key!r}")
                continue
            path = self.path_for(key)
            try:
                staged.append(self._staging.stage(i, key, path, self._directory_of(key), jwt.encode("utf-8")))
            except OSError as e:
                errors[i] = StoreError(f"error saving JWT to {path}: {os_error(e, known=path)}")
        synced: dict[str, list[int]] = {}  # directories whose entries changed -> the items there
        freed: list[str] = []  # spares this group's swaps left
        durable = self.group_sync is not None and self.group_sync.sync([item.fd for item in staged])
        for item in staged:
            try:
                try:
                    if not durable:  # a spare's inode is durable already: its bytes and size are to sync
                        (os.fdatasync if item.spare else os.fsync)(item.fd)
                    written = os.fstat(item.fd)
                finally:
                    os.close(item.fd)
                swapped = self._staging.swap(item.tmp, item.path)
            except OSError as e:
                unlink_quietly(item.tmp)
                why = os_error(e, known=item.path)
                errors[item.slot] = StoreError(f"error saving JWT to {item.path}: {why}")
                continue
            self.remember_own(item.path, written)  # a rename keeps inode and mtime
            if len(self._saved) >= SAVED_KEPT:
                self._saved.clear()
            self._saved[item.path] = (_stamp(written), versions[item.slot] if versions else None)
            synced.setdefault(item.directory, []).append(item.slot)
            synced.setdefault(item.folder, []).append(item.slot)
            if swapped:
                freed.append(item.tmp)
        durable_swaps = True
        for directory, slots in synced.items():
            try:
                fsync_dir(directory)
            except OSError as e:  # the renames may not survive a crash: not saved, as far as we know
                log.error(f"error syncing directory {directory}: {os_error(e, known=directory)}")
                durable_swaps = False
                for slot in slots:
                    errors[slot] = StoreError(f"error saving JWT: syncing {directory} failed: {os_reason(e)}")
        if durable_swaps:
            self.spares.rest(freed)  # only now: their swaps are durable
        else:  # a spare whose swap may be undone by a crash must never be overwritten
            for tmp in freed:
                unlink_quietly(tmp)
        return errors

    def remember_own(self, path: str, st: os.stat_result) -> None:
        """``path`` now holds what we wrote (a save, or a verified mark): its watcher event is an echo."""
        if len(self._own) >= OWN_WRITES_KEPT:
            self._own.clear()
        self._own[path] = _stamp(st)

    def saved_version(self, key: str) -> Version | None:
        """The version of our latest save of ``key`` while its file is the one that save wrote: the
        newer-wins check then needs one stat, not a read and a JSON decode. Only keys we saved
        (valid ones) reach the stat."""
        path = self.path_for(key)
        saved = self._saved.get(path)
        return saved[1] if saved is not None and _still(path, saved[0]) else None

    def is_own_write(self, path: str, st: os.stat_result | None = None) -> bool:
        """True when `path` still holds exactly what our latest save wrote: the watcher's event for it
        is the echo of our own write (already applied), not a hand edit that needs reading. ``st``:
        the watcher's fresh stat of `path`, if it took one."""
        stamp = self._own.pop(path, None)
        if st is None or stamp is None:
            return _still(path, stamp)
        return _stamp(st) == stamp

    # ------------------------------------------------------------ what the watcher needs

    @property
    def watch_root(self) -> str:
        return self.root

    @property
    def watch_recursive(self) -> bool:
        # a flat store needs one inotify watch; a recursive watch walks every folder (and watchfiles
        # stats every file) at startup, which is seconds for a million accounts
        return self.shard

    def _served_key(self, path: str) -> str | None:
        """The account key whose GET serves the file at `path`, else None (activations, temp
        files, files outside the store layout)."""
        name = os.path.basename(path)
        if not name.endswith(JWT_SUFFIX):
            return None
        key = name[: -len(JWT_SUFFIX)]
        return key if is_account_key(key) and self.path_for(key) == path else None

    def changed_file(self, path: str) -> tuple[str, str] | None:
        key = self._served_key(path)
        if key is None:
            return None
        jwt = self.load(key)
        return (key, jwt) if jwt else None

    def removed_file(self, path: str) -> str | None:
        key = self._served_key(path)
        if key is not None:
            return key
        rel = os.path.relpath(path, self.root)
        return "" if self.shard and len(rel) == 2 and os.sep not in rel else None  # a shard folder

    def file_exists(self, key: str) -> bool:
        return os.path.exists(self.path_for(key))

    def noticed_changes(self) -> None:
        return None  # files are read on every GET: nothing to index

    def _walk(self) -> Iterator[tuple[str, str]]:
        """(key, path) of every ``*.jwt`` file with a store key, streamed (see walk.py)."""
        return store_files(self.root, self.path_for)

    def stream(self) -> Iterator[tuple[str, str]]:
        """Every (key, JWT) of the store, read one file at a time: what a pass over a large store
        (the JWT sync's hash, a NATS pack) reads without holding the store in memory."""
        for key, path in self._walk():
            try:
                jwt = read_file(path).decode("utf-8")
            except FileNotFoundError:
                continue  # removed since the walk
            except RefusedFile as e:
                log.warn(f"skipping store file in pack: {e}")
                continue
            except (OSError, UnicodeDecodeError) as e:
                why = os_error(e, known=path) if isinstance(e, OSError) else "not UTF-8 text"
                log.warn(f"skipping unreadable store file {path} in pack: {why}")
                continue
            yield key, jwt

    def pack(self, max: int = -1) -> list[tuple[str, str]]:
        if max == 0:
            return []
        out: list[tuple[str, str]] = []
        for item in self.stream():
            out.append(item)
            if 0 < max <= len(out):
                break
        return out

    def account_keys(self) -> list[str]:
        return sorted(key for key, _ in self._walk() if is_account_key(key))

    def counts(self) -> tuple[int, int]:
        """Counted while walking, nothing kept: a large store is never held in memory for this."""
        accounts = activations = 0
        for key, _ in self._walk():
            if is_account_key(key):
                accounts += 1
            else:
                activations += 1
        return accounts, activations

    def health(self) -> str | None:
        return folder_health(self.root, "store directory", writable=not self.readonly)

    # ------------------------------------------------------------ listing and deletion

    def keys_after(self, after: str, limit: int, *, accounts: bool = True) -> list[str]:
        """The next page in key order, holding ``limit`` keys however large the store (see walk.py)."""
        return keys_after(self.root, self.path_for, after, limit, accounts=accounts)

    def delete(self, key: str, iat: int, *, hard: bool) -> bool:
        """The tombstone first, then the JWT set aside (soft) or removed (hard): see tombstones.py."""
        if self.readonly:
            raise ReadOnlyError()
        if not is_store_key(key):
            raise StoreError(f"invalid store key {key!r}")
        path = self.path_for(key)
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                raise StoreError(f"{path} is not a regular file; remove it by hand")
        except FileNotFoundError:
            return False
        except OSError as e:
            raise StoreError(f"error deleting {path}: {os_error(e, known=path)}") from e
        if not delete_file(path, self._directory_of(key), key, iat, hard=hard):
            return False
        self._saved.pop(path, None)
        self._own.pop(path, None)
        return True

    def tombstone(self, key: str) -> int | None:
        """The iat in ``<key>.tombstone``; None without one (or an unreadable one: nothing to keep)."""
        if not is_store_key(key):
            return None
        return read_tombstone(tombstone_path(self._directory_of(key), key))

    def close(self) -> None:
        """Nothing is held open between calls; spares are removed, and their folder when empty;
        the writer's lock goes last."""
        self._staging.close()
        if self._writer is not None:
            self._writer.release()
