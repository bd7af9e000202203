"""Walking a directory store's files without holding its listing.

``os.scandir`` streams a folder's entries, so a pass over a million files (the JWT sync's store
hash, a NATS pack, the counts) keeps one entry at a time in memory instead of a list of a million
names or a dict of every key; ``os.walk`` would build the list, and sorting it would keep it.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Callable, Iterator

from ..core.store import is_store_key
from ..jwt import is_account_key
from .files import JWT_SUFFIX
from .spares import SPARE_DIR

__all__ = ["key_from_filename", "keys_after", "store_files"]


def key_from_filename(name: str) -> str | None:
    """The store key of a ``*.jwt`` file name (text up to the first dot), or None.

    Temp files (``.K.jwt.<rnd>.tmp``) yield None: they neither end in ``.jwt`` nor have a key.
    """
    if not name.endswith(JWT_SUFFIX):
        return None
    key = name.split(".", 1)[0]
    return key if is_store_key(key) else None


def store_files(root: str, path_for: Callable[[str], str]) -> Iterator[tuple[str, str]]:
    """(key, path) of every ``*.jwt`` file with a store key anywhere below ``root`` (our spare
    folder and symlinked folders excepted), in directory order.

    Walking the whole tree lets sharded and flat stores read each other's layout. A key is yielded
    from its own path (the one GET serves) when a file is there, else from the first other copy
    found: only those copies (files outside this store's layout, rare) are remembered.
    """
    strays: set[str] = set()
    folders = [root]
    while folders:
        folder = folders.pop()
        try:
            entries = os.scandir(folder)
        except OSError:
            continue  # gone or unreadable since it was listed: as os.walk, skip it
        with entries:
            for entry in entries:
                name = entry.name
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    continue
                if is_dir:
                    if not entry.is_symlink() and not (folder == root and name == SPARE_DIR):
                        folders.append(entry.path)
                    continue
                key = key_from_filename(name)
                if key is None:
                    continue
                own = path_for(key)
                if entry.path == own:
                    yield key, own
                elif key not in strays and not os.path.lexists(own):
                    strays.add(key)
                    yield key, entry.path


def keys_after(
    root: str, path_for: Callable[[str], str], after: str, limit: int, *, accounts: bool
) -> list[str]:
    """The next page in key order: one pass over the folders keeping the ``limit`` smallest keys
    above ``after`` (accounts, or activations), so a page of a million-file store holds ``limit``
    keys, not a million. Only a key's own path (the one GET serves) counts."""

    def keys() -> Iterator[str]:
        for dirpath, dirnames, filenames in os.walk(root):
            if dirpath == root and SPARE_DIR in dirnames:
                dirnames.remove(SPARE_DIR)
            for name in filenames:
                key = key_from_filename(name)
                if key is not None and key > after and is_account_key(key) == accounts:
                    if path_for(key) == os.path.join(dirpath, name):
                        yield key

    return heapq.nsmallest(limit, keys())
