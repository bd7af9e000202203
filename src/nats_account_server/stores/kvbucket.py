"""Noticing that the KV bucket under a running instance is no longer the one it loaded.

A bucket deleted and created again, or a stream that restarted empty (its data lost), leaves every
running instance with a view of keys the bucket no longer holds, and a watch waiting for revisions
the new stream will not reach for a long time. So the stream is asked about itself every
`CHECK_EVERY` seconds: a `created` time other than the one seen when the bucket was opened, or a
last sequence below the highest revision the view holds (revisions never go backwards in one
stream; seen on two looks in a row, so that a stream leader elected a moment ago, still applying
its log, is not taken for a lost stream), means the bucket was replaced. That is logged at ERR,
reported by `problem` (readiness) until the view has been rebuilt from the bucket, and the rebuild
drops the keys the bucket no longer holds. A bucket that is gone altogether is reported too, and
writes fail at once meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from collections.abc import Awaitable, Callable

import nats.js.errors
from nats.js import api

from ..log import log
from ..natsclient import describe
from .kvwatch import KVView
from .kvwrite import ATTEMPT_TIMEOUT, KVLink

__all__ = ["CHECK_EVERY", "BucketCheck"]

CHECK_EVERY = 1.0  # seconds between two looks at the bucket's stream


class BucketCheck:
    """Compares the bucket's stream with what this instance loaded; `rebuild()` reloads the view."""

    def __init__(
        self, bucket: str, link: KVLink, view: KVView, rebuild: Callable[[], Awaitable[None]]
    ) -> None:
        self.bucket = bucket
        self.stream = f"KV_{bucket}"
        self.link = link
        self.view = view
        self.rebuild = rebuild
        self.created: datetime.datetime | None = None  # the stream's creation time when we loaded it
        self.problem: str | None = None  # why the view may not be the bucket's (readiness)
        self.missing = False  # the bucket does not exist (writes fail at once)
        self._task: asyncio.Task[None] | None = None
        self._behind = False  # the last look found the stream behind the view (confirmed by the next)

    def opened(self, info: api.StreamInfo) -> None:
        """The stream as it was when the bucket was opened (before the view was loaded)."""
        self.created = info.created

    def refusal(self) -> str | None:
        """Why a write must fail without trying (the bucket is gone), else None."""
        return self.problem if self.missing else None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next round tries again
                log.error(f"KV bucket {self.bucket}: checking the bucket failed - {describe(exc)}")

    async def check(self) -> None:
        """One look at the stream; rebuilds the view when the bucket was replaced."""
        nc = self.link.nc
        if nc is None or not nc.is_connected:
            return
        seen = self.view.revision  # before asking: whatever it counts was in the stream by then
        try:
            info = await nc.jetstream(timeout=ATTEMPT_TIMEOUT).stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            if not self.missing:
                self.missing = True
                self.problem = f"KV bucket {self.bucket} does not exist: uploads fail"
                log.error(f"KV bucket {self.bucket} was deleted; serving its last known contents")
            return
        except Exception as exc:  # not reachable now: the connection's own events say so
            log.debug(f"KV bucket {self.bucket}: stream info failed - {describe(exc)}")
            return
        reason = self._replaced(info, seen)
        if reason is not None and reason.startswith("lost data") and not self._behind:
            self._behind = True  # look again before acting
            return
        self._behind = False
        if reason is None:
            if self.missing:  # back, and the same stream (created unknown): take it as it is
                self.missing, self.problem = False, None
            return
        self.problem = f"KV bucket {self.bucket} {reason}; rebuilding this instance's view from it"
        log.error(self.problem)
        await self.rebuild()
        self.created, self.missing, self.problem = info.created, False, None
        log.info(
            f"rebuilt the view of KV bucket {self.bucket} from the bucket: {len(self.view)} JWTs "
            f"(revision {self.view.revision})"
        )

    def _replaced(self, info: api.StreamInfo, seen: int) -> str | None:
        if self.created is not None and info.created is not None and info.created != self.created:
            return f"was re-created (stream created {_when(info.created)}, loaded {_when(self.created)})"
        last = info.state.last_seq or 0
        if last < seen:
            return f"lost data (its last revision is {last}, this instance has seen {seen})"
        return None


def _when(stamp: datetime.datetime) -> str:
    return stamp.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
