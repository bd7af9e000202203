"""The one life-cycle owner: builds an instance from settings, runs it, handles signals.

`cli` parses flags, `config` holds settings, this module starts and stops everything. SIGHUP
rebuilds a fresh instance from the same flags (so the config file is re-read); the running
instance is always the one SIGINT/SIGTERM stops (the originals kept a stale reference).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import signal
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nats_account_server import __version__
from nats_account_server.config import ConfigError, Settings, settings_to_dump
from nats_account_server.core.acceptance import Refused, accept
from nats_account_server.core.kinds import Kind, kind_of
from nats_account_server.core.notifier import Notifier
from nats_account_server.core.service import Core
from nats_account_server.core.trust import Trust, TrustError, load_trust
from nats_account_server.http.app import App
from nats_account_server.http.listener import Listener, ListenError
from nats_account_server.jwt import JWTError, decode_account
from nats_account_server.log import log, short_key
from nats_account_server.stores import DirectoryStore, MemoryStore, NscStore, Store, StoreError
from nats_account_server.stores.fileindex import FileIndexCache
from nats_account_server.stores.marks import Marks

if TYPE_CHECKING:
    from nats_account_server.cli import Flags


class StartupError(Exception):
    """Anything that must stop startup with exit status 1."""


def build_store(settings: Settings, trust: Trust) -> Store:
    """Replica constraints first, then dir, nsc, memory."""
    st = settings.store
    if settings.primary and st.nsc:
        raise StartupError("replicas cannot be run in NSC mode")
    if settings.primary and st.readonly:
        raise StartupError(
            "replica mode cannot be used in read-only mode, but will not allow POST operations"
        )
    if settings.primary and st.kv.enabled:
        raise StartupError("replicas cannot be run with a KV store (every instance reads the KV itself)")
    try:
        if st.kv.enabled:
            from nats_account_server.stores.kv import KVStore

            return KVStore(st.kv, readonly=st.readonly, vet=vetting(trust))
        if st.dir:
            return DirectoryStore(st.dir, shard=st.shard, readonly=st.readonly)
        if st.nsc:
            return NscStore(st.nsc)
    except StoreError as exc:
        raise StartupError(str(exc)) from exc
    return MemoryStore(readonly=st.readonly)


def vetting(trust: Trust) -> Callable[[str, str], str | None]:
    """The acceptance rule for entries others wrote to a shared store (a stored copy: no time checks)."""

    def vet(key: str, jwt: str) -> str | None:
        kind = kind_of(key)
        if kind is None:
            return "not an account key or activation hash"
        try:
            accept(trust, kind, jwt, key, stored=True)
        except Refused as exc:
            return str(exc)
        return None

    return vet


def resolver_url(host: str, port: int, tls: bool) -> str:
    shown = host or "127.0.0.1"
    if ":" in shown:
        shown = f"[{shown}]"
    return f"{'https' if tls else 'http'}://{shown}:{port}/jwt/v1/accounts/"


class Instance:
    """One running account server: store, core, NATS, watcher, replica and HTTP listener."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.listener: Listener | None = None
        self.core: Core | None = None
        self.bridge: Any = None
        self.replica: Any = None
        self.tasks: list[asyncio.Task[Any]] = []
        self.stopping = asyncio.Event()
        self.fatal: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def start(self) -> None:
        s = self.settings
        log.info(f"starting NATS Account server, version {__version__}")
        log.info(f"server time is {time.strftime('%a %b %e %H:%M:%S %Z %Y')}")
        if s.primary:
            log.info(f"starting in replicated mode, with primary at {s.primary}")
            if not s.nats.servers:
                log.info(
                    "running in replicated mode without NATS notifications can result in delayed updates"
                )
        if s.operatorjwtpath:
            log.info(f"loading operator from {s.operatorjwtpath}")
        if s.systemaccountjwtpath:
            log.info(f"loading system account from {s.systemaccountjwtpath}")
        try:
            trust = load_trust(s.operatorjwtpath, s.systemaccountjwtpath)
        except TrustError as exc:
            raise StartupError(str(exc)) from exc
        if trust.operator is not None:
            log.info(f"Operator: {trust.operator.sub}")
            log.info(f"Operator Name: {trust.operator.name}")
        else:
            log.info("No Operator is configured - You will NOT be able to push jwt to this account server")
        if trust.system_account is not None:
            log.info(f"System Account: {trust.system_account.sub}")
            log.info(f"System Account Name: {trust.system_account.name}")
        store = build_store(s, trust)
        log.info(store.description)
        self.core = core = Core(
            store,
            trust,
            lookup_timeout=s.signrequesttimeout / 1000,
            max_pack=s.maxreplicationpack,
            cache_size=s.cachesize,
        )
        if isinstance(store, (DirectoryStore, NscStore)) and not s.primary:
            # a compact index keeps 100k accounts in ~20 MiB; hand-edited (read-only) stores check the
            # file on every GET, writable ones keep busy accounts ready (the watcher drops edits) and
            # seal verified files (stores/marks.py): then nothing per account stays in memory;
            # a replica's entries carry the primary's freshness instead
            size = core.cache.capacity
            if isinstance(store, DirectoryStore) and not store.readonly:
                marks = Marks.open(store.root)
                core.cache = FileIndexCache(store, size, hot=True, marks=marks)  # echo: see watch()
            else:
                core.cache = FileIndexCache(store, size)
        await self.start_kv(core)
        await self.start_nats(core)
        if s.primary:
            from nats_account_server.replica import Replica

            self.replica = Replica(core, s.primary, timeout=s.replicationtimeout / 1000)
            core.replica = self.replica
            await self.replica.initial_import(s.maxreplicationpack)
        watched = store if isinstance(store, (DirectoryStore, NscStore)) else None
        if watched is not None and watched.readonly:  # announced changes: watch before we say we are running
            self.watch(watched)
        writable = not store.readonly and not s.primary
        app = App(
            core,
            writable=writable,
            max_body=s.maxbodysize,
            read_timeout=s.http.readtimeout / 1000,
            sign_subject=s.signrequestsubject,
            sign_timeout=s.signrequesttimeout / 1000,
        )
        self.listener = Listener(
            app,
            s.http.host,
            s.http.port,
            cert=s.http.tls.cert,
            key=s.http.tls.key,
            read_timeout_ms=s.http.readtimeout,
            write_timeout_ms=s.http.writetimeout,
        )
        try:
            bound = await self.listener.start()
        except ListenError as exc:
            raise StartupError(str(exc)) from exc
        log.info(f"{'https' if bound.tls else 'http'} listening on port {bound.port}")
        log.info("nats-account-server is running")
        log.info("configure the nats-server with:")
        log.info(f"  resolver: URL({resolver_url(s.http.host, bound.port, bound.tls)})")
        if watched is not None and not watched.readonly:  # cache upkeep only: never delays serving
            self.watch(watched)

    def watch(self, store: DirectoryStore | NscStore) -> None:
        from nats_account_server.stores.watch import StoreWatcher

        assert self.core is not None
        watcher = StoreWatcher(
            store, self.on_file_change, on_delete=self.on_file_delete, track_content=store.readonly
        )
        cache, echoes = self.core.cache, watcher.hears_attributes
        if echoes and isinstance(cache, FileIndexCache) and isinstance(store, DirectoryStore):
            # a verified mark's attribute event is our echo; where no such event comes, a stamp kept
            # for it would only wait in memory
            cache.echo = store.remember_own
        self.tasks.append(asyncio.create_task(watcher.run(self.stopping)))

    async def start_kv(self, core: Core) -> None:
        """A KV store serves once its local view has caught up; later remote writes drop cached
        responses and update the sync hash through `core.changed` (never re-published on NATS)."""
        start = getattr(core.store, "start", None)
        if start is None:
            return
        core.store.on_remote_change = core.changed  # type: ignore[attr-defined]
        try:
            await start()
        except StoreError as exc:
            raise StartupError(str(exc)) from exc

    async def start_nats(self, core: Core) -> None:
        s = self.settings
        if not s.nats.servers:
            log.info("NATS is not configured, server will not fire notifications on update")
            return
        from nats_account_server.natsio.bridge import NatsBridge

        self.bridge = NatsBridge(s, core, on_closed=self.on_nats_closed)
        core.notifier = self.bridge
        await self.bridge.start()

    def on_nats_closed(self) -> None:
        log.error("nats connection closed, shutting down bridge")
        if not self.fatal.done():
            self.fatal.set_result(255)

    async def on_file_change(self, key: str, jwt: str) -> None:
        """Watcher events keep the response cache right; read-only stores also announce them."""
        core = self.core
        assert core is not None
        core.changed(key, jwt)
        if not core.store.readonly:
            return
        notifier: Notifier = core.notifier
        if not notifier.connected:
            return
        try:
            sub = decode_account(jwt).sub  # only valid account JWTs are announced
            if sub != key:
                raise JWTError(f"the JWT is for account {short_key(sub)}")
            await core.notify(Kind.ACCOUNT, key, jwt)
        except Exception as exc:
            log.info(f"error trying to send notification from file change for {short_key(key)}, {exc}")

    def on_file_delete(self, key: str) -> None:
        """A deleted file must not keep being served from the response cache."""
        assert self.core is not None
        if key:
            self.core.changed(key, "")  # "" = removed, for the saved hooks (NATS sync hash)
        else:
            self.core.cache.clear()

    async def stop(self) -> None:
        log.info("stopping account server")
        self.stopping.set()
        if self.bridge is not None:
            with contextlib.suppress(Exception):
                await self.bridge.stop()
            log.info("disconnected from NATS")
        if self.listener is not None:
            log.info("stopping http server")
            await self.listener.stop()
            log.info("http server stopped")
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(BaseException):
                await task
        if self.replica is not None:
            with contextlib.suppress(Exception):
                await self.replica.close()
        if self.core is not None:
            aclose = getattr(self.core.store, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
            self.core.close()
            log.info("closed JWT store")


def configure(flags: Flags) -> Settings:
    from nats_account_server.cli import build_settings

    settings = build_settings(flags)
    log.configure(settings.logging)
    return settings


async def serve(flags: Flags) -> int:
    loop = asyncio.get_running_loop()
    signals: asyncio.Queue[signal.Signals] = asyncio.Queue()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, signals.put_nowait, sig)
    # the write lease that proves a spare inode unused (stores/spares.py) is broken with SIGIO, whose
    # default action would end the process; nothing else here uses it
    signal.signal(signal.SIGIO, signal.SIG_IGN)
    log.gather_on(loop)
    instance: Instance | None = None
    try:
        while True:
            try:
                settings = configure(flags)
                if flags.config:
                    log.info(f'loading configuration from "{flags.config}"')
                instance = Instance(settings)
                await instance.start()
                # what the start built lives as long as the instance: out of the collector's scans
                gc.freeze()
                if flags.dump:
                    log.info(json.dumps(settings_to_dump(settings), indent=2), block=True)
            except (ConfigError, StartupError, StoreError) as exc:
                log.error(str(exc))
                if instance is not None:
                    await instance.stop()
                return 1
            sig_task = asyncio.ensure_future(signals.get())
            waiters: set[asyncio.Future[Any]] = {sig_task, instance.fatal}
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            if instance.fatal in done:
                sig_task.cancel()
                await instance.stop()
                return instance.fatal.result()
            sig = sig_task.result()
            if sig == signal.SIGHUP:
                log.error("received sig-hup, restarting")
                gc.unfreeze()  # the old instance's cycles may be collected again
                await instance.stop()
                instance = None
                continue
            print("", flush=True)
            name = "sig-interrupt" if sig == signal.SIGINT else "sig-terminate"
            log.info(f"received {name}, shutting down")
            await instance.stop()
            return 0
    finally:
        log.gather_off()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)


def run(flags: Flags) -> int:
    """Entry point used by `cli.main` once flags are parsed."""
    try:
        import uvloop

        return uvloop.run(serve(flags))
    except ImportError:  # pragma: no cover - platforms without uvloop
        return asyncio.run(serve(flags))
    finally:
        sys.stderr.flush()
