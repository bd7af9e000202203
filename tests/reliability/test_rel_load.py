"""Load held: mixed GET/POST load at a bounded rate over 200 keep-alive connections.

Short by default (a few seconds); ``NAS_LONG=1`` runs it for 60 s. Asserted: every response is a
200 with the right body, the server's RSS stays within RSS_GROWTH_BOUND_MIB of its size after the
warm-up, and the latency p99 is printed (and bounded loosely, so a stall fails the test).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.reliability.rel_helpers import LONG, duration, rss_kib, server_config, start
from tests.support.trust import Trust

CONNECTIONS = 200
RATE = 400.0  # requests per second over all connections
POST_SHARE = 0.05  # the directory store fsyncs every write: uploads are the expensive part
GET_ACCOUNTS = 300
RSS_GROWTH_BOUND_MIB = 32  # RSS may not grow by more than this after the warm-up
P99_BOUND_S = 2.0  # a loose ceiling: this runs next to the load generator on a shared machine


class Connection:
    """A minimal HTTP/1.1 keep-alive client on one socket, so the test really holds N connections."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.opened = 0

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None or self.reader is None or self.reader.at_eof():
            await self.close()
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            self.opened += 1
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n\r\n"
        self.writer.write(head.encode() + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        data = await self.reader.readexactly(length)
        parts = status_line.split()
        if len(parts) < 2:
            raise ConnectionError(f"no status line: {status_line!r}")
        return int(parts[1]), data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None


@dataclass
class Stats:
    get_latency: list[float] = field(default_factory=list)
    post_latency: list[float] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)
    rss: list[tuple[float, int]] = field(default_factory=list)


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 100 else max(values, default=0.0)


@pytest.mark.long
@pytest.mark.timeout(300 if LONG else 120)
def test_mixed_load_on_200_connections(tmp_path: Path) -> None:
    trust = Trust(tmp_path / "trust", accounts=())
    readers = [f"G{i}" for i in range(GET_ACCOUNTS)]
    writers = [f"P{i}" for i in range(CONNECTIONS)]  # one per connection: its uploads never race
    for name in readers + writers:
        trust.add_account(name)
    store = tmp_path / "store"
    proc = start(tmp_path, server_config(trust, store))
    served: dict[str, bytes] = {}
    with httpx.Client(timeout=10) as client:
        for name in readers:
            jwt = trust.account_jwt(name)
            assert (
                client.post(f"{proc.url}/jwt/v1/accounts/{trust.pub(name)}", content=jwt).status_code == 200
            )
            served[trust.pub(name)] = jwt.encode()
    # JWTs are minted before the clock starts: signing must not throttle the load generator
    warmup, run_for = 2.0, duration(5.0, 60.0)
    per_conn = int((warmup + run_for) * RATE / CONNECTIONS * POST_SHARE) + 2
    base_iat = int(time.time()) - 100_000
    uploads = {
        name: [trust.account_jwt(name, iat=base_iat + i).encode() for i in range(per_conn)]
        for name in writers
    }
    stats = Stats()
    pid = proc.pid

    async def worker(index: int, conn: Connection, start_at: float, stop_at: float) -> None:
        rng = random.Random(index)
        interval = CONNECTIONS / RATE
        next_at = start_at + rng.random() * interval
        name = writers[index]
        key = trust.pub(name)
        pending = list(uploads[name])
        while True:
            now = time.monotonic()
            if now >= stop_at:
                return
            if next_at > now:
                await asyncio.sleep(next_at - now)
            next_at += interval
            t0 = time.monotonic()
            if pending and rng.random() < POST_SHARE:
                jwt = pending.pop(0)
                status, body = await conn.request("POST", f"/jwt/v1/accounts/{key}", jwt)
                stats.post_latency.append(time.monotonic() - t0)
                if status != 200:
                    stats.bad.append(f"POST {status} {body[:80]!r}")
            else:
                account = trust.pub(rng.choice(readers))
                status, body = await conn.request("GET", f"/jwt/v1/accounts/{account}")
                stats.get_latency.append(time.monotonic() - t0)
                if status != 200 or body != served[account]:
                    stats.bad.append(f"GET {status} {body[:80]!r}")

    async def sample_rss(stop_at: float) -> None:
        while time.monotonic() < stop_at:
            stats.rss.append((time.monotonic(), rss_kib(pid)))
            await asyncio.sleep(0.25)

    async def run() -> list[Connection]:
        conns = [Connection(proc.port) for _ in range(CONNECTIONS)]
        begin = time.monotonic()
        stop_at = begin + warmup + run_for
        sampler = asyncio.create_task(sample_rss(stop_at))
        await asyncio.gather(*(worker(i, c, begin, stop_at) for i, c in enumerate(conns)))
        await sampler
        for c in conns:
            await c.close()
        return conns

    started = time.monotonic()
    conns = asyncio.run(run())
    elapsed = time.monotonic() - started
    proc.stop()

    assert not stats.bad, f"{len(stats.bad)} error responses, e.g. {stats.bad[:5]}"
    reconnects = sum(c.opened for c in conns) - CONNECTIONS
    assert reconnects == 0, f"the server dropped {reconnects} keep-alive connections under load"
    after_warmup = [kib for t, kib in stats.rss if t >= started + warmup]
    baseline, peak = after_warmup[0], max(after_warmup)
    growth_mib = (peak - baseline) / 1024
    total = len(stats.get_latency) + len(stats.post_latency)
    get_p99, post_p99 = p99(stats.get_latency), p99(stats.post_latency)
    report = (
        f"load: {elapsed:.1f}s, {CONNECTIONS} connections, {total} requests ({total / elapsed:.0f}/s; "
        f"{len(stats.post_latency)} POSTs), GET p50 {statistics.median(stats.get_latency) * 1000:.1f} ms "
        f"p99 {get_p99 * 1000:.1f} ms, POST p99 {post_p99 * 1000:.1f} ms, RSS {baseline / 1024:.1f} MiB -> "
        f"peak {peak / 1024:.1f} MiB (growth {growth_mib:.1f} MiB, bound {RSS_GROWTH_BOUND_MIB} MiB)"
    )
    print("\n" + report)
    assert total >= RATE * (warmup + run_for) * 0.7, f"the load generator fell behind: {report}"
    assert growth_mib <= RSS_GROWTH_BOUND_MIB, report
    assert get_p99 <= P99_BOUND_S and post_p99 <= P99_BOUND_S, report
