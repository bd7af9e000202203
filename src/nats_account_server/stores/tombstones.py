"""Deleting a directory store's JWT: its tombstone first, then the soft or the hard delete.

A deleted key leaves ``<key>.tombstone`` (the deleted JWT's iat), which keeps an older copy (from a
pack or a sync peer) from bringing the key back. A soft delete keeps the JWT aside as
``<key>.jwt.deleted``, a hard delete removes it; neither name is ever served or packed.
"""

from __future__ import annotations

import os
import secrets

from ..core.store import StoreError
from ..oserrors import os_error
from .durable import fsync_dir
from .files import O_CLOEXEC, TEMP_SUFFIX
from .spares import unlink_quietly
from .staging import FILE_MODE

__all__ = ["DELETED_SUFFIX", "TOMBSTONE_SUFFIX", "delete_file", "read_tombstone", "tombstone_path"]

TOMBSTONE_SUFFIX = ".tombstone"  # a deleted key's iat: no JWT, never served or packed
DELETED_SUFFIX = ".deleted"  # a soft-deleted JWT, `<key>.jwt.deleted`: kept, never served or packed


def tombstone_path(directory: str, key: str) -> str:
    return f"{directory}{os.sep}{key}{TOMBSTONE_SUFFIX}"


def delete_file(path: str, directory: str, key: str, iat: int, *, hard: bool) -> bool:
    """Delete the JWT file of ``key`` at ``path`` (a regular file, checked by the caller) in
    ``directory``; False when it went meanwhile.

    The tombstone is made durable first, then the JWT is renamed to ``<key>.jwt.deleted`` (soft) or
    removed (hard) and the folder synced: a crash in between leaves the JWT served and the
    tombstone unused, never the reverse."""
    tomb = tombstone_path(directory, key)
    tmp = f"{directory}{os.sep}.{key}{TOMBSTONE_SUFFIX}.{secrets.token_hex(8)}{TEMP_SUFFIX}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_CLOEXEC, FILE_MODE)
        try:
            os.write(fd, f"{iat}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, tomb)
        if hard:
            os.unlink(path)
        else:
            os.replace(path, path + DELETED_SUFFIX)
        fsync_dir(directory)
    except FileNotFoundError:
        unlink_quietly(tmp)
        return False  # removed by someone else meanwhile
    except OSError as e:
        unlink_quietly(tmp)
        raise StoreError(f"error deleting {path}: {os_error(e, known=path)}") from e
    return True


def read_tombstone(path: str) -> int | None:
    """The iat in the tombstone at ``path``; None without one (or an unreadable one: nothing to keep)."""
    try:
        with open(path, "rb") as f:
            text = f.read(32).strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
