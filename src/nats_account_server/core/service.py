"""The account server's core: reads, writes, notifications and the pack, with no notion of HTTP.

Transports (HTTP routes, NATS responders) call in here; the core asks its response cache, its
source (the store with NATS lookups, or a replica's primary) and the store, and publishes through
its notifier. Accounts and activations share one code path, parameterised by `Kind`. Reads and the
newer-wins writes are here; notifications are notifications.py's, packs and merges packing.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import cast

from nats_account_server.core.announce import Announced
from nats_account_server.core.cache import Cache, Entry, ResponseCache, make_entry
from nats_account_server.core.checks import Checked
from nats_account_server.core.deletion import DeletePolicy, buried, buried_async
from nats_account_server.core.failure import Failure
from nats_account_server.core.groupcommit import JOBS, GroupCommit
from nats_account_server.core.kinds import Kind, decode_kind
from nats_account_server.core.notifications import announce_again, notify
from nats_account_server.core.notifier import NoNats, Notifier
from nats_account_server.core.pacing import Pacer
from nats_account_server.core.packing import LatestPack, merge
from nats_account_server.core.readiness import Readiness
from nats_account_server.core.source import Loaded, LocalSource, Source
from nats_account_server.core.store import AsyncSaveStore, GroupSaveStore, Store, StoreError, Version, Writes
from nats_account_server.core.trust import Trust
from nats_account_server.core.verdict import Change, Saved, judge, version_of
from nats_account_server.core.verifier import Verifier
from nats_account_server.jwt import JWTError, Token
from nats_account_server.log import log, short_key
from nats_account_server.metrics import metrics
from nats_account_server.oserrors import error_text

__all__ = ["Core", "Failure", "cache_key"]  # Failure lives in core/failure.py; callers import it here


def cache_key(kind: Kind, key: str) -> str:
    """Accounts are cached under their key (the HTTP hot path looks them up by the URL tail);
    activations get a prefix, so an account URL can never return an activation."""
    return key if kind is Kind.ACCOUNT else "~" + key


# a write for the IO thread: key, JWT, and the token whose iat/jti decide newer-wins (None: always)
Write = tuple[str, str, "Token | None"]


REPORTED_KEPT = 10_000  # broken keys whose failure was logged; beyond that, they are logged again


class _KeyLock:
    """A key's write lock and how many writers hold or await it."""

    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class Core:
    """Owns the store, the trust anchor, the response cache, the source and the notifier."""

    def __init__(
        self,
        store: Store,
        trust: Trust,
        notifier: Notifier | None = None,
        *,
        source: Source | None = None,
        cache: Cache | None = None,
        lookup_timeout: float = 1.0,
        cache_size: int = 100_000,
        max_pack: int = 10_000,
    ) -> None:
        self.store = store
        self.trust = trust
        self.notifier: Notifier = notifier or NoNats()
        self.source: Source = source or LocalSource(trust, self.notifier, lookup_timeout)
        self.max_pack = max_pack
        self.cache: Cache = cache if cache is not None else ResponseCache(cache_size)
        self._writes_mode = store.writes
        self._async_store = cast(AsyncSaveStore, store) if store.writes is Writes.NETWORKED else None
        self._group_store = cast(GroupSaveStore, store) if store.writes is Writes.GROUPED else None
        self._io = ThreadPoolExecutor(max_workers=JOBS, thread_name_prefix="store-io")
        self._writes: GroupCommit[Write, Change] = GroupCommit(self._io, self._replace)
        self._locks: dict[str, _KeyLock] = {}
        # called with (key, jwt) after every write, e.g. to keep the NATS store hash current
        self.saved_hooks: list[Callable[[str, str], None]] = []
        # called with the key on the write's IO job right before a write replaces what it holds
        self.replacing_hooks: list[Callable[[str], None]] = []
        self._reported: dict[str, str] = {}  # key -> the load failure last logged for it
        # bumped by every change behind any key: the pack built at a generation stays right until then
        self.generation = 0
        self._pack = LatestPack()  # built once per generation (see core/packing.py)
        self.bulk = Pacer()  # packs, over every transport, share one byte budget
        # where other instances write the store too, what we announced lately (see core/announce.py)
        self.announced = Announced(store.load if store.writes is Writes.NETWORKED else None)
        self._announcing: set[asyncio.Task[None]] = set()
        self.readiness = Readiness(store, self.notifier)
        self.verifier = Verifier()  # first reads' signature checks, off the loop where cores allow
        self._checking: dict[str, int] = {}  # keys whose read is in its check -> reads (0: changed)
        self.deletion = DeletePolicy()  # what delete requests may do here (set by the server)

    # ---------------------------------------------------------------- reads

    def load_local(self, key: str) -> str | None:
        """The store's copy; an unreadable file is a per-account 500, logged."""
        try:
            return self.store.load(key)
        except StoreError as exc:
            raise self.load_failure(key, exc) from exc

    async def deleted_since(self, key: str, iat: int) -> bool:
        """True when `key` was deleted here with a JWT issued at or after `iat` (its tombstone)."""
        if self._async_store is not None:
            return await buried_async(self.store, key, iat)
        return await asyncio.to_thread(buried, self.store, key, iat)

    def load_failure(self, key: str, exc: Exception) -> Failure:
        """A broken stored JWT is logged once (at ERR) until it loads again or breaks differently, so
        nats-servers asking for it again and again cannot flood the log; repeats go to DBG."""
        reason = f"{short_key(key)} - error loading JWT - {exc}"
        if self._reported.get(key) != reason:
            if len(self._reported) >= REPORTED_KEPT:
                self._reported.clear()
            self._reported[key] = reason
            log.error(reason)
        else:
            log.debug(f"{reason} (already reported)")
        return Failure(500, "error loading JWT")

    async def load(self, kind: Kind, key: str) -> Loaded | None:
        """Find the JWT for `key`: the source (store and NATS lookup, or the primary), then the
        system account of the configuration."""
        loaded = await self.source.load(kind, key, self)
        if loaded is not None:
            return loaded
        if kind is Kind.ACCOUNT and key and key == self.trust.system_account_key:
            log.trace("returning system JWT from configuration")
            return Loaded(self.trust.system_account_jwt, False)
        return None

    async def entry(self, kind: Kind, key: str) -> Entry | None:
        """The verified, ready response for `key`; None when there is no such JWT."""
        cached = self.cached(cache_key(kind, key))
        if cached is not None and cached.fresh_until > time.monotonic():
            metrics.cache_hits += 1
            return cached
        metrics.cache_misses += 1
        return await self.miss(kind, key, cached)

    def cached(self, ck: str) -> Entry | None:
        """What the cache holds for the cache key `ck` without waiting: in a storm, files are read by
        checking processes (``miss``), so only the ready responses, else what ``get`` finds."""
        return self.cache.ready(ck) if self.reads_off_loop() else self.cache.get(ck)

    def reads_off_loop(self) -> bool:
        """True while checking processes read the files of cache misses (a storm of first reads):
        the cache's ``get``, which reads them on the loop, is skipped then."""
        return self.verifier.running and self.cache.reads_files and self.source.settled

    async def miss(self, kind: Kind, key: str, cached: Entry | None = None) -> Entry | None:
        """The response for `key` when the cache had none (or only `cached`, no longer fresh): what
        the HTTP hot path calls after its own look into the cache."""
        checking = self._checking
        checking[key] = checking.get(key, 0) + 1
        try:
            first = None
            if cached is None and self.reads_off_loop():
                try:
                    first = await self.cache.first_read(kind, cache_key(kind, key), self.verifier.run)
                except ConnectionError:  # the checking process exited: the loop reads it itself
                    first = None
            if first is not None:
                jwt, tok, cacheable = first.jwt, first.checked, True
            else:
                loaded = await self.load(kind, key)
                if loaded is None:
                    return None
                if cached is not None and cached.jwt == loaded.jwt:
                    cached.fresh_until = self.source.fresh_until(key)  # the source may have renewed it
                    return cached
                jwt, cacheable = loaded.jwt, loaded.cacheable
                tok = await self.verifier.decode(kind, jwt)
        finally:
            left = checking.pop(key, 0)
            if left > 1:
                checking[key] = left - 1  # another read of the key is in its check: it stays unchanged
        cache = cacheable and left > 0  # a change of the key meanwhile (forget) sets it to 0
        return self.build_entry(kind, key, jwt, cache=cache, tok=tok)

    def build_entry(
        self, kind: Kind, key: str, jwt: str, *, cache: bool, tok: Token | Checked | JWTError | None = None
    ) -> Entry:
        """The ready response of `jwt` (`tok`: its decoding, when done already)."""
        if tok is None:
            try:
                tok = decode_kind(kind, jwt)
            except JWTError as exc:
                raise self.load_failure(key, exc) from exc
        if isinstance(tok, JWTError):
            raise self.load_failure(key, tok) from tok
        if self._reported:  # it loads again: a later breakage is news
            self._reported.pop(key, None)
        if kind is Kind.ACCOUNT and tok.sub != key and key != self.trust.system_account_key:
            log.warn(f"{short_key(key)} - JWT subject {short_key(tok.sub)} differs from the requested key")
        entry = make_entry(jwt, tok.jti, tok.exp)
        entry.fresh_until = self.source.fresh_until(key)
        if cache:
            self.cache.put(cache_key(kind, key), entry)
        return entry

    def cache_control(self, entry: Entry) -> str | None:
        """The Cache-Control of a response, as the source decides it."""
        return self.source.cache_control(entry)

    def forget(self, key: str) -> None:
        """Called on every change behind a key (our writes, watcher events, replica updates)."""
        self.cache.drop(key)
        self.cache.drop(cache_key(Kind.ACTIVATION, key))
        if key in self._checking:
            self._checking[key] = 0

    # --------------------------------------------------------- notifications

    async def notify(self, kind: Kind, key: str, jwt: str, issuer: str = "") -> None:
        """Publish a change; without a NATS connection this is skipped (logged), not an error."""
        await notify(self, kind, key, jwt, issuer)

    def remote_changed(self, key: str, jwt: str) -> None:
        """Another instance's write, brought by the store: as `changed`, and announced again when this
        instance announced another version of the key lately, so that its last announcement is the
        newest version."""
        self.changed(key, jwt)
        if jwt and self.announced.again(key, jwt):
            announce_again(self, key, jwt, self._announcing)

    # ---------------------------------------------------------------- writes

    @contextlib.asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        """Per-key write lock: the newer-iat check and the save must not interleave. A key's lock
        lives while someone holds or awaits it, so the map stays as small as the writes in flight."""
        held = self._locks.get(key)
        if held is None:
            held = self._locks[key] = _KeyLock()
        held.users += 1
        try:
            async with held.lock:
                yield
        finally:
            held.users -= 1
            if not held.users:
                del self._locks[key]

    async def save(self, key: str, jwt: str) -> None:
        """Store and drop the cached response; blocking stores write from a worker thread (in a
        group with concurrent writes), networked ones (JetStream KV) are awaited."""
        if self._async_store is not None:
            await self._async_store.save_async(key, jwt)
        elif self._writes_mode is not Writes.INLINE:
            await self._writes.submit((key, jwt, None))
        else:
            for hook in self.replacing_hooks:
                hook(key)
            self.store.save(key, jwt)
        self.changed(key, jwt)

    def close(self) -> None:
        """Finish in-flight writes, then close the store."""
        self._io.shutdown(wait=True)
        self.verifier.close()
        self.store.close()

    def changed(self, key: str, jwt: str) -> None:
        """A key got new content (our write or a watcher event): drop its response, run hooks."""
        self.generation += 1
        self.forget(key)
        for hook in self.saved_hooks:
            hook(key, jwt)

    def stored_jwt(self, key: str) -> str | None:
        """The stored JWT for the newer-wins check; unreadable counts as absent (overwritable)."""
        try:
            return self.store.load(key)
        except StoreError:
            return None

    def _replace(self, items: list[Write]) -> list[Change | BaseException]:
        """Read, compare and write a group of uploads as one IO job (see groupcommit): the event loop
        pays one hand-off per group and does no file access of its own."""
        verdicts: list[Change | BaseException] = []
        writes: list[tuple[str, str]] = []
        versions: list[Version | None] = []
        where: list[int] = []
        for key, jwt, tok in items:
            change = self._judged(key, tok)
            if change.saved is Saved.SAVED:
                where.append(len(verdicts))
                writes.append((key, jwt))
                versions.append((tok.iat, tok.jti) if tok is not None else None)
            verdicts.append(change)
        for hook in self.replacing_hooks:
            for key, _ in writes:
                hook(key)
        for i, error in zip(where, self._save_many(writes, versions), strict=True):
            if error is not None:
                verdicts[i] = error
        return verdicts

    def _judged(self, key: str, tok: Token | None) -> Change:
        """The newer-wins verdict on `tok`; with nothing stored, the tombstone of a deletion decides:
        a JWT issued no later than the deleted one (a copy from a pack or a sync peer) keeps the key
        deleted, a newer one brings it back."""
        if tok is None:
            return Change(Saved.SAVED)
        version = self._stored_version(key)
        if version is None and buried(self.store, key, tok.iat):
            return Change(Saved.OLDER)
        return judge(version, tok)

    def _stored_version(self, key: str) -> tuple[object, object] | None:
        """(iat, jti) of the stored JWT for the newer-wins check; for a file still as our latest save
        left it, from that save's version (the store remembers it) instead of reading and decoding
        the file."""
        saved = self._group_store.saved_version(key) if self._group_store is not None else None
        if saved is not None:
            return saved
        return version_of(self.stored_jwt(key))

    def _save_many(
        self, writes: list[tuple[str, str]], versions: list[Version | None]
    ) -> list[StoreError | None]:
        if self._group_store is not None:
            return self._group_store.save_many(writes, versions)
        errors: list[StoreError | None] = []
        for key, jwt in writes:
            try:
                self.store.save(key, jwt)
                errors.append(None)
            except StoreError as exc:
                errors.append(exc)
        return errors

    async def save_if_newer(self, kind: Kind, key: str, tok: Token) -> Saved:
        """Newer-wins rule shared by POST, NATS updates and pack merges.

        The stored JWT stays when its iat is greater (OLDER) or its jti is the same (UNCHANGED).
        """
        return (await self.save_change(kind, key, tok)).saved

    async def save_change(self, kind: Kind, key: str, tok: Token) -> Change:
        """`save_if_newer`, also telling the jti of the JWT it compared against (the one it replaced,
        for a save): what an upload's audit line shows. It is read by the same job that compares."""
        async with self.lock(key):
            if self._async_store is not None:
                return await self._save_if_newer_async(self._async_store, kind, key, tok)
            if self._writes_mode is not Writes.INLINE:
                change = await self._writes.submit((key, tok.raw, tok))
            else:  # the memory store: the same job, run in place
                verdict = self._replace([(key, tok.raw, tok)])[0]
                if isinstance(verdict, BaseException):
                    raise verdict
                change = verdict
            if change.saved is Saved.SAVED:
                self.changed(key, tok.raw)
            return change

    async def _save_if_newer_async(self, store: AsyncSaveStore, kind: Kind, key: str, tok: Token) -> Change:
        """Same rule as a compare-and-set across processes: the store re-applies `keep` to whatever a
        concurrent writer (another instance) stored in between, so the newest iat always wins."""
        seen: list[Change] = []  # the verdict on the value the store compared against last

        def keep(current: str) -> Saved | None:
            change = judge(version_of(current), tok)
            seen[:] = [change]
            return None if change.saved is Saved.SAVED else change.saved

        if store.load(key) is None and await buried_async(store, key, tok.iat):
            return Change(Saved.OLDER)
        kept = await store.save_async(key, tok.raw, keep)
        previous = seen[0].previous if seen else None
        if kept is not None:
            return Change(kept, previous)
        self.changed(key, tok.raw)
        return Change(Saved.SAVED, previous)

    # ------------------------------------------------------------------ pack

    def forget_all(self) -> None:
        """Changes behind unknown keys (a folder went away): no response or pack stays."""
        self.generation += 1
        self.cache.clear()

    async def pack_body(self, max_items: int) -> bytes:
        """The pack as `<key>|<jwt>` lines: read and joined on a worker thread (a large store's pack
        never holds up the event loop), once per change of the store however many ask for it."""
        return await self._pack.body(self, max_items)

    def pack(self, max_items: int) -> list[tuple[str, str]]:
        try:
            return self.store.pack(max_items)
        except StoreError as exc:
            log.error(f"error creating pack - {error_text(exc)}")
            raise Failure(500, "error creating pack") from exc

    async def merge(self, body: str | list[str], progress: Callable[[int, int], None] | None = None) -> int:
        """Merge `<key>|<jwt>` lines (replica import, NATS sync) under the newer-wins rule, 64 at a
        time; bad lines and failed saves are skipped and logged."""
        return await merge(self, body, progress)
