"""Take part in the nats-server full-resolver sync (`$SYS.REQ.CLAIMS.PACK`).

Every period we send our store hash; peers whose hash differs answer with their JWTs, which we
merge (newer `iat` wins, trust checked). We answer their requests the same way, so an account
server and full resolvers converge in both directions without either side being the primary.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from itertools import islice
from typing import Protocol, runtime_checkable

from nats_account_server.core.service import Core
from nats_account_server.jwt import is_account_key
from nats_account_server.log import log
from nats_account_server.natsio.responders import Publish
from nats_account_server.natsio.storehash import StoreHash, is_expired, jwt_exp, scan
from nats_account_server.oserrors import error_text

PACK = "$SYS.REQ.CLAIMS.PACK"
QUEUE = "responder"

SendRequest = Callable[[bytes], Awaitable[None]]


@runtime_checkable
class Streaming(Protocol):
    """A store that reads its JWTs one at a time for a full pass (a directory store)."""

    def stream(self) -> Iterator[tuple[str, str]]: ...


PACK_BATCH = 1_000  # JWTs a pack reply reads per worker-thread job: the reply never holds the store


class Sync:
    """The store hash, the pack responder, the merge of pack replies and the periodic requests."""

    def __init__(self, core: Core, publish: Publish, *, interval: float) -> None:
        self.core = core
        self.publish = publish
        self.interval = interval
        self.hash = StoreHash(self._stored)
        core.saved_hooks.append(self.hash.update)
        core.replacing_hooks.append(self.hash.before_write)
        self._scan_task: asyncio.Task[None] | None = None
        self._shown: dict[str, str] = {}  # periodic line -> its text when last logged

    def _news(self, kind: str, line: str) -> None:
        """A line peers cause every sync period: logged when it says something new."""
        if self._shown.get(kind) != line:
            self._shown[kind] = line
            log.debug(line)

    def _stored(self, key: str) -> str | None:
        """What the store holds for `key`, as the hash digests it (blocking)."""
        jwt = self.core.store.load(key)
        return jwt.strip() if jwt else None

    def _items(self) -> Iterator[tuple[str, str]]:
        """The store's (key, JWT) pairs, streamed where the store can (a directory store reads one
        file at a time); other stores hold their JWTs in memory anyway."""
        store = self.core.store
        items = store.stream() if isinstance(store, Streaming) else iter(store.pack(-1))
        return ((key, jwt.strip()) for key, jwt in items)

    def start_scan(self) -> None:
        """Compute the hash in a worker thread: startup must not wait for a big store."""
        if self._scan_task is None or self._scan_task.done():
            self._scan_task = asyncio.create_task(self._scan())

    async def _scan(self) -> None:
        started = time.monotonic()
        self.hash.begin_scan()
        touched = self.hash.touched()
        try:
            found = await asyncio.to_thread(lambda: scan(self._items(), touched=touched))
        except Exception as exc:  # the hash stays "not ready": we then never claim to be in sync
            log.error(f"error computing the store hash for JWT syncing - {error_text(exc)}")
            return
        self.hash.install(found)
        log.debug(
            f"store hash for JWT syncing computed over {found.count} accounts in "
            f"{time.monotonic() - started:.3f}s: {self.hash.value().hex()}"
        )

    async def close(self) -> None:
        with contextlib.suppress(ValueError):
            self.core.saved_hooks.remove(self.hash.update)
        with contextlib.suppress(ValueError):
            self.core.replacing_hooks.remove(self.hash.before_write)
        if self._scan_task is not None:
            self._scan_task.cancel()
            with contextlib.suppress(BaseException):
                await self._scan_task

    # ------------------------------------------------------------ responder

    def nats_pack(self) -> Iterator[tuple[str, str]]:
        """What a full resolver would send: non-expired account JWTs only (blocking: iterate it in a
        thread)."""
        now = int(time.time())
        return (
            (key, jwt)
            for key, jwt in self._items()
            if is_account_key(key) and jwt and not is_expired(jwt_exp(jwt), now)
        )

    async def pack_request(self, subject: str, reply: str, payload: bytes) -> None:
        """Equal hash → one empty message; else one `<key>|<jwt>` per JWT, then the empty end marker."""
        if not reply:
            return
        ours = self.hash.value() if self.hash.ready else None
        if ours is not None and payload == ours:
            self._news("matches", f"pack request matches hash {ours.hex()}")
            await self.publish(reply, b"")
            return
        sent = 0
        try:
            items = await asyncio.to_thread(self.nats_pack)
            while batch := await asyncio.to_thread(lambda: list(islice(items, PACK_BATCH))):
                async for line in self.core.bulk.messages(f"{key}|{jwt}".encode() for key, jwt in batch):
                    await self.publish(reply, line)
                sent += len(batch)
        except Exception as exc:  # no end marker: the requester times out, as with nats-server
            log.error(f"pack request error: {error_text(exc)}")
            return
        await self.publish(reply, b"")
        log.debug(f"pack request hash {payload.hex()} - finished responding with {sent} JWTs")

    # ------------------------------------------------------------ requester

    async def pack_reply(self, subject: str, reply: str, payload: bytes) -> None:
        """One message of a peer's pack stream (our inbox); merged changes are not re-published."""
        if not payload:
            if self.hash.ready:
                self._news("merged", f"Merging Finished and resulting in: {self.hash.value().hex()}")
            return
        log.debug("Embedded pack message")
        try:
            await self.core.merge(payload.decode("utf-8"))
        except Exception as exc:
            log.error(f"Merging resulted in error: {error_text(exc)}")

    async def run(self, send: SendRequest, connected: Callable[[], bool]) -> None:
        """Every period, while connected and once the hash is known, ask peers for what we lack."""
        shown = b""  # the state last logged: the line is news only when the store changed
        while True:
            await asyncio.sleep(self.interval)
            if self.hash.stale and not self.hash.scanning:
                self.start_scan()  # a change we did not write: the hash is computed again
            if not connected() or not self.hash.ready:
                continue
            ours = self.hash.value()
            if ours != shown:
                log.debug(f"Checking store state: {ours.hex()}")
                shown = ours
            try:
                await send(ours)
            except Exception as exc:
                log.debug(f"pack request not sent - {error_text(exc)}")
