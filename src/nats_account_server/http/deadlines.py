"""Read deadlines for request bodies, enforced by one sweeping timer.

``asyncio.timeout`` arms and disarms a timer per request (a timer handle, a heap entry, the task's
cancel bookkeeping): a measurable share of an upload's CPU time. Here a body read only notes its task
and deadline in a dict; one timer, running only while bodies are being read, cancels the reads that
ran past their deadline, at most a quarter of the timeout late.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["Deadlines"]

MIN_TICK = 0.01  # seconds


class Deadlines:
    """``begin()`` before reading a body, ``end(task)`` after (always); a read cut off by its
    deadline raises CancelledError inside the task, which ``end`` reports as a timeout."""

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self._tick = max(MIN_TICK, (timeout or 0) / 4)
        self._due: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None

    def begin(self) -> asyncio.Task[Any] | None:
        """Start the clock for the running task (None: no timeout configured, or no task)."""
        task = asyncio.current_task()
        if self.timeout is None or task is None:
            return None
        loop = task.get_loop()
        self._due[task] = loop.time() + self.timeout
        if self._timer is None:
            self._timer = loop.call_later(self._tick, self._sweep, loop)
        return task

    def end(self, task: asyncio.Task[Any] | None) -> bool:
        """Stop the clock; True when the deadline cancelled the task (its cancellation is undone:
        the caller raises a timeout instead)."""
        if task is None:
            return False
        self._due.pop(task, None)
        if task in self._expired:
            self._expired.discard(task)
            task.uncancel()
            return True
        return False

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        late = [task for task, due in self._due.items() if due <= now]
        for task in late:
            del self._due[task]
            self._expired.add(task)
            task.cancel()
        self._timer = loop.call_later(self._tick, self._sweep, loop) if self._due else None
