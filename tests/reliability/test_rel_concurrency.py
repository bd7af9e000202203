"""Concurrency: many concurrent POSTs of different versions of the same accounts.

The stored JWT is the newest iat; exactly the successful POSTs were notified on NATS (count and
payloads, each once), and per account the notifications arrive in the order the versions were stored
(a URL-resolver nats-server applies updates as they come, so an older JWT arriving last would win).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import nats
import pytest
from nats.aio.msg import Msg

from nats_account_server.core.notifier import account_subject
from tests.reliability.rel_helpers import iat_of, server_config, start
from tests.support.natsserver import NatsServer
from tests.support.trust import Trust

VERSIONS = 40  # per account
ACCOUNTS = ("A", "B", "C")


async def collect_until(received: list[tuple[str, str]], count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("version", [2, 1], ids=["v2", "v1"])
async def test_concurrent_versions_newest_wins_and_exactly_successes_are_notified(
    tmp_path: Path, nats_factory: Callable[..., NatsServer], version: int
) -> None:
    nats_server = nats_factory()
    trust = Trust(tmp_path / "trust", version=version)
    store = tmp_path / "store"
    proc = start(tmp_path, server_config(trust, store, nats_url=nats_server.url))
    await asyncio.to_thread(proc.wait_for_line, "connected to NATS", 10)

    received: list[tuple[str, str]] = []
    nc = await nats.connect(nats_server.url, connect_timeout=2, allow_reconnect=False)
    try:

        async def on_msg(msg: Msg) -> None:
            received.append((msg.subject, msg.data.decode()))

        await nc.subscribe(account_subject("*"), cb=on_msg)
        await nc.flush()

        now = int(time.time())
        uploads: list[tuple[str, str]] = []
        for name in ACCOUNTS:
            for i in range(VERSIONS):
                uploads.append((trust.pub(name), trust.account_jwt(name, iat=now - 10_000 + i)))
        # roughly oldest first, shuffled within windows: both 200s and 409s (older than stored) occur
        rng = random.Random(7)
        uploads.sort(key=lambda item: iat_of(item[1]))
        windows = [uploads[i : i + 12] for i in range(0, len(uploads), 12)]
        for window in windows:
            rng.shuffle(window)
        uploads = [item for window in windows for item in window]

        limits = httpx.Limits(max_connections=len(uploads), max_keepalive_connections=len(uploads))
        async with httpx.AsyncClient(timeout=20, limits=limits) as client:

            async def post(key: str, jwt: str) -> int:
                resp = await client.post(f"{proc.url}/jwt/v1/accounts/{key}", content=jwt)
                assert resp.status_code in (200, 409), resp.text
                return resp.status_code

            statuses = await asyncio.gather(*(post(key, jwt) for key, jwt in uploads))
            assert statuses.count(409) > 0 and statuses.count(200) > len(ACCOUNTS), statuses
            ok = [
                (account_subject(key), jwt)
                for (key, jwt), status in zip(uploads, statuses, strict=True)
                if status == 200
            ]
            await collect_until(received, len(ok), 10)
            await asyncio.sleep(0.5)  # anything extra (a duplicate) would arrive meanwhile
            await nc.flush()

            for name in ACCOUNTS:
                key = trust.pub(name)
                newest = max((jwt for k, jwt in uploads if k == key), key=iat_of)
                resp = await client.get(f"{proc.url}/jwt/v1/accounts/{key}")
                assert resp.status_code == 200 and resp.text == newest
                assert (store / f"{key}.jwt").read_text() == newest
                # the newest version always succeeds, and it is the last one announced
                assert (account_subject(key), newest) in ok
                last = [jwt for subject, jwt in received if subject == account_subject(key)][-1]
                assert iat_of(last) == iat_of(newest), "an older version was announced after the newest"
                announced = [iat_of(jwt) for subject, jwt in received if subject == account_subject(key)]
                assert announced == sorted(announced), f"{name}: notifications out of order {announced}"
    finally:
        with contextlib.suppress(Exception):
            await nc.close()
        proc.stop()
    assert Counter(received) == Counter(ok), (
        f"{len(ok)} successful POSTs, {len(received)} notifications; "
        f"missing {len(Counter(ok) - Counter(received))}, extra {len(Counter(received) - Counter(ok))}"
    )
    assert max(Counter(received).values()) == 1, "a notification was sent twice"
    print(f"\nconcurrency v{version}: {len(uploads)} POSTs, {len(ok)} x 200, {len(uploads) - len(ok)} x 409")
