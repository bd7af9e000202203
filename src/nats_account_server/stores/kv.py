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
  (HTTP 503) after at most `timeout` ms; nats-py reconnects and the watch resumes by itself.

KV keys are the store keys verbatim: account public keys and activation hashes. The `=` padding of
activation hashes is a valid KV key character (NATS KV keys are `[-/_=.a-zA-Z0-9]+`), so no encoding
is needed and `nats kv get <bucket> <hash>` finds an activation under the same name as the HTTP API.
Values are the JWT text (UTF-8).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable
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
from ..natsclient import ClientFileError, check_client_files, connect_once, describe, server_urls, shown_url
from .kvwatch import KVView, KVWatch

if TYPE_CHECKING:
    from ..config import KVSettings

__all__ = ["DEFAULT_BUCKET", "KVStore"]

R = TypeVar("R")

DEFAULT_BUCKET = "account-jwts"
CLIENT_NAME = "nats-account-server-kv"
EXPECTED_LAST = "Nats-Expected-Last-Subject-Sequence"
WRONG_LAST_SEQUENCE = (10071, 10164)  # JetStream API error codes of a failed compare-and-set
MAX_CONFLICTS = 20
WATCH_HEARTBEAT = 0.25  # seconds; the ordered consumer recreates itself after two missed ones


class Conflict(Exception):
    """The key's revision moved between our read and our write."""


def _transient(exc: BaseException) -> bool:
    """Failures that mean 'JetStream not reachable right now' (retry, then 503), not a bad request."""
    if isinstance(exc, nats.js.errors.APIError):
        return exc.code == 503 or isinstance(exc, nats.js.errors.ServiceUnavailableError)
    return isinstance(exc, (nats.errors.Error, asyncio.TimeoutError, OSError))


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
        # given to `start` (the core's `changed`): remote writes drop cached responses
        self.on_remote_change: Callable[[str, str], None] | None = None
        self.view = KVView()
        self._nc: Client | None = None
        self._url = ""  # the server connected to (or last connected to), as logs show it
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
        self._nc = await self._connect(deadline)
        self._js = self._nc.jetstream(timeout=self.timeout)
        await self._open_bucket(deadline)
        self._watch = KVWatch(
            self._js, self.bucket, self.view, self._remote_change, heartbeat=WATCH_HEARTBEAT, vet=self.vet
        )
        try:
            await self._watch.start(stall_timeout=max(self.connect_timeout, 5.0))
        except StoreUnavailable:
            raise
        except Exception as exc:
            raise StoreUnavailable(f"unable to watch KV bucket {self.bucket}: {describe(exc)}") from exc

    async def _connect(self, deadline: float) -> Client:
        """Rounds over the servers until one answers; nats-py alone would retry forever."""
        while True:
            nc, error = await self._attempt(deadline)
            if nc is not None:
                self._url = shown_url(nc.connected_url)
                log.info(f"KV store connected to NATS at {self._url}")
                return nc
            if time.monotonic() + self.reconnect_wait >= deadline:
                servers = ", ".join(shown_url(url) for url in self.servers)
                raise StoreUnavailable(f"unable to connect to the JetStream KV servers {servers}: {error}")
            log.error(f"KV store failed to connect to NATS, {error}; retrying")
            await asyncio.sleep(self.reconnect_wait)

    async def _attempt(self, deadline: float) -> tuple[Client | None, str]:
        """One pass over the servers, cancelled once each has failed (or at the deadline)."""

        async def error(nc: Client, exc: Exception | None) -> None:
            if not self._closed:
                log.debug(f"KV connection error - {describe(exc)}")

        async def disconnected(nc: Client, _: Exception | None) -> None:
            if not self._closed:
                log.warn(
                    f"KV store disconnected from NATS at {self._url}, serving bucket {self.bucket} from"
                    " its local view, reconnecting"
                )

        async def reconnected(nc: Client, _: Exception | None) -> None:
            if not self._closed:
                self._url = shown_url(nc.connected_url)
                log.warn(f"KV store reconnected to NATS at {self._url}")
                if self._watch is not None:
                    self._watch.resync()

        options: dict[str, Any] = {
            "servers": self.servers,
            "name": CLIENT_NAME,
            "user_credentials": self.credentials or None,
            "tls": self.tls,
            "connect_timeout": self.connect_timeout,
            "reconnect_time_wait": self.reconnect_wait,
            "max_reconnect_attempts": -1,
            "allow_reconnect": True,
            "pending_size": 0,  # never buffer a write while disconnected: fail it (503) instead
        }
        nc, failure = await connect_once(
            options,
            timeout=max(deadline - time.monotonic(), 0.1),
            error=error,
            disconnected=disconnected,
            reconnected=reconnected,
        )
        return nc, "" if nc is not None else describe(failure)

    async def _open_bucket(self, deadline: float) -> None:
        """Reuse the bucket if present, else create it (two instances racing here both succeed)."""
        js = self._js
        assert js is not None
        while True:
            try:
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
                except nats.js.errors.BucketNotFoundError:
                    await js.create_key_value(
                        bucket=self.bucket,
                        history=self.history,
                        replicas=self.replicas,
                        description="NATS account and activation JWTs (nats-account-server)",
                    )
                    shape = f"replicas {self.replicas}, history {self.history}"
                    log.info(f"created KV bucket {self.bucket} ({shape})")
                return
            except Exception as exc:
                if time.monotonic() > deadline:
                    message = f"unable to open KV bucket {self.bucket}: {describe(exc)}"
                    raise StoreUnavailable(message) from exc
                log.debug(f"KV bucket {self.bucket} not ready yet - {describe(exc)}")
                await asyncio.sleep(min(self.reconnect_wait, 0.5))

    async def stop(self) -> None:
        """Stop the watch and close the connection (what `close` cannot do synchronously)."""
        self._closed = True
        if self._watch is not None:
            await self._watch.stop()
        nc, self._nc = self._nc, None
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), 5)

    def close(self) -> None:
        """Protocol close: mark closed; the owner awaits `stop` for the network part."""
        self._closed = True

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
        """Reads come from the local view; writes need the bucket, so a writable instance cut off
        from NATS cannot do its job."""
        if self.readonly or self._closed:
            return None
        nc = self._nc
        if nc is None or not nc.is_connected:
            return f"not connected to the NATS servers of KV bucket {self.bucket}: uploads fail"
        return None

    # ------------------------------------------------------------------ writes (JetStream)

    def save(self, key: str, jwt: str) -> None:
        """Blocking save for worker threads; code on the event loop must await `save_async`."""
        loop = self._loop
        if loop is None:
            raise StoreError("KV store is not started")
        with contextlib.suppress(RuntimeError):
            if asyncio.get_running_loop() is loop:
                raise StoreError("KVStore.save called on the event loop, use save_async")
        future = asyncio.run_coroutine_threadsafe(self.save_async(key, jwt), loop)
        future.result(self.timeout + 5)

    async def save_async(self, key: str, jwt: str, keep: Callable[[str], R | None] | None = None) -> R | None:
        """Compare-and-set `jwt` under `key`; see `AsyncSaveStore.save_async` for `keep`."""
        if self.readonly:
            raise ReadOnlyError()
        if not is_store_key(key):
            raise StoreError(f"invalid store key {key!r}")
        if self._closed or self._nc is None:
            raise StoreUnavailable("KV store is closed")
        data = jwt.encode()
        deadline = time.monotonic() + self.timeout
        revision, current = self.view.revision_of(key)
        for _ in range(MAX_CONFLICTS):
            if current:
                if current == jwt:
                    return keep(current) if keep is not None else None
                if keep is not None:
                    verdict = keep(current)
                    if verdict is not None:
                        return verdict
            try:
                written = await self._retrying(deadline, functools.partial(self._put, key, data, revision))
            except Conflict:
                revision, current = await self._retrying(deadline, functools.partial(self._latest, key))
                continue
            self.view.apply(key, written, jwt)
            return None
        raise StoreError(f"too many concurrent updates of {short_key(key)}")

    async def _retrying(self, deadline: float, call: Callable[[float], Any]) -> Any:
        """Run `call(timeout)` until it succeeds, retrying transient failures until `deadline`."""
        delay = 0.05
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StoreUnavailable(f"JetStream KV bucket {self.bucket} unavailable: timeout")
            try:
                return await call(remaining)
            except Conflict:
                raise
            except Exception as exc:
                if not _transient(exc):
                    raise StoreError(f"KV bucket {self.bucket}: {describe(exc)}") from exc
                if time.monotonic() + delay >= deadline:
                    raise StoreUnavailable(
                        f"JetStream KV bucket {self.bucket} unavailable: {describe(exc)}"
                    ) from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)

    async def _put(self, key: str, data: bytes, last: int, timeout: float) -> int:
        nc = self._nc
        if nc is None or not nc.is_connected:
            raise nats.errors.ConnectionReconnectingError()
        js = nc.jetstream(timeout=timeout)
        try:
            ack = await js.publish(f"$KV.{self.bucket}.{key}", data, headers={EXPECTED_LAST: str(last)})
        except nats.js.errors.APIError as exc:
            if exc.err_code in WRONG_LAST_SEQUENCE:
                raise Conflict() from exc
            raise
        return int(ack.seq)

    async def _latest(self, key: str, timeout: float) -> tuple[int, str]:
        """The key's current (revision, jwt) from the stream; jwt "" when deleted, (0, "") when absent."""
        nc = self._nc
        if nc is None or not nc.is_connected:
            raise nats.errors.ConnectionReconnectingError()
        js = nc.jetstream(timeout=timeout)
        try:
            msg = await js.get_msg(f"KV_{self.bucket}", subject=f"$KV.{self.bucket}.{key}")
        except nats.js.errors.NotFoundError:
            return 0, ""
        seq = int(msg.seq or 0)
        headers = msg.headers or {}
        if headers.get("KV-Operation") in ("DEL", "PURGE"):
            return seq, ""
        return seq, (msg.data or b"").decode("utf-8", errors="replace").strip()
