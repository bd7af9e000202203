"""A GET of an unknown account on a KV instance with `nats` configured: its siblings on the bucket
answer its lookups empty, and the miss ends once they all have, not at the lookup timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
from kv_cluster import JSCluster
from kv_helpers import summary

from tests.support.procs import ServerProcess
from tests.support.trust import Trust

TIMEOUT_MS = 5000  # the lookup timeout: a miss that waited for it would take 5 s


async def test_misses_of_kv_siblings_end_when_every_sibling_answered(
    kv_server: Callable[..., ServerProcess], http: httpx.AsyncClient, trust: Trust, cluster: JSCluster
) -> None:
    extra = f"signrequesttimeout: {TIMEOUT_MS}"
    instances = [
        kv_server(name, nats_servers=[cluster.urls[i]], extra=extra) for i, name in enumerate(("a", "b", "c"))
    ]
    ours = instances[-1]  # started last: its probe at connect hears both siblings
    await asyncio.to_thread(ours.wait_for_line, "account lookups are answered by 2 resolvers", 15)
    unknown = [trust.add_account(f"X{i}").pub for i in range(20)]
    one: list[float] = []
    for key in unknown:
        started = time.monotonic()
        r = await http.get(f"{ours.url}/jwt/v1/accounts/{key}")
        one.append(time.monotonic() - started)
        assert r.status_code == 404
    started = time.monotonic()
    answers = await asyncio.gather(*(http.get(f"{ours.url}/jwt/v1/accounts/{k}") for k in unknown))
    parallel = time.monotonic() - started
    assert all(r.status_code == 404 for r in answers)
    print(
        f"\nGET miss, KV store with 2 sibling instances: {summary(one)};"
        f" 20 in parallel {parallel * 1000:.1f} ms"
    )
    assert max(one) < TIMEOUT_MS / 1000 / 2 and parallel < TIMEOUT_MS / 1000 / 2
