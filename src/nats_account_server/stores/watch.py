"""Announce account JWT file changes of read-only directory and nsc stores.

Changes come from inotify read on the event loop (stores/inotify.py), or from ``watchfiles.awatch``
where inotify is missing. Every added or modified account file is re-read and
reported when its bytes differ from the last version seen; this covers in-place edits as well as
write-to-temp-then-rename (editors, ``git pull``), which the original missed.

"Last seen" choice: the watcher prefetches a SHA-256 of every account file right after its inotify
watches are installed. Hence rewriting a file with identical bytes is silent even the first time,
while a file that appears later is reported on first sight. After a watcher failure the same scan
runs again and reports what changed while nobody was watching.

With ``track_content=False`` (writable stores: nothing is announced, the watcher only keeps the
response cache right) there is no prefetch and no per-key memory: every change is reported, which
costs nothing at startup however large the store is.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import os
import stat
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from typing import Any, Protocol, cast

from ..log import log, short_key
from ..oserrors import error_text
from . import inotify
from .files import JWT_SUFFIX, TEMP_SUFFIX
from .inotify import Change

__all__ = ["OnChange", "StoreWatcher", "Watched"]

MAX_RETRY_PAUSE = 30.0  # seconds

OnChange = Callable[[str, str], Awaitable[None] | None]
# called with the deleted account's key ("" when it can't be known, e.g. an nsc file): never
# announced, but caches in front of the store must forget it
OnDelete = Callable[[str], None]


class Watched(Protocol):
    """What the watcher needs to know of a file store's layout (the directory and nsc stores)."""

    @property
    def watch_root(self) -> str:
        """The folder to watch (it must exist; the files may come later)."""
        ...

    @property
    def watch_recursive(self) -> bool:
        """Whether account files live in subfolders of the root."""
        ...

    def changed_file(self, path: str) -> tuple[str, str] | None:
        """(key, JWT) of the account file at `path` as GET would serve it; None for other files."""
        ...

    def removed_file(self, path: str) -> str | None:
        """The key the removed `path` served; "" when it was a folder of account files (keys
        unknown); None when it held none."""
        ...

    def file_exists(self, key: str) -> bool: ...

    def is_own_write(self, path: str, st: os.stat_result | None = None) -> bool:
        """True when `path` holds exactly what this store wrote there: the event is our echo."""
        ...

    def noticed_changes(self) -> None:
        """Called after changed files were read (a store may index new files)."""
        ...


def _digest(jwt: str) -> bytes:
    return hashlib.sha256(jwt.encode("utf-8")).digest()


class _StopFlag:
    """Stop signal for the watch thread that awatch may ``set()`` on cancellation without that leaking
    into the caller's event (awatch sets the event it is given when it gets cancelled)."""

    def __init__(self, outer: asyncio.Event) -> None:
        self.outer = outer
        self.halted = False

    def is_set(self) -> bool:
        return self.halted or self.outer.is_set()

    def set(self) -> None:
        self.halted = True


async def watch_changes(
    root: str, *, recursive: bool, debounce_ms: int, step_ms: int, stop: _StopFlag, attrib: bool
) -> AsyncGenerator[set[tuple[Change, str]], None]:
    """Batches of file changes below ``root``: inotify on the event loop where Linux has it, its
    watches installed when this returns (awatch yields watchfiles' Change, whose values ours shares,
    and installs its watches in its first ``anext``)."""
    if inotify.available():
        watches = await inotify.install(root, recursive=recursive, attrib=attrib)
        return inotify.changes(watches, debounce_ms=debounce_ms, step_ms=step_ms, stop=stop)
    from watchfiles import awatch  # only where inotify is missing: ~7 ms of every start otherwise

    batches = awatch(
        root,
        watch_filter=None,
        debounce=debounce_ms,
        step=step_ms,
        stop_event=stop,
        rust_timeout=1000,
        recursive=recursive,
    )
    return cast("AsyncGenerator[set[tuple[Change, str]], None]", batches)  # equal values, other enum


class StoreWatcher:
    """Watches one store's files and calls ``on_change(key, jwt)`` for new account JWT content."""

    def __init__(
        self,
        store: Watched,
        on_change: OnChange,
        *,
        on_delete: OnDelete | None = None,
        debounce_ms: int = 100,
        step_ms: int = 50,
        retry_pause: float = 1.0,
        track_content: bool = True,
    ) -> None:
        self.store = store
        self.on_change = on_change
        self.on_delete = on_delete
        self.debounce_ms = debounce_ms
        self.step_ms = step_ms
        self.retry_pause = retry_pause
        self.track_content = track_content
        self._last: dict[str, bytes] = {}
        self._seeded = False
        self._healthy = False  # the current attempt got its watches installed
        self.ready = asyncio.Event()  # set once watches are installed and the first scan is done

    @property
    def hears_attributes(self) -> bool:
        """Whether attribute changes (such as the verified marks of stores/marks.py) reach this watcher:
        watchfiles reports them always, inotify here only for read-only stores (``track_content``)."""
        return self.track_content or not inotify.available()

    @property
    def root(self) -> str:
        return self.store.watch_root

    # ----------------------------------------------------------------------------- file classification

    def _read(self, path: str) -> tuple[str, str] | None:
        """(key, jwt) for a candidate account file, None when it is not one (or vanished)."""
        return self.store.changed_file(path)

    def _all_files(self, top: str) -> Iterable[str]:
        for dirpath, _dirs, files in os.walk(top):
            for name in files:
                if name.endswith(JWT_SUFFIX):
                    yield os.path.join(dirpath, name)

    # ----------------------------------------------------------------------------- change detection

    def _collect(self, paths: Iterable[tuple[str, os.stat_result | None]]) -> list[tuple[str, str]]:
        """Read changed files and keep those whose content differs from the last seen (runs in a thread).

        ``paths`` come with the stat taken when the change was examined (None: not taken yet)."""
        out: dict[str, str] = {}
        own = self.store.is_own_write
        for path, st in paths:
            if own(path, st):
                continue  # our own save: the cache and hooks were updated when it was written
            try:
                found = self._read(path)
            except Exception as e:  # an unreadable file must not stop the watcher
                reason = error_text(e)
                log.warn(
                    f"unable to read changed file: {reason}"
                    if path in reason
                    else f"unable to read changed file {path}: {reason}"
                )
                continue
            if found is None:
                continue
            key, jwt = found
            if self.track_content:
                digest = _digest(jwt)
                if self._last.get(key) == digest:
                    continue
                self._last[key] = digest
            out[key] = jwt
        if out:
            self.store.noticed_changes()
        return list(out.items())

    def _expand(
        self, changes: set[tuple[Change, str]]
    ) -> tuple[list[tuple[str, os.stat_result | None]], list[str]]:
        """Paths to examine (added/modified files, plus the contents of added directories), each with
        its stat (one per path: most changes are the echoes of our own saves, and one stat tells them
        apart), and the keys of deleted account files.

        A new shard (or nsc account) directory may receive its file before inotify watches it, so
        the directory itself is scanned when it appears. A deleted directory (``rm -r`` of a shard or
        an nsc account) may be reported without its files, so it counts as an unknown deletion.
        """
        paths: dict[str, os.stat_result | None] = {}  # ordered; a swap reports its target twice
        deleted: list[str] = []
        last, st = "", None
        for change, path in sorted(changes, key=lambda c: c[1]):
            if path.endswith(TEMP_SUFFIX):
                continue  # a save in progress (or one that failed): never a JWT to serve
            if path != last:
                last = path
                try:
                    st = os.stat(path)
                except OSError:
                    st = None
            if change == Change.deleted and (st is None or not stat.S_ISREG(st.st_mode)):
                deleted.extend(self._deleted(path))  # never announced, only forgotten
                continue
            # a "deleted" file still there was swapped into place (RENAME_EXCHANGE): a modification
            if st is not None and stat.S_ISDIR(st.st_mode):
                if change == Change.added:
                    paths.update((found, None) for found in self._all_files(path))
            else:
                paths[path] = st
        return list(paths.items()), deleted

    def _deleted(self, path: str) -> list[str]:
        """Keys of the account files a deletion removed ("" = unknown ones); [] for other files."""
        key = self.store.removed_file(path)
        if key is None:
            return []
        if not key:
            return self._gone()
        self._last.pop(key, None)
        return [key]

    def _gone(self) -> list[str]:
        """After a folder vanished: the known keys whose file is gone (forgotten, so that a file
        reappearing is reported again), or [""] when keys are not tracked."""
        if not self.track_content:
            return [""]
        gone = [key for key in list(self._last) if not self._file_exists(key)]
        for key in gone:
            del self._last[key]
        return gone

    def _file_exists(self, key: str) -> bool:
        return self.store.file_exists(key)

    def _handle(self, changes: set[tuple[Change, str]]) -> tuple[list[tuple[str, str]], list[str]]:
        paths, deleted = self._expand(changes)
        return self._collect(paths), deleted

    def _scan(self) -> list[tuple[str, str]]:
        if not self.track_content:
            return []
        return self._collect((path, None) for path in self._all_files(self.root))

    def _report_deleted(self, deleted: list[str]) -> None:
        """On the event loop (never from the worker thread): callers touch caches and hooks."""
        if self.on_delete is None:
            return
        for key in deleted:
            try:
                self.on_delete(key)
            except Exception as e:
                what = short_key(key) if key else "a file"
                log.error(f"error handling the deletion of {what}: {error_text(e)}")

    async def _report(self, found: list[tuple[str, str]]) -> None:
        for key, jwt in found:
            try:
                result: Any = self.on_change(key, jwt)
                if inspect.isawaitable(result):
                    await result
            except Exception as e:
                log.error(f"error handling the file change for {short_key(key)}: {error_text(e)}")

    # ----------------------------------------------------------------------------- main loop

    async def run(self, stop_event: asyncio.Event) -> None:
        """Watch until ``stop_event`` is set; failures are logged and the watch is re-established.

        The pause between attempts doubles (up to ``MAX_RETRY_PAUSE``) while the failure persists, so
        a vanished folder yields a handful of ERROR lines rather than one per second forever.
        """
        pause = self.retry_pause
        while not stop_event.is_set():
            try:
                await self._watch(stop_event)
                return
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.error(f"error watching {self.root} for changes: {error_text(e)}; retrying in {pause:g}s")
            if self._healthy:
                pause = self.retry_pause
            try:
                await asyncio.wait_for(stop_event.wait(), timeout=pause)
            except TimeoutError:
                pass
            pause = min(pause * 2, MAX_RETRY_PAUSE)

    async def _watch(self, stop_event: asyncio.Event) -> None:
        flag = _StopFlag(stop_event)
        self._healthy = False
        gen = await watch_changes(
            self.root,
            # a flat directory store needs one inotify watch; a recursive watch walks every folder
            # (and awatch stats every file) at startup, which is seconds for a million accounts
            recursive=self.store.watch_recursive,
            debounce_ms=self.debounce_ms,
            step_ms=self.step_ms,
            stop=flag,
            # a writable store marks verified files with an attribute: not a change worth an event
            attrib=self.hears_attributes,
        )
        # Start the generator first: awatch installs its watches before its first await (inotify's
        # exist already), so the scan below cannot miss a change made while it runs.
        pending: asyncio.Future[set[tuple[Change, str]]] = asyncio.ensure_future(anext(gen))
        try:
            await asyncio.sleep(0)
            if pending.done():
                exc = pending.exception()
                if isinstance(exc, StopAsyncIteration):
                    return
                if exc is not None:
                    raise exc  # e.g. the root vanished: run() logs and retries
            found = await asyncio.to_thread(self._scan)
            if self._seeded:  # a re-established watch: announce what changed while unwatched
                if not self.track_content:
                    self._report_deleted([""])  # nothing known about the gap: forget everything
                await self._report(found)
            self._seeded = self._healthy = True
            log.debug(f"watching {self.root} for account JWT changes")
            self.ready.set()
            while True:
                try:
                    changes = await pending
                except StopAsyncIteration:
                    return
                found, deleted = await asyncio.to_thread(self._handle, changes)
                self._report_deleted(deleted)
                await self._report(found)
                pending = asyncio.ensure_future(anext(gen))
        finally:
            flag.set()
            if not pending.done():
                pending.cancel()
                try:
                    await pending
                except BaseException:
                    pass
            await gen.aclose()
