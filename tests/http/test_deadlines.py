"""http/deadlines.py: body read deadlines swept by one timer (real event loop, real timers)."""

from __future__ import annotations

import asyncio
import time

import pytest

from nats_account_server.http.deadlines import Deadlines


async def read(deadlines: Deadlines, body: asyncio.Future[bytes]) -> bytes:
    """The pattern Bodies.read (http/bodies.py) uses."""
    task = deadlines.begin()
    try:
        return await body
    except asyncio.CancelledError:
        if deadlines.end(task):
            raise TimeoutError from None
        raise
    finally:
        deadlines.end(task)


async def test_a_read_past_its_deadline_times_out_and_others_are_untouched() -> None:
    deadlines = Deadlines(0.2)
    loop = asyncio.get_running_loop()
    stalled: asyncio.Future[bytes] = loop.create_future()
    prompt: asyncio.Future[bytes] = loop.create_future()
    started = time.monotonic()
    slow = asyncio.create_task(read(deadlines, stalled))
    fast = asyncio.create_task(read(deadlines, prompt))
    loop.call_later(0.05, prompt.set_result, b"body")
    assert await fast == b"body"
    with pytest.raises(TimeoutError):
        await slow
    took = time.monotonic() - started
    assert 0.2 <= took < 0.2 + 0.2 / 4 + 0.2  # the timeout, a tick late at most, plus slack
    assert not slow.cancelling()  # the cancellation became a timeout, nothing pending
    await asyncio.sleep(0.2)
    assert deadlines._timer is None  # no bodies in flight: no timer running


async def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    deadlines = Deadlines(5.0)
    stalled: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(read(deadlines, stalled))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not deadlines._due


async def test_no_timeout_configured_means_no_clock() -> None:
    deadlines = Deadlines(None)
    done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
    done.set_result(b"x")
    assert await read(deadlines, done) == b"x"
    assert deadlines._timer is None and not deadlines._due
