"""Group commit (groupcommit.py): uploads that arrive while a job runs share the next job.

Real threads (a one-worker ThreadPoolExecutor) and a real event loop; the jobs are plain functions.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from nats_account_server.core.groupcommit import GroupCommit


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool


class Recorder:
    """A job that records its groups and can be held at its start (to let items pile up)."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.hold = threading.Event()
        self.hold.set()
        self.started = threading.Event()

    def __call__(self, items: list[int]) -> list[int | BaseException]:
        self.started.set()
        self.hold.wait(10)
        self.groups.append(list(items))
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]


async def test_items_submitted_during_a_job_form_the_next_group(executor: ThreadPoolExecutor) -> None:
    job = Recorder()
    job.hold.clear()
    commit: GroupCommit[int, int] = GroupCommit(executor, job, jobs=1)
    first = asyncio.ensure_future(commit.submit(0))
    await asyncio.sleep(0)
    assert await asyncio.to_thread(job.started.wait, 10)
    rest = [asyncio.ensure_future(commit.submit(i)) for i in (2, 4, 6, 8)]
    await asyncio.sleep(0.05)
    job.hold.set()
    assert await first == 0
    assert await asyncio.gather(*rest) == [20, 40, 60, 80]
    assert job.groups == [[0], [2, 4, 6, 8]]


async def test_an_error_fails_only_its_item(executor: ThreadPoolExecutor) -> None:
    job = Recorder()
    commit: GroupCommit[int, int] = GroupCommit(executor, job)
    results = await asyncio.gather(*(commit.submit(i) for i in range(4)), return_exceptions=True)
    assert results[0] == 0 and results[2] == 20
    assert isinstance(results[1], ValueError) and str(results[1]) == "odd 1"
    assert isinstance(results[3], ValueError) and str(results[3]) == "odd 3"


async def test_a_failing_job_fails_its_whole_group_and_later_groups_still_run(
    executor: ThreadPoolExecutor,
) -> None:
    calls: list[list[int]] = []

    def job(items: list[int]) -> list[int | BaseException]:
        calls.append(items)
        if len(calls) == 1:
            raise OSError("disk gone")
        return list(items)

    commit: GroupCommit[int, int] = GroupCommit(executor, job, jobs=1)
    with pytest.raises(OSError, match="disk gone"):
        await commit.submit(1)
    assert await asyncio.gather(commit.submit(2), commit.submit(3)) == [2, 3]


async def test_groups_are_bounded(executor: ThreadPoolExecutor) -> None:
    job = Recorder()
    job.hold.clear()
    commit: GroupCommit[int, int] = GroupCommit(executor, job, jobs=1, max_group=3)
    futures = [asyncio.ensure_future(commit.submit(i * 2)) for i in range(9)]
    await asyncio.sleep(0.05)
    job.hold.set()
    assert await asyncio.gather(*futures) == [i * 20 for i in range(9)]
    assert [len(g) for g in job.groups] == [1, 3, 3, 2]  # the first ran alone, at once


async def test_a_caller_that_goes_away_does_not_stop_the_group(executor: ThreadPoolExecutor) -> None:
    job = Recorder()
    job.hold.clear()
    commit: GroupCommit[int, int] = GroupCommit(executor, job, jobs=1)
    first = asyncio.ensure_future(commit.submit(0))
    gone = asyncio.ensure_future(commit.submit(2))
    stays = asyncio.ensure_future(commit.submit(4))
    await asyncio.sleep(0.05)
    gone.cancel()
    job.hold.set()
    assert await first == 0 and await stays == 40
    assert job.groups == [[0], [2, 4]]  # the job's work stands for the one that left


async def test_after_shutdown_submissions_fail_instead_of_hanging() -> None:
    pool = ThreadPoolExecutor(max_workers=1)
    commit: GroupCommit[int, int] = GroupCommit(pool, Recorder())
    assert await commit.submit(2) == 20
    pool.shutdown(wait=True)
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(commit.submit(4), 5)


async def test_two_jobs_run_side_by_side_and_the_rest_waits_for_either() -> None:
    both = threading.Barrier(2, timeout=10)  # passes only if two jobs are running at once
    groups: list[list[int]] = []

    lock = threading.Lock()

    def job(items: list[int]) -> list[int | BaseException]:
        with lock:
            groups.append(items)
            first_two = len(groups) <= 2
        if first_two:
            both.wait()
        return list(items)

    with ThreadPoolExecutor(max_workers=2) as pool:
        commit: GroupCommit[int, int] = GroupCommit(pool, job, jobs=2, min_group=1)
        assert await asyncio.gather(*(commit.submit(i) for i in range(6))) == list(range(6))
    assert sorted(len(g) for g in groups) == [1, 1, 4]


async def test_beside_a_running_job_another_starts_only_for_min_group_items() -> None:
    """A second job for one or two uploads would pay its own syncs: it waits for min_group items,
    and what waits when the running job ends goes in the next job."""
    first = Recorder()
    first.hold.clear()
    groups: list[list[int]] = []
    started = threading.Event()

    def job(items: list[int]) -> list[int | BaseException]:
        if not groups and not first.groups and items == [0]:
            return first(items)
        groups.append(list(items))
        started.set()
        return list(items)

    with ThreadPoolExecutor(max_workers=2) as pool:
        commit: GroupCommit[int, int] = GroupCommit(pool, job, jobs=2, min_group=3)
        running = asyncio.ensure_future(commit.submit(0))
        assert await asyncio.to_thread(first.started.wait, 10)
        waiting = [asyncio.ensure_future(commit.submit(i)) for i in (1, 2)]
        await asyncio.sleep(0.1)
        assert not started.is_set()  # two items wait: no second job beside the first
        waiting.append(asyncio.ensure_future(commit.submit(3)))
        assert await asyncio.wait_for(asyncio.gather(*waiting), 10) == [1, 2, 3]  # the third started one
        assert groups == [[1, 2, 3]] and not running.done()
        late = asyncio.ensure_future(commit.submit(4))
        await asyncio.sleep(0.1)
        assert groups == [[1, 2, 3]]  # one job runs, one item waits: it waits for the running job
        first.hold.set()
        assert await running == 0 and await late == 4
    assert groups == [[1, 2, 3], [4]]
