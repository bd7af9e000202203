"""JetStream KV store: many stateless account servers sharing one replicated bucket (scale-out).

* Reads (`load`, `pack`, `account_keys`) are answered from a local view fed by a watch on the
  bucket (stores/kvwatch.py), so a GET never waits on the network and costs a dict lookup.
* Writes go to JetStream with optimistic concurrency on the key's revision
  (`Nats-Expected-Last-Subject-Sequence`): a writer that lost a race re-reads the key and re-applies
  the caller's `keep` rule (newer iat wins), so an older JWT never replaces a newer one, whichever
  instance accepted it.
* Another instance's write reaches the view through the watch and calls `on_remote_change` (the
  core's `remote_changed`: drop the cached response, update the sync hash, announce again only a
  key this instance announced lately, so that its last announcement is the newest version).
* JetStream unreachable: reads keep being served from the view, writes raise `StoreUnavailable`
  (HTTP 503) after at most `timeout` ms; nats-py reconnects and the watch resumes by itself. A
  stream leader failover costs no accepted write: writes are retried and re-sent idempotently
  (stores/kvwrite.py) until `timeout`, which outlasts an election.
* A bucket deleted, re-created or restarted empty under us is noticed, reported by `health` and
  the view rebuilt from it (stores/kvbucket.py).

KV keys are the store keys verbatim: account public keys and activation hashes. The `=` padding of
activation hashes is a valid KV key character (NATS KV keys are `[-/_=.a-zA-Z0-9]+`), so no encoding
is needed and `nats kv get <bucket> <hash>` finds an activation under the same name as the HTTP API.
Values are the JWT text (UTF-8).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import heapq
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext

from ..core.cache import Cache, ResponseCache
from ..core.store import (
    OnChange,
    OnDelete,
    ReadOnlyError,
    StoreError,
    StoreUnavailable,
    Watcher,
    Writes,
    is_store_key,
)
from ..log import log, short_key
from ..natsclient import (
    ClientFileError,
    check_client_files,
    describe,
    server_urls,
)
from .kvbucket import BucketCheck
from .kvconnect import Denied, KVConnection
from .kvwatch import KVView, KVWatch
from .kvwrite import ATTEMPT_TIMEOUT, KVLink, KVWriter

if TYPE_CHECKING:
    from ..config import KVSettings

__all__ = ["DEFAULT_BUCKET", "KVStore"]

R = TypeVar("R")

DEFAULT_BUCKET = "account-jwts"
WATCH_HEARTBEAT = 0.25  # seconds; the ordered consumer recreates itself after two missed ones


class KVStore:
    """Store protocol over a JetStream KV bucket; call `await start()` before use, `await stop()` after."""

    supports_pack = True
    entries_vetted = False
    writes = Writes.NETWORKED

    def __init__(
        self,
        settings: KVSettings,
        *,
        readonly: bool = False,
        vet: Callable[[str, str], str | None] | None = None,
    ) -> None:
        self.readonly = readonly
        # (key, jwt) -> why an entry someone wrote to the bucket must not be served (None: it may)
        self.vet = vet
        self.bucket = settings.bucket or DEFAULT_BUCKET
        self.replicas = settings.replicas
        self.history = settings.history
        self.servers = server_urls(list(settings.servers))
        self.credentials = settings.usercredentials
        self.connect_timeout = max(settings.connecttimeout, 100) / 1000
        self.reconnect_wait = max(settings.reconnectwait, 10) / 1000
        self.timeout = max(settings.timeout, 100) / 1000
        try:  # checked as on `-t` and before a reload
            tls = settings.tls
            self.tls = check_client_files("store.kv", self.credentials, tls.root, tls.cert, tls.key)
        except ClientFileError as exc:
            raise StoreError(str(exc)) from exc
        mode = "read-only " if readonly else ""
        self.description = (
            f"creating a {mode}JetStream KV store, bucket {self.bucket} on {', '.join(self.servers)}"
        )
        # given to `start` (the core's `remote_changed`): remote writes drop cached responses
        self.on_remote_change: Callable[[str, str], None] | None = None
        self.view = KVView()
        self._link = KVLink()
        self._writer = KVWriter(self.bucket, self._link, self.view, self.timeout)
        self._check = BucketCheck(self.bucket, self._link, self.view, self._rebuild)
        self._writer.refusal = self._check.refusal
        self._conn = KVConnection(
            self.bucket,
            self.servers,
            self._link,
            credentials=self.credentials,
            tls=self.tls,
            connect_timeout=self.connect_timeout,
            reconnect_wait=self.reconnect_wait,
            on_reconnect=self._resync,
        )
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._watch: KVWatch | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def make_cache(self, capacity: int) -> Cache:
        return ResponseCache(capacity)  # other instances' writes drop entries through the watch

    def watcher(self, on_change: OnChange, on_delete: OnDelete) -> Watcher | None:
        return None  # the bucket's own watch follows other writers

    # ------------------------------------------------------------------ life cycle

    async def start(self, on_remote_change: Callable[[str, str], None] | None = None) -> None:
        """Connect, open (or create) the bucket and load it; returns once the view has caught up.
        Later writes of other instances are reported through ``on_remote_change(key, jwt)``.

        Raises StoreUnavailable when JetStream cannot be reached within `connecttimeout`.
        """
        self.on_remote_change = on_remote_change
        self._loop = asyncio.get_running_loop()
        deadline = time.monotonic() + self.connect_timeout
        self._nc = await self._conn.connect(deadline)
        self._js = self._nc.jetstream(timeout=ATTEMPT_TIMEOUT)
        await self._open_bucket(deadline)
        self._watch = self._new_watch(self.view)
        try:
            await self._conn.unless_denied(self._watch.start(stall_timeout=max(self.connect_timeout, 5.0)))
        except StoreUnavailable:
            raise
        except Exception as exc:
            raise StoreUnavailable(f"unable to watch KV bucket {self.bucket}: {describe(exc)}") from exc
        self._check.start()

    def _new_watch(self, view: KVView) -> KVWatch:
        assert self._js is not None
        return KVWatch(
            self._js,
            self.bucket,
            view,
            self._remote_change,
            heartbeat=WATCH_HEARTBEAT,
            vet=self.vet,
            connected=lambda: self._nc is not None and self._nc.is_connected,
            inbox_prefix=self._conn.inbox_prefix,
            may_list=lambda: self._conn.may("CONSUMER.LIST"),
        )

    async def _rebuild(self) -> None:
        """Reload the view from the bucket (it was replaced): a new watch fills a fresh view, which
        then takes the old one's place at once; keys that changed or went away are reported."""
        old = self._watch
        if old is not None:
            await old.stop()
        fresh = KVView()
        self._watch = watch = self._new_watch(fresh)
        await watch.start(stall_timeout=max(self.connect_timeout, 5.0))
        changes = self.view.replace(fresh)  # no await from here: no entry lands in the old view
        watch.view = self.view
        for key, jwt in changes:
            self._remote_change(key, jwt)

    def _resync(self) -> None:
        if self._watch is not None and not self._closed:
            self._watch.resync()

    async def _open_bucket(self, deadline: float) -> None:
        """Reuse the bucket if present, else create it (two instances racing here both succeed).
        A permissions violation ends the start at once (Denied), naming what the user may not do."""
        while True:
            try:
                await self._conn.unless_denied(self._open_or_create())
                return
            except Denied as exc:
                if "STREAM.CREATE" in str(exc):
                    raise Denied(f"{exc}; or create the bucket beforehand") from exc
                raise
            except Exception as exc:
                if time.monotonic() > deadline:
                    message = f"unable to open KV bucket {self.bucket}: {describe(exc)}"
                    raise StoreUnavailable(message) from exc
                log.debug(f"KV bucket {self.bucket} not ready yet - {describe(exc)}")
                await asyncio.sleep(min(self.reconnect_wait, 0.5))

    async def _open_or_create(self) -> None:
        js = self._js
        assert js is not None
        try:
            kv = await js.key_value(self.bucket)
            status = await kv.status()
            cfg = status.stream_info.config
            replicas, history = cfg.num_replicas, status.history
            log.info(f"using KV bucket {self.bucket} (replicas {replicas}, history {history})")
            if cfg.num_replicas and cfg.num_replicas != self.replicas:
                log.warn(
                    f"KV bucket {self.bucket} has {cfg.num_replicas} replicas, "
                    f"configured {self.replicas}; the existing bucket is used as is"
                )
            self._check.opened(status.stream_info)
        except nats.js.errors.BucketNotFoundError:
            await js.create_key_value(
                bucket=self.bucket,
                history=self.history,
                replicas=self.replicas,
                description="NATS account and activation JWTs (nats-account-server)",
            )
            shape = f"replicas {self.replicas}, history {self.history}"
            log.info(f"created KV bucket {self.bucket} ({shape})")
            self._check.opened(await js.stream_info(f"KV_{self.bucket}"))

    async def stop(self) -> None:
        """Stop the bucket check and the watch (its consumer deleted), close the connection."""
        self._closed = self._conn.closed = True
        await self._check.stop()
        if self._watch is not None:
            await self._watch.stop()
        nc, self._nc = self._nc, None
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), 5)

    def close(self) -> None:
        """Protocol close: mark closed; the owner awaits `stop` for the network part."""
        self._closed = self._conn.closed = True

    def _remote_change(self, key: str, jwt: str) -> None:
        hook = self.on_remote_change
        if hook is None:
            return
        try:
            hook(key, jwt)
        except Exception as exc:
            log.error(f"{short_key(key)} - error handling a KV change - {describe(exc)}")

    # ------------------------------------------------------------------ reads (local)

    def load(self, key: str) -> str | None:
        if not is_store_key(key):
            return None
        return self.view.get(key)

    def pack(self, max: int = -1) -> list[tuple[str, str]]:
        if max == 0:
            return []
        items = self.view.items()
        return items if max < 0 else items[:max]

    def account_keys(self) -> list[str]:
        return self.view.account_keys()

    def counts(self) -> tuple[int, int]:
        return self.view.counts()

    def health(self) -> str | None:
        """Reads come from the local view, which must be the bucket's (not a replaced bucket's); writes
        need the bucket, so a writable instance cut off from NATS cannot do its job."""
        if self._closed:
            return None
        if self._check.problem is not None:
            return self._check.problem
        if self.readonly:
            return None
        nc = self._nc
        if nc is None or not nc.is_connected:
            return f"not connected to the NATS servers of KV bucket {self.bucket}: uploads fail"
        return None

    # ------------------------------------------------------------------ writes (JetStream)

    def _writable(self, key: str) -> None:
        """What every write needs: a writable, running store and a valid key."""
        if self.readonly:
            raise ReadOnlyError()
        if not is_store_key(key):
            raise StoreError(f"invalid store key {key!r}")
        if self._closed or self._nc is None:
            raise StoreUnavailable("KV store is closed")

    def _blocking(self, name: str, work: Callable[[], Coroutine[Any, Any, R]]) -> R:
        """Run the coroutine `work()` makes on the store's loop, for a worker thread's blocking call."""
        loop = self._loop
        if loop is None:
            raise StoreError("KV store is not started")
        with contextlib.suppress(RuntimeError):
            if asyncio.get_running_loop() is loop:
                raise StoreError(f"KVStore.{name} called on the event loop, use {name}_async")
        return asyncio.run_coroutine_threadsafe(work(), loop).result(self.timeout + 5)

    def save(self, key: str, jwt: str) -> None:
        """Blocking save for worker threads; code on the event loop must await `save_async`."""
        self._blocking("save", lambda: self.save_async(key, jwt))

    async def save_async(self, key: str, jwt: str, keep: Callable[[str], R | None] | None = None) -> R | None:
        """Compare-and-set `jwt` under `key`; see `AsyncSaveStore.save_async` for `keep`."""
        self._writable(key)
        return await self._writer.save(key, jwt, keep)

    # ------------------------------------------------------------------ listing and deletion

    TOMBSTONE = "Nas-Deleted-Iat"  # on our delete markers: the deleted JWT's iat

    def keys_after(self, after: str, limit: int, *, accounts: bool = True) -> list[str]:
        """The next page in key order, from the local view (the whole bucket is in memory anyway)."""

        from ..jwt import is_account_key

        if accounts:
            keys = self.view.account_keys()
            start = bisect.bisect_right(keys, after)
            return keys[start : start + limit]
        activations = (k for k, _ in self.view.items() if k > after and not is_account_key(k))
        return heapq.nsmallest(limit, activations)

    def delete(self, key: str, iat: int, *, hard: bool) -> bool:
        """Blocking delete for worker threads; code on the event loop must await `delete_async`."""
        return self._blocking("delete", lambda: self.delete_async(key, iat, hard=hard))

    async def delete_async(self, key: str, iat: int, *, hard: bool) -> bool:
        """A delete (soft: a `DEL` marker whose body keeps the deleted JWT) or purge (hard: a `PURGE`
        marker, empty, that drops the key's history) of the key's current revision, carrying the
        tombstone iat in a header so every instance can read it; every instance's watch then stops
        serving the key (a removal marker is never served, whatever its body)."""
        self._writable(key)
        marker = {"KV-Operation": "PURGE" if hard else "DEL", self.TOMBSTONE: str(iat)}
        if hard:
            marker["Nats-Rollup"] = "sub"
        current = self.view.revision_of(key)[1]
        return await self._writer.remove(key, marker, b"" if hard else current.encode())  # soft: keeps it

    def tombstone(self, key: str) -> int | None:
        """Blocking `tombstone_async` for worker threads."""
        if self._loop is None or self.view.get(key) is not None or self.view.revision_of(key)[0] == 0:
            return None
        return self._blocking("tombstone", lambda: self.tombstone_async(key))

    async def tombstone_async(self, key: str) -> int | None:
        """The iat our delete marker of ``key`` carries; asked of the stream only for a key the view
        shows deleted (a removal made by others, `nats kv del`, carries none)."""
        revision, current = self.view.revision_of(key)
        nc = self._nc
        if current or revision == 0 or nc is None or not nc.is_connected:
            return None
        js = nc.jetstream(timeout=self.timeout)
        try:
            msg = await js.get_msg(f"KV_{self.bucket}", subject=f"$KV.{self.bucket}.{key}")
        except Exception:
            return None
        text = (msg.headers or {}).get(self.TOMBSTONE, "")
        return int(text) if text.isdigit() else None
