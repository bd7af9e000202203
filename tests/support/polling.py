"""Bounded polling for async tests: one helper for every 'wait until this holds'."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

TIMEOUT = 10.0


async def eventually(check: Callable[[], Any], timeout: float = TIMEOUT, interval: float = 0.1) -> Any:
    """Poll an (async or sync) check until it returns a truthy value; that value is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        await asyncio.sleep(interval)
