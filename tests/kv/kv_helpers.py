"""Helpers for the KV tests: our server's config text, HTTP polling, a raw KV client."""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import nats
from nats.aio.client import Client
from nats.js.kv import KeyValue

from tests.support.polling import eventually  # noqa: F401 - shared by this folder's tests
from tests.support.trust import Trust

TIMEOUT = 10.0


def server_config(
    *,
    trust: Trust | None,
    servers: Sequence[str],
    bucket: str,
    replicas: int = 3,
    timeout_ms: int | None = 2000,
    connecttimeout_ms: int = 5000,
    nats_servers: Sequence[str] = (),
    extra: str = "",
) -> str:
    """Our server on a KV store; `nats_servers` adds the notification connection, `timeout_ms` None
    keeps the default write timeout."""
    urls = ", ".join(f'"{u}"' for u in servers)
    lines = ["logging { colors: false, debug: true }", "http { host: 127.0.0.1, port: 0 }"]
    if trust is not None:
        lines.append(f'operatorjwtpath: "{trust.operator_jwt_path}"')
        lines.append(f'systemaccountjwtpath: "{trust.system_account_jwt_path}"')
    lines.append(
        "store {\n  kv {\n"
        f'    bucket: "{bucket}", replicas: {replicas}, servers: [{urls}]\n'
        f"    connecttimeout: {connecttimeout_ms}, reconnectwait: 100"
        + (f", timeout: {timeout_ms}" if timeout_ms is not None else "")
        + "\n  }\n}"
    )
    if nats_servers:
        nurls = ", ".join(f'"{u}"' for u in nats_servers)
        lines.append(f"nats {{ servers: [{nurls}], reconnectwait: 200, connecttimeout: 1000 }}")
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n"


@contextlib.asynccontextmanager
async def kv_client(servers: Sequence[str], bucket: str) -> AsyncIterator[tuple[Client, KeyValue]]:
    """A plain nats-py client on the bucket (which must exist), to read what the servers wrote."""
    nc = await nats.connect(
        list(servers), connect_timeout=2, max_reconnect_attempts=5, reconnect_time_wait=0.2
    )
    try:
        kv = await nc.jetstream(timeout=5).key_value(bucket)
        yield nc, kv
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.close(), 5)


async def kv_contents(kv: KeyValue) -> dict[str, str]:
    """Every live key of the bucket with its value."""
    out: dict[str, str] = {}
    watcher = await kv.watchall(ignore_deletes=True)
    try:
        async for entry in watcher:
            if entry is None:
                break
            out[entry.key] = bytes(entry.value or b"").decode()
    finally:
        await watcher.stop()
    return out


async def post_account(http: httpx.AsyncClient, base: str, pub: str, jwt: str) -> httpx.Response:
    return await http.post(f"{base}/jwt/v1/accounts/{pub}", content=jwt)


async def get_account(http: httpx.AsyncClient, base: str, pub: str) -> httpx.Response:
    return await http.get(f"{base}/jwt/v1/accounts/{pub}")


async def wait_served(
    http: httpx.AsyncClient, base: str, pub: str, jwt: str, timeout: float = TIMEOUT, interval: float = 0.002
) -> float:
    """Poll GET until it returns exactly `jwt`; returns the seconds it took."""
    start = time.monotonic()
    last: Any = None
    while True:
        r = await get_account(http, base, pub)
        if r.status_code == 200 and r.text == jwt:
            return time.monotonic() - start
        last = (r.status_code, r.text[:40])
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{base} did not serve the expected JWT within {timeout}s (last {last})")
        await asyncio.sleep(interval)


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]


def summary(samples: Sequence[float]) -> str:
    ms = [s * 1000 for s in samples]
    return (
        f"n={len(ms)} p50={percentile(ms, 50):.1f}ms p99={percentile(ms, 99):.1f}ms "
        f"max={max(ms):.1f}ms mean={statistics.fmean(ms):.1f}ms"
    )
