"""Read-only store over an nsc operator folder.

nsc names account folders by account *name*, but nats-server asks by public key, so lookups go
through an index sub -> file path. The index is rebuilt cheaply (stat-cached) on a miss, so accounts
added with ``nsc add account`` are found without a restart; the file itself is re-read on every hit so
edits are served at once.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable

from nats_account_server.records import record

from ..core.cache import Cache
from ..core.store import OnChange, OnDelete, ReadOnlyError, StoreError, Watcher, Writes
from ..jwt import JWTError, decode_account, is_account_key, peek_claims
from ..log import log
from ..nscfolder import INFO_FILE, folder_problem
from ..oserrors import os_reason
from .files import JWT_SUFFIX, RefusedFile, folder_health, read_file

__all__ = ["NscStore"]

RESCAN_INTERVAL = 0.5  # seconds; bounds the directory scans a flood of unknown-key GETs can cause


@record(frozen=True)
class _Seen:
    """What a scan learned about one account file; reused while (mtime, size) stay the same."""

    mtime_ns: int
    size: int
    sub: str | None  # None: undecodable (already warned about)


class NscStore:
    """``<Op>/accounts/<N>/<N>.jwt`` files looked up by their ``sub``; users/ and activations never."""

    readonly = True
    supports_pack = False
    entries_vetted = True
    writes = Writes.THREADED  # every save is refused, from a worker thread like any file access

    def __init__(self, operator_dir: str | os.PathLike[str]) -> None:
        self.dir = os.path.abspath(os.fspath(operator_dir))
        self.accounts_dir = os.path.join(self.dir, "accounts")
        self.description = f"creating a read-only store for the NSC folder at {self.dir}"
        problem = folder_problem(self.dir, setting="store.nsc")
        if problem is not None:
            raise StoreError(problem)
        nsc_file = os.path.join(self.dir, INFO_FILE)
        try:
            self.config = json.loads(read_file(nsc_file))  # a regular file of at most 1 MiB
        except RefusedFile as e:
            raise StoreError(f"error loading '.nsc' file: {e}") from e
        except OSError as e:
            raise StoreError(f"error loading '.nsc' file {nsc_file}: {os_reason(e)}") from e
        except UnicodeDecodeError:
            raise StoreError(f"error loading '.nsc' file {nsc_file}: not UTF-8 text") from None
        except ValueError as e:  # not JSON
            raise StoreError(f"error loading '.nsc' file {nsc_file}: not JSON ({e})") from e
        self._lock = threading.Lock()
        self._index: dict[str, str] = {}
        self._seen: dict[str, _Seen] = {}
        self._last_scan = 0.0
        self.refresh()

    def make_cache(self, capacity: int) -> Cache:
        from .fileindex import FileIndexCache

        return FileIndexCache(self, capacity)  # hand-edited: the file is checked on every GET

    def watcher(self, on_change: OnChange, on_delete: OnDelete) -> Watcher | None:
        from .watch import StoreWatcher

        return StoreWatcher(self, on_change, on_delete=on_delete, track_content=True)

    async def start(self, on_remote_change: Callable[[str, str], None]) -> None:
        return None

    async def stop(self) -> None:
        return None

    @property
    def operator_jwt_path(self) -> str:
        """``<dir>/<basename>.jwt``: where nsc keeps the operator JWT (used by the ``-nsc`` flag)."""
        return os.path.join(self.dir, os.path.basename(self.dir) + ".jwt")

    def account_file(self, name: str) -> str:
        return os.path.join(self.accounts_dir, name, name + ".jwt")

    def refresh(self) -> None:
        """Rebuild the index now; only files whose mtime/size changed are decoded again."""
        try:
            names = sorted(os.listdir(self.accounts_dir))
        except FileNotFoundError:
            names = []
        except OSError as e:
            log.warn(f"unable to list the nsc accounts folder {self.accounts_dir}: {os_reason(e)}")
            names = []
        index: dict[str, str] = {}
        seen: dict[str, _Seen] = {}
        for name in names:
            path = self.account_file(name)
            entry = self._examine(path)
            if entry is None:
                continue
            seen[path] = entry
            if entry.sub is not None and entry.sub not in index:  # first folder by name wins
                index[entry.sub] = path
        with self._lock:
            self._index = index
            self._seen = seen
            self._last_scan = time.monotonic()

    def _examine(self, path: str) -> _Seen | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        with self._lock:
            old = self._seen.get(path)
        if old is not None and old.mtime_ns == st.st_mtime_ns and old.size == st.st_size:
            return old
        sub = self._decode_sub(path)
        return _Seen(st.st_mtime_ns, st.st_size, sub)

    @staticmethod
    def _decode_sub(path: str) -> str | None:
        """Subject of a valid account JWT file; undecodable files are skipped with a warning (NEW), as
        are special and oversized ones (read as every store file is: ``files.read_file``)."""
        try:
            raw = read_file(path).decode("utf-8")
            sub = decode_account(raw.strip()).sub
        except RefusedFile as e:
            log.warn(f"skipping nsc account file: {e}")
            return None
        except OSError as e:
            log.warn(f"skipping nsc account file {path}: {os_reason(e)}")
            return None
        except UnicodeDecodeError:
            log.warn(f"skipping nsc account file {path}: not UTF-8 text")
            return None
        except JWTError as e:
            log.warn(f"skipping nsc account file {path}: {e}")
            return None
        if not is_account_key(sub):
            log.warn(f"skipping nsc account file {path}: subject {sub!r} is not an account key")
            return None
        return sub

    def _lookup(self, key: str) -> str | None:
        path = self._index.get(key)
        if path is None:
            return None
        try:
            # a trailing newline from a hand edit is not part of the JWT
            raw = read_file(path).decode("utf-8").strip()
        except (OSError, UnicodeDecodeError):  # special or oversized files (RefusedFile) included
            return None
        try:
            if peek_claims(raw).sub != key:
                return None  # edited to another account since the scan: treat as a miss
        except (JWTError, ValueError):
            return None
        return raw

    def file_of(self, key: str) -> str | None:
        """The file currently indexed for account ``key`` (None when unknown)."""
        return self._index.get(key)

    def key_of(self, path: str) -> str | None:
        """The account key last indexed for ``path`` (e.g. a file that was just deleted)."""
        with self._lock:
            seen = self._seen.get(path)
        return seen.sub if seen is not None else None

    # ------------------------------------------------------------ what the watcher needs

    @property
    def watch_root(self) -> str:
        return self.dir  # accounts/ may not exist yet

    watch_recursive = True

    def _is_account_file(self, path: str) -> bool:
        """`accounts/<N>/<N>.jwt` below the operator folder (users/ and activations never)."""
        rel = os.path.relpath(path, self.dir).split(os.sep)
        return len(rel) == 3 and rel[0] == "accounts" and rel[2] == rel[1] + JWT_SUFFIX

    def changed_file(self, path: str) -> tuple[str, str] | None:
        if not self._is_account_file(path):
            return None
        try:
            jwt = read_file(path).decode("utf-8").strip()  # as load serves it
            sub = peek_claims(jwt).sub
        except (OSError, UnicodeDecodeError, JWTError, ValueError) as e:
            log.debug(f"ignoring change of {path}: {os_reason(e) if isinstance(e, OSError) else e}")
            return None
        return (sub, jwt) if is_account_key(sub) else None

    def removed_file(self, path: str) -> str | None:
        if self._is_account_file(path):
            return self.key_of(path) or ""
        parts = os.path.relpath(path, self.dir).split(os.sep)
        return "" if len(parts) == 2 and parts[0] == "accounts" else None  # a whole account folder

    def file_exists(self, key: str) -> bool:
        path = self.file_of(key)
        return path is not None and os.path.exists(path)

    def is_own_write(self, path: str, st: os.stat_result | None = None) -> bool:
        return False  # read-only: every change is someone else's

    def noticed_changes(self) -> None:
        self.refresh()  # new accounts are indexed right away

    def found_absent(self, key: str) -> None:
        return None  # the index is looked up on every load anyway

    def load(self, key: str) -> str | None:
        if not is_account_key(key):
            return None  # activations (and junk) are never found in an nsc store
        raw = self._lookup(key)
        if raw is not None:
            return raw
        with self._lock:
            due = time.monotonic() - self._last_scan >= RESCAN_INTERVAL
        if not due:
            return None
        self.refresh()
        return self._lookup(key)

    def save(self, key: str, jwt: str) -> None:
        raise ReadOnlyError()

    def pack(self, max: int = -1) -> list[tuple[str, str]]:
        raise StoreError("the nsc store does not support pack")

    def counts(self) -> tuple[int, int]:
        return len(self.account_keys()), 0  # accounts only: an nsc folder serves no activations

    def health(self) -> str | None:
        return folder_health(self.accounts_dir, "nsc accounts folder", writable=False)

    def account_keys(self) -> list[str]:
        with self._lock:
            due = time.monotonic() - self._last_scan >= RESCAN_INTERVAL
        if due:
            self.refresh()
        with self._lock:
            return sorted(self._index)

    def close(self) -> None:
        """Nothing is held open."""
