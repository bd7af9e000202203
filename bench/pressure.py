"""Hostile-load rows: slow-header connections, a connection storm, pack clients beside GETs.

Each load runs in this (benchmark) process on core 1 with asyncio; the server under test runs on
core 0. Every figure is a latency seen by a well-behaved client while the load is on.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import resource
import time
from dataclasses import dataclass
from typing import Any

from report import percentile


def raise_file_limit() -> int:
    """Lift this process's open-file limit to its hard limit (the loads need thousands)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()


async def one_get(port: int, path: str, timeout: float) -> tuple[float, int]:
    """One GET on a fresh connection: (seconds to the end of the answer, status; 0 = none)."""
    started = time.perf_counter()
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
        writer.write(request(path))
        answer = await asyncio.wait_for(reader.read(), timeout)
        status = int(answer[9:12]) if answer.startswith(b"HTTP/1.1 ") and answer[9:12].isdigit() else 0
    except (OSError, TimeoutError, ValueError):
        status = 0
    finally:
        if writer is not None:
            writer.close()
    return time.perf_counter() - started, status


@dataclass(frozen=True, slots=True)
class Latencies:
    p50_ms: float
    p99_ms: float
    max_ms: float
    answered: int
    failed: int

    @classmethod
    def of(cls, samples: list[tuple[float, int]], ok: int = 200) -> Latencies:
        times = [t * 1e3 for t, status in samples if status == ok]
        return cls(
            percentile(times, 50),
            percentile(times, 99),
            max(times, default=float("nan")),
            len(times),
            len(samples) - len(times),
        )


async def _probe(port: int, path: str, seconds: float, interval: float) -> list[tuple[float, int]]:
    """A normal client: a GET on a fresh connection every `interval` s for `seconds`."""
    samples: list[tuple[float, int]] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        samples.append(await one_get(port, path, 10.0))
        await asyncio.sleep(interval)
    return samples


async def _slow_header(port: int, stop: asyncio.Event, opened: list[int]) -> None:
    """A client that sends its request headers a byte a second, reconnecting whenever it is cut."""
    while not stop.is_set():
        writer = None
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            opened[0] += 1
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            while not stop.is_set():
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
                writer.write(b"a")
        except OSError:
            await asyncio.sleep(0.05)
        finally:
            if writer is not None:
                writer.close()


def _hold(port: int, holders: int, seconds: float, opened: Any) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        counter = [0]
        tasks = [asyncio.create_task(_slow_header(port, stop, counter)) for _ in range(holders)]
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        opened.value = counter[0]

    raise_file_limit()
    asyncio.run(main())


def slow_headers(port: int, path: str, holders: int, seconds: float) -> tuple[Latencies, int]:
    """GET latencies of a normal client while `holders` slow-header connections are held open (by
    another process, so that its work never delays this client's clock); also how many connections
    the holders opened (a holder reconnects when the server cuts it)."""
    opened = multiprocessing.Value("q", 0)
    holder = multiprocessing.Process(target=_hold, args=(port, holders, seconds + 3.0, opened))
    holder.start()
    time.sleep(2.0)  # every holder connected and trickling
    try:
        samples = asyncio.run(_probe(port, path, seconds, 0.05))
    finally:
        holder.join()
    return Latencies.of(samples), int(opened.value)


async def storm(port: int, path: str, clients: int) -> Latencies:
    """`clients` clients connecting at once, one GET each: time from the common start."""
    gate = asyncio.Event()
    started = 0.0

    async def client() -> tuple[float, int]:
        await gate.wait()
        took, status = await one_get(port, path, 30.0)
        return time.perf_counter() - started, status if took >= 0 else 0

    tasks = [asyncio.create_task(client()) for _ in range(clients)]
    await asyncio.sleep(0.2)
    started = time.perf_counter()
    gate.set()
    return Latencies.of(list(await asyncio.gather(*tasks)))


async def beside(port: int, path: str, seconds: float) -> Latencies:
    """GET latencies of a normal client (a fresh connection every 10 ms) while another load runs."""
    return Latencies.of(await _probe(port, path, seconds, 0.01))
