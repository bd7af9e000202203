"""A directory store's temp files: where they go, writing a JWT to one, swapping it into place.

A save writes its JWT to a temp file (a new one, or a spare overwritten in place, see spares.py) in
the hidden spare folder, and once the group's files are synced the temp file takes its target's
place by a swap (``RENAME_EXCHANGE``, which leaves the old file behind as a spare) or a plain rename.
Kept apart from the store so that the store reads as the order of a save (stage, sync, swap, fsync
the folders) and this module as how each step touches the filesystem.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from typing import NamedTuple

from ..log import log
from ..oserrors import os_error
from .durable import GroupSync, fsync_dir
from .files import JWT_SUFFIX, O_CLOEXEC, TEMP_SUFFIX, write_at
from .spares import SPARE_DIR, Spares, exchange, unlink_quietly, unsupported

__all__ = ["DIR_MODE", "FILE_MODE", "Staged", "Staging"]

FILE_MODE = 0o644  # JWTs are public data served over HTTP anyway
DIR_MODE = 0o755


class Staged(NamedTuple):
    """A JWT written to its temp file (a new one, or a spare overwritten in place), waiting for the
    group's fsyncs and swaps."""

    slot: int
    fd: int
    tmp: str
    folder: str  # the temp file's directory
    path: str
    directory: str  # the target's directory
    spare: bool


def is_real_dir(path: str) -> bool:
    """A directory, not a symlink to one: the spare folder must never lead out of the store."""
    return stat.S_ISDIR(os.lstat(path).st_mode)


def ensure_dir(root: str, directory: str) -> None:
    """The folder a JWT goes to (a shard folder, made and made durable on first use)."""
    if directory == root or os.path.isdir(directory):
        return
    with contextlib.suppress(FileExistsError):  # mkdir: a store root that went stays gone
        os.mkdir(directory, mode=DIR_MODE)
    fsync_dir(root)


def _new_temp(folder: str, key: str) -> tuple[str, int]:
    tmp = f"{folder}{os.sep}.{key}{JWT_SUFFIX}.{secrets.token_hex(8)}{TEMP_SUFFIX}"
    return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_CLOEXEC, FILE_MODE)


def _swapped_out(tmp: str, path: str) -> bool:
    """Keep what a swap took from ``path`` as a spare when it is a file. A directory is put back
    (the save fails, as a rename over it would); a symlink or other node is dropped, as a rename
    would drop it."""
    mode = os.lstat(tmp).st_mode
    if stat.S_ISREG(mode):
        return True
    if stat.S_ISDIR(mode):
        exchange(tmp, path)
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    unlink_quietly(tmp)
    return False


class Staging:
    """The temp files of one writable store root: its spare folder, its spares, and the swaps."""

    def __init__(self, root: str, spares: Spares, group_sync: GroupSync | None) -> None:
        self.root = root
        self.spares = spares
        self.group_sync = group_sync
        self.spare_dir = os.path.join(root, SPARE_DIR)
        self.folder: str | None = None  # where temp files and spares go, once made ("": beside the JWTs)

    def clear_leftovers(self) -> None:
        """Temp files and spares a crash left in SPARE_DIR: no JWT there is one to keep."""
        folder = self.spare_dir
        try:
            if not is_real_dir(folder):
                return
            names = [name for name in os.listdir(folder) if name.endswith(TEMP_SUFFIX)]
        except OSError:
            return
        for name in names:
            unlink_quietly(os.path.join(folder, name))
        if names:
            log.debug(f"removed {len(names)} temp files left in {folder}")

    def temp_folder(self, directory: str) -> str:
        """SPARE_DIR (made on first use); the target's own directory where it cannot be made."""
        if self.folder is None:
            folder = self.spare_dir
            try:
                with contextlib.suppress(FileExistsError):  # mkdir: a store root that went stays gone
                    os.mkdir(folder, mode=DIR_MODE)
                if not is_real_dir(folder):
                    raise NotADirectoryError(errno.ENOTDIR, "not a directory", folder)
                fsync_dir(self.root)
                self.folder = folder
            except OSError as exc:  # e.g. a file of that name: temp files beside the JWTs, no spares
                log.debug(f"spare inodes are off for {self.root}: no {SPARE_DIR} folder ({os_error(exc)})")
                self.spares.enabled = False
                if self.group_sync is not None:  # and no syncfs: a shard folder could be another mount
                    self.group_sync.filesystem = None
                self.folder = ""
        return self.folder or directory

    def stage(self, index: int, key: str, path: str, directory: str, data: bytes) -> Staged:
        """The JWT written (not yet synced) to a spare or a new temp file in SPARE_DIR.

        The temp name starts with a dot and does not end in ``.jwt``: pack, the watcher and
        ``key_from_filename`` all ignore it, so a crash leaves nothing that could be served.
        """
        ensure_dir(self.root, directory)
        folder = self.temp_folder(directory)
        spare = self.spares.take()
        if spare is not None:
            tmp, fd, size = spare
        else:
            try:
                tmp, fd = _new_temp(folder, key)
            except FileNotFoundError:
                if folder != self.folder or not os.path.isdir(self.root):
                    raise
                self.folder = None  # the temp folder was deleted (with the store's content?): again
                folder = self.temp_folder(directory)
                tmp, fd = _new_temp(folder, key)
        try:
            view, done = memoryview(data), 0
            while done < len(data):
                done += write_at(fd, view[done:], done)
            if spare is not None and size > len(data):
                os.ftruncate(fd, len(data))
        except BaseException:
            os.close(fd)
            unlink_quietly(tmp)
            raise
        return Staged(index, fd, tmp, folder, path, directory, spare is not None)

    def swap(self, tmp: str, path: str) -> bool:
        """Put the file at ``tmp`` in place at ``path``; True when the old file now sits at ``tmp``."""
        if self.spares.enabled:
            try:
                exchange(tmp, path)
            except FileNotFoundError:
                pass  # nothing at path yet: a plain rename
            except OSError as exc:
                if not unsupported(exc):
                    raise
                self.spares.enabled = False
                log.debug(f"spare inodes are off for {self.root}: no RENAME_EXCHANGE here ({os_error(exc)})")
            else:
                return _swapped_out(tmp, path)
        os.replace(tmp, path)
        return False

    def close(self) -> None:
        """Spares are removed, and their folder when empty."""
        self.spares.close()
        if self.folder:
            try:
                os.rmdir(self.folder)
            except OSError:
                pass
