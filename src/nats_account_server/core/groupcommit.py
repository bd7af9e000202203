"""Group commit: blocking store writes that arrive together run as one job on an IO thread.

A durable upload is a read, a write, two fsyncs and a rename. Run one by one on a thread pool, every
upload costs the event loop a hand-off to a thread and back, and the threads fight over the GIL at
each system call. Grouped, the uploads that arrive while the running jobs wait on the disk form the
next job: one hand-off each way per group, and the store syncs the group's files together (one
``syncfs`` where that is safe, see stores/durable.py) and each directory once
(``DirectoryStore.save_many``). Two jobs in flight keep the CPU busy while one of them waits on the
disk. Under no load a group is a single upload, so latency stays that of one write.

While a job runs, another starts only once ``MIN_GROUP`` items wait (the last job to end starts the
next with whatever waits): a second job started for whichever item came first would make every
other group under load a single upload, paying its own file and directory syncs, which cost as
much CPU as the upload's writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

T = TypeVar("T")
R = TypeVar("R")

JOBS = 2  # jobs in flight: while one waits on the disk, the next group is read and staged
MAX_GROUP = 256  # bounds one job's latency; beyond it the next job takes the rest
MIN_GROUP = 16  # while a job runs, another starts only for this many items (see above)


class GroupCommit(Generic[T, R]):
    """Runs ``job(items)`` on ``executor`` for the items submitted while ``jobs`` jobs were running
    (a job starts at once when none runs, and alongside running ones once ``min_group`` items wait).

    Callers must not submit two items that conflict (the core holds a per-key lock across ``submit``):
    items of different jobs may be written in either order.

    ``job`` returns one result per item, in order; an exception in that list fails only its item,
    an exception raised by ``job`` fails the whole group.
    """

    def __init__(
        self,
        executor: Executor,
        job: Callable[[list[T]], Sequence[R | BaseException]],
        *,
        jobs: int = JOBS,
        max_group: int = MAX_GROUP,
        min_group: int = MIN_GROUP,
    ) -> None:
        self.executor = executor
        self.job = job
        self.jobs = max(1, jobs)
        self.max_group = max(1, max_group)
        self.min_group = max(1, min(min_group, self.max_group))
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._running = 0

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, future))
        if self._may_start():
            self._start(loop)
        return await future

    def _may_start(self) -> bool:
        if not self._pending or self._running >= self.jobs:
            return False
        return self._running == 0 or len(self._pending) >= self.min_group

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        group, self._pending = self._pending[: self.max_group], self._pending[self.max_group :]
        try:
            self.executor.submit(self._run, loop, group)
        except RuntimeError as exc:  # the executor is shut down (closing): nothing more runs
            group, self._pending = group + self._pending, []
            for _, future in group:
                if not future.done():
                    future.set_exception(exc)
            return
        self._running += 1

    def _run(self, loop: asyncio.AbstractEventLoop, group: list[tuple[T, asyncio.Future[R]]]) -> None:
        """On the IO thread: the job, then one call back to the loop (no future chained per job)."""
        results: Sequence[R | BaseException]
        try:
            results = self.job([item for item, _ in group])
        except BaseException as exc:  # the job itself failed: every item of the group did
            results = [exc] * len(group)
        try:
            loop.call_soon_threadsafe(self._finish, loop, group, results)
        except RuntimeError:  # the loop is closed: no one is waiting any more
            pass

    def _finish(
        self,
        loop: asyncio.AbstractEventLoop,
        group: list[tuple[T, asyncio.Future[R]]],
        results: Sequence[R | BaseException],
    ) -> None:
        self._running -= 1
        for (_, future), result in zip(group, results, strict=True):
            if future.done():  # the caller went away; the job's work stands
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
        if self._may_start():
            self._start(loop)
