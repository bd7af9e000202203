"""The one life-cycle owner: builds an instance from settings, runs it, handles signals.

`flags` parses the command line, `config` holds settings, this module starts and stops everything. SIGHUP
rebuilds a fresh instance from the same flags (so the config file is re-read); the running
instance is always the one SIGINT/SIGTERM stops (the originals kept a stale reference). The HTTP
front outlives instances, so a reload holds new requests instead of refusing them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from nats_account_server import __version__
from nats_account_server.config import ConfigError, Settings, settings_to_dump
from nats_account_server.core.acceptance import vetting
from nats_account_server.core.cache import Cache, ResponseCache
from nats_account_server.core.deletion import policy_of
from nats_account_server.core.kinds import Kind
from nats_account_server.core.lifecycle import StartupError
from nats_account_server.core.service import Core
from nats_account_server.core.store import Store, StoreError, Watcher
from nats_account_server.core.trust import TrustError, load_trust
from nats_account_server.http.app import App
from nats_account_server.http.front import Front, Listening
from nats_account_server.http.listener import Bound, ListenError
from nats_account_server.http.notallowed import readonly_reason
from nats_account_server.jwt import JWTError, decode_account
from nats_account_server.log import log, short_key
from nats_account_server.preflight import preflight
from nats_account_server.stores import DirectoryStore, MemoryStore, NscStore

if TYPE_CHECKING:
    from nats_account_server.core.trust import Trust
    from nats_account_server.flags import Flags
    from nats_account_server.natsio.bridge import NatsBridge
    from nats_account_server.replica import Replica

__all__ = ["Instance", "StartupError", "build_store", "run", "serve"]

IMPORT = "replica import"  # the start phase of a replica: its initial pack from the primary


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


def resolver_url(host: str, port: int, tls: bool) -> str:
    shown = host or "127.0.0.1"
    if ":" in shown:
        shown = f"[{shown}]"
    return f"{'https' if tls else 'http'}://{shown}:{port}/jwt/v1/accounts/"


class Instance:
    """One running account server. `start` builds each part once, with its final collaborators, and
    registers how to stop it; `stop` unwinds them in reverse: the front stops giving it requests
    and waits for those in flight first, so every accepted upload is still announced before NATS
    disconnects, and the store closes last."""

    def __init__(self, settings: Settings, front: Front) -> None:
        self.settings = settings
        self.front = front
        self.core: Core | None = None
        self.stopping = asyncio.Event()
        self.fatal: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._parts = contextlib.AsyncExitStack()

    async def start(self) -> None:
        s = self.settings
        self._log_start()
        try:
            trust = load_trust(s.operatorjwtpath, s.systemaccountjwtpath)
        except TrustError as exc:
            raise StartupError(str(exc)) from exc
        self._log_trust(trust)
        store = build_store(s, trust)
        log.info(store.description)
        bridge = self._bridge()
        source = self._replica(trust)
        # a replica's responses carry the primary's freshness: a plain map of them, whatever the store
        cache: Cache = ResponseCache(s.cachesize) if source is not None else store.make_cache(s.cachesize)
        self.core = core = Core(
            store,
            trust,
            bridge,
            source=source,
            cache=cache,
            lookup_timeout=s.signrequesttimeout / 1000,
            max_pack=s.maxreplicationpack,
        )
        core.deletion = policy_of(s)
        parts = self._parts
        parts.callback(self._close_core, core)
        try:
            await store.start(core.remote_changed)
        except StoreError as exc:
            raise StartupError(str(exc)) from exc
        parts.push_async_callback(_quietly, store.stop)
        if bridge is not None:
            parts.push_async_callback(self._stop_bridge, bridge)
            await bridge.start(core)
        watcher = store.watcher(self.on_file_change, self.on_file_delete)
        if watcher is not None and store.readonly:  # announced changes: watch before we say we are running
            self._watch(watcher)
        if source is not None:
            parts.push_async_callback(_quietly, source.stop)
            # HTTP listens during the import (liveness answers), but the resolver probe and /readyz
            # answer 503 until it is done: whoever probes waits instead of killing us
            core.readiness.begin(IMPORT, "in progress")
            bound = await self._serve_http(core, writable=False)
            saved = await source.initial_import(core, s.maxreplicationpack)
            core.readiness.end(IMPORT, f"done, {saved} JWTs stored")
        else:
            bound = await self._serve_http(core, writable=not store.readonly)
        self._log_running(bound)
        if watcher is not None and not store.readonly:  # cache upkeep only: never delays serving
            self._watch(watcher)

    def _log_start(self) -> None:
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

    @staticmethod
    def _log_trust(trust: Trust) -> None:
        if trust.operator is not None:
            log.info(f"Operator: {trust.operator.sub}")
            log.info(f"Operator Name: {trust.operator.name}")
        else:
            log.info("No Operator is configured - You will NOT be able to push jwt to this account server")
        if trust.system_account is not None:
            log.info(f"System Account: {trust.system_account.sub}")
            log.info(f"System Account Name: {trust.system_account.name}")

    def _bridge(self) -> NatsBridge | None:
        if not self.settings.nats.servers:
            log.info("NATS is not configured, server will not fire notifications on update")
            return None
        from nats_account_server.natsio.bridge import NatsBridge

        return NatsBridge(self.settings, on_closed=self.on_nats_closed)

    def _replica(self, trust: Trust) -> Replica | None:
        s = self.settings
        if not s.primary:
            return None
        from nats_account_server.replica import Replica

        return Replica(s.primary, trust, timeout=s.replicationtimeout / 1000 or None)  # 0: no timeout

    async def _serve_http(self, core: Core, *, writable: bool) -> Bound:
        s = self.settings
        app = App(
            core,
            writable=writable,
            max_body=s.maxbodysize,
            read_timeout=s.http.readtimeout / 1000,
            sign_subject=s.signrequestsubject,
            sign_timeout=s.signrequesttimeout / 1000,
            readonly_reason="" if writable else readonly_reason(s),
        )
        listening = Listening(
            s.http.host,
            s.http.port,
            cert=s.http.tls.cert,
            key=s.http.tls.key,
            read_timeout_ms=s.http.readtimeout,
            write_timeout_ms=s.http.writetimeout,
        )
        try:
            bound = await self.front.serve(app, listening)
        except ListenError as exc:
            raise StartupError(str(exc)) from exc
        self._parts.push_async_callback(self.front.release, app)
        log.info(f"{'https' if bound.tls else 'http'} listening on port {bound.port}")
        return bound

    def _log_running(self, bound: Bound) -> None:
        s = self.settings
        log.info("nats-account-server is running")
        log.info("configure the nats-server with:")
        log.info(f"  resolver: URL({resolver_url(s.http.host, bound.port, bound.tls)})")

    def _watch(self, watcher: Watcher) -> None:
        task = asyncio.create_task(watcher.run(self.stopping))
        self._parts.push_async_callback(_cancel, task)

    @staticmethod
    async def _stop_bridge(bridge: NatsBridge) -> None:
        await _quietly(bridge.stop)
        log.info("disconnected from NATS")

    @staticmethod
    def _close_core(core: Core) -> None:
        core.close()
        log.info("closed JWT store")

    def on_nats_closed(self) -> None:
        log.error("nats connection closed, shutting down bridge")
        if not self.fatal.done():
            self.fatal.set_result(255)

    async def on_file_change(self, key: str, jwt: str) -> None:
        """Watcher events keep the response cache right; read-only stores also announce them."""
        core = self.core
        assert core is not None
        core.changed(key, jwt)
        if not core.store.readonly or not core.notifier.connected:
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
            self.core.forget_all()

    async def stop(self, *, final: bool = False) -> None:
        """`final`: the process ends, so the listener stops first; on a reload it keeps running."""
        log.info("stopping account server")
        if final:
            await _stop_http(self.front)
        self.stopping.set()
        await self._parts.aclose()


async def _quietly(stop: Callable[[], Awaitable[None]]) -> None:
    """A part that fails to stop must not keep the later ones from stopping."""
    with contextlib.suppress(Exception):
        await stop()


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(BaseException):
        await task


async def _stop_http(front: Front) -> None:
    """At shutdown the listener stops first: no new request reaches an instance that is closing."""
    log.info("stopping http server")
    await front.close()
    log.info("http server stopped")


def reread(flags: Flags) -> Settings:
    """The settings from the same flags (and so the configuration file, read again)."""
    from nats_account_server.flags import build_settings

    return build_settings(flags)


def configure(flags: Flags) -> Settings:
    """The settings of ``flags``, the logger set up for them, then the file's warnings logged (in
    the format every later line has)."""
    settings = reread(flags)
    log.configure(settings.logging)
    for warning in settings.warnings:
        log.warn(warning)
    return settings


async def serve(flags: Flags) -> int:
    loop = asyncio.get_running_loop()
    signals: asyncio.Queue[signal.Signals] = asyncio.Queue()
    # Windows has no SIGHUP, and its default loop no add_signal_handler: plain handlers pass the signal on
    handled = [signal.Signals[name] for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)]
    plain: dict[signal.Signals, Any] = {}  # signal -> the handler it had, where the loop can't handle it
    for sig in handled:
        try:
            loop.add_signal_handler(sig, signals.put_nowait, sig)
        except NotImplementedError:
            plain[sig] = signal.signal(
                sig, lambda n, _: loop.call_soon_threadsafe(signals.put_nowait, signal.Signals(n))
            )
    log.gather_on(loop)
    instance: Instance | None = None
    front = Front()  # outlives instances: a reload keeps the listener and its connections
    try:
        try:
            settings = configure(flags)
        except ConfigError as exc:
            log.error(str(exc))
            return 1
        while True:
            try:
                if flags.config:
                    log.info(f'loading configuration from "{flags.config}"')
                instance = Instance(settings, front)
                await instance.start()
                # what the start built lives as long as the instance: out of the collector's scans,
                # which run again from here on (the command line turns them off for the start)
                gc.freeze()
                gc.enable()
                if flags.dump:
                    log.info(json.dumps(settings_to_dump(settings), indent=2), block=True)
            except (ConfigError, StartupError, StoreError) as exc:
                log.error(str(exc))
                if instance is not None:
                    await instance.stop()
                return 1
            while True:  # until a signal or a fatal error ends this instance
                sig_task = asyncio.ensure_future(signals.get())
                waiters: set[asyncio.Future[Any]] = {sig_task, instance.fatal}
                done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                if instance.fatal in done:
                    sig_task.cancel()
                    await instance.stop(final=True)
                    return instance.fatal.result()
                sig = sig_task.result()
                if sig.name != "SIGHUP":
                    print("", flush=True)
                    name = "sig-interrupt" if sig == signal.SIGINT else "sig-terminate"
                    log.info(f"received {name}, shutting down")
                    await instance.stop(final=True)
                    return 0
                log.error("received sig-hup, restarting")
                try:  # the new configuration is read and checked before the running instance stops
                    renewed = reread(flags)
                    for warning in renewed.warnings:  # in the running format: it is not taken yet
                        log.warn(warning)
                    preflight(renewed)
                except ConfigError as exc:
                    log.error(f"{exc}; still running with the previous configuration")
                    continue
                break
            gc.unfreeze()  # the old instance's cycles may be collected again
            await instance.stop()
            instance = None
            settings = renewed
            log.configure(settings.logging)
    finally:
        await front.close()
        log.gather_off()
        for sig in handled:
            if sig in plain:
                signal.signal(sig, plain[sig])
            else:
                loop.remove_signal_handler(sig)


def run(flags: Flags) -> int:
    """Entry point used by `cli.main` once flags are parsed."""
    try:
        import uvloop

        runner: Callable[[Coroutine[Any, Any, int]], int] = uvloop.run
    except ImportError:  # platforms without uvloop (Windows)
        runner = asyncio.run
    try:
        return runner(serve(flags))
    finally:
        sys.stderr.flush()
