"""The response cache of file stores (directory and nsc): a compact index of verified files.

Files are the source of truth on every request, as with the originals: a GET right after a hand
edit returns the new JWT, without waiting for the watcher. What makes that cheap is the index: per
key it keeps only the stamp (inode, size, mtime, ctime) of the file whose bytes were verified,
plus the ETag and expiry, packed in one bytes object (~200 bytes with its dict slot, against ~1 KiB
for a ready response). A hit opens the file, checks the stamp with ``fstat`` and reads it: no
decoding and no signature check, and 100,000 accounts fit in ~20 MiB. A file whose stamp changed
is a miss, verified again by the core.

Writable stores also keep the most recently used ready responses (``HOT`` of them) in front of the
index, so busy accounts skip the file read; each such hit still costs one ``stat``, compared with the
stamp the response was built from, so a hand edit is served by the very next GET, not only once the
store watcher reports it.

Given ``Marks`` (writable directory stores on filesystems with user extended attributes), the index
lives in the files instead (``marks.py``): a verified file carries a sealed mark with its ETag and
expiry, nothing per account is kept in memory, and the marks outlive restarts. A file that refuses
the attribute (immutable, another user's) goes to the in-memory index as before.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from contextlib import suppress
from itertools import islice
from typing import Protocol

from ..core.cache import Entry, Run
from ..core.checks import FirstRead, Stamp, stamp_of
from ..core.kinds import Kind
from ..log import log
from ..oserrors import os_error
from .files import read_stamped
from .firstread import first_job, parse_answer
from .marks import Marks, mark_file, read_marked

__all__ = ["FileBacked", "FileIndexCache"]

_STAMP = struct.Struct("<QQqqq")  # inode, size, mtime ns, ctime ns, exp
_STAMP_END = _STAMP.size - 8  # the stamp part of a record (exp is not compared)
_WHITESPACE = b" \t\r\n"
HOT = 2048  # ready responses kept in front of the index (~1.1 KiB each)


class FileBacked(Protocol):
    def file_of(self, key: str) -> str | None:
        """The file holding ``key``; None when the store has no file for it."""
        ...

    def found_absent(self, key: str) -> None:
        """The file of ``key`` was just found missing: the load that follows (the core confirming
        the 404 through its lookup and the system account) need not look again."""
        ...


def _served(data: bytes) -> bytes:
    """The JWT as served from a file's bytes: hand-written files often end in a newline."""
    return data.strip() if data[-1:] in _WHITESPACE else data


def _none(key: str) -> Entry | None:
    return None


def _stamp(st: os.stat_result, exp: int) -> bytes:
    return _STAMP.pack(st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, exp)


class FileIndexCache:
    """``ResponseCache``'s interface over a file store; entries are rebuilt from the file per hit."""

    def __init__(
        self,
        store: FileBacked,
        capacity: int = 100_000,
        *,
        hot: bool = False,
        marks: Marks | None = None,
        echo: Callable[[str, os.stat_result], None] | None = None,
        key_file: str | None = None,
    ) -> None:
        self.capacity = max(0, capacity)
        self.store = store
        # the hot set: key -> (ready response, its file, the stamp of the file it was built from)
        self.hot: dict[str, tuple[Entry, str, Stamp]] | None = {} if hot and self.capacity else None
        self.hot_capacity = min(HOT, self.capacity)
        self.ready: Callable[[str], Entry | None] = self._fresh if self.hot is not None else _none
        # with verified marks the files themselves are the index (see marks.py): nothing per
        # account stays in memory but the hot set; ``echo`` tells the store watcher a mark is ours
        self.marks = marks if self.capacity else None
        self.echo = echo
        self.key_file = key_file  # the marks' secret, for checking processes to seal with
        # key -> (file, stamp) of a file a checking process sealed, until ``put`` keeps its response
        self._sealed: dict[str, tuple[str, Stamp]] = {}
        # hash(key) -> stamp + exp + ETag: an int key instead of the 56-character key string
        # halves the memory; a collision can only make a stamp mismatch (another file), a miss
        self._index: dict[int, bytes] = {}

    def _file(self, key: str) -> str | None:
        # activation responses are cached under a prefixed key (core.cache_key)
        return self.store.file_of(key[1:] if key.startswith("~") else key)

    def _fresh(self, key: str) -> Entry | None:
        """The hot response of `key` while its file is unchanged: one stat, no read."""
        held = self.hot.get(key) if self.hot is not None else None
        if held is None:
            return None
        try:
            st = os.stat(held[1])
        except OSError:
            st = None
        if st is None or stamp_of(st) != held[2]:
            self.drop(key)  # edited by hand (or gone): read and verified again
            return None
        return held[0]

    def _keep_hot(self, key: str, entry: Entry, path: str, stamp: Stamp) -> None:
        """Keep `entry` ready, with the file it was built from and that file's stamp then."""
        hot = self.hot
        if hot is None:
            return
        if key not in hot and len(hot) >= self.hot_capacity:
            for old in list(islice(hot, max(1, self.hot_capacity // 64))):
                del hot[old]  # dicts keep insertion order: the oldest go first
        hot[key] = (entry, path, stamp)

    def get(self, key: str) -> Entry | None:
        if self.hot is not None:
            entry = self._fresh(key)
            if entry is not None:
                return entry
        if self.marks is not None:
            entry = self._get_marked(key)
            if entry is not None or not self._index:  # the index only holds files marks can't seal
                return entry
        slot = hash(key)
        record = self._index.get(slot)  # unknown keys (any URL tail) never reach the filesystem
        if record is None:
            return None
        path = self._file(key)  # None only for a key whose hash collides with an indexed one
        stamped = None
        if path is not None:
            try:
                stamped = read_stamped(path)
            except OSError:
                pass
        if stamped is None or _stamp(stamped[0], 0)[:_STAMP_END] != record[:_STAMP_END]:
            del self._index[slot]
            return None
        exp, etag = _STAMP.unpack_from(record)[4], record[_STAMP.size :].decode()
        assert path is not None  # stamped: the file was read
        return self._promote(key, path, _served(stamped[1]), exp, etag, stamped[0])

    def _get_marked(self, key: str) -> Entry | None:
        assert self.marks is not None
        path = self._file(key)
        if path is None:
            return None
        try:
            st = os.stat(path)  # before the read: an edit racing with it shows as a new stamp
        except FileNotFoundError:
            self.store.found_absent(key)
            return None
        except OSError:
            return None  # unreadable: the core reports it
        try:
            data, mark = read_marked(path)
        except OSError:
            return None  # unreadable: the core reports it
        if mark is None:
            return None  # never verified: the core verifies it (and put marks it)
        body = _served(data)
        opened = self.marks.unseal(key, body, mark)
        if opened is None:
            return None  # changed since it was verified (or not sealed by us): verified again
        return self._promote(key, path, body, *opened, st)

    def _promote(self, key: str, path: str, body: bytes, exp: int, etag: str, st: os.stat_result) -> Entry:
        """The ready response of a file found unchanged since its check, kept among the hot ones."""
        entry = Entry(body=body, jti=etag[1:-1], etag=etag, exp=exp)
        self._keep_hot(key, entry, path, stamp_of(st))
        return entry

    def _mark(self, key: str, path: str, entry: Entry) -> bool | None:
        """Seal the verified file of ``entry``, so no later read (even after a restart) checks it again.

        True when sealed, None when the file no longer holds ``entry`` (or there is none), False when
        it can't take a mark (immutable, another user's, ...): then the in-memory index takes it.
        """
        assert self.marks is not None
        try:
            st = mark_file(path, self.marks, key, entry.body, entry.exp, entry.etag)
        except FileNotFoundError:
            return None
        except OSError as exc:
            why = os_error(exc, known=path)
            log.debug(f"unable to mark {path} as verified, indexing it in memory: {why}")
            return False
        if st is None:
            return None
        if self.echo is not None:
            self.echo(path, st)
        return True

    def put(self, key: str, entry: Entry) -> None:
        """Index ``entry`` only if its file (stat first, then read) still holds exactly its JWT.

        Taking the stamp before reading makes any later change, even one racing with this call,
        show up as a different stamp on the next hit.
        """
        if self.capacity == 0:
            return
        if self._sealed and (sealed_by := self._sealed.pop(key, None)) is not None:
            self._keep_sealed(key, entry, *sealed_by)
            return
        path = self._file(key)
        if path is None:
            return
        if self.marks is not None:
            sealed = self._mark(key, path, entry)
            if sealed is None:
                return  # changed since the response was built: serve it once, don't keep it
            if sealed:
                if self.hot is not None:
                    with suppress(OSError):  # the seal changed the file's ctime: stamp it after
                        self._keep_hot(key, entry, path, stamp_of(os.stat(path)))
                return
        try:
            st, data = read_stamped(path)
        except OSError:
            return
        if data.strip() != entry.body:
            return  # changed since the response was built: serve it once, don't keep it
        index = self._index
        slot = hash(key)
        if slot not in index and len(index) >= self.capacity:
            for old in list(islice(index, max(1, self.capacity // 64))):
                del index[old]
        index[slot] = _stamp(st, entry.exp) + entry.etag.encode()
        self._keep_hot(key, entry, path, stamp_of(st))

    @property
    def reads_files(self) -> bool:
        """First reads can go to checking processes while every file takes a mark: files that
        refused one are indexed in memory, which only ``get`` consults."""
        return (
            self.marks is not None and self.key_file is not None and self.hot is not None and not self._index
        )

    async def first_read(self, kind: Kind, key: str, run: Run) -> FirstRead | None:
        if not self.reads_files or (path := self._file(key)) is None:
            return None
        assert self.key_file is not None
        first = parse_answer(await run(first_job(kind, key, path, self.key_file)))
        if first is not None and first.stamp is not None:
            if len(self._sealed) >= self.hot_capacity:  # responses the core never kept: forgotten
                self._sealed.clear()
            self._sealed[key] = (path, first.stamp)
        return first

    def _keep_sealed(self, key: str, entry: Entry, path: str, stamp: Stamp) -> None:
        """Keep the response of a file a checking process read and sealed."""
        if self.echo is not None:
            with suppress(OSError):
                st = os.stat(path)
                if stamp_of(st) == stamp:
                    self.echo(path, st)  # the seal's attribute event is ours
        self._keep_hot(key, entry, path, stamp)

    def drop(self, key: str) -> None:
        self._sealed.pop(key, None)
        self._index.pop(hash(key), None)
        if self.hot is not None:
            self.hot.pop(key, None)

    def clear(self) -> None:
        self._sealed.clear()
        self._index.clear()
        if self.hot is not None:
            self.hot.clear()

    def __len__(self) -> int:
        return len(self._index)
