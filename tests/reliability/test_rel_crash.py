"""Crash safety: kill -9 in the middle of a storm of concurrent POSTs.

After every kill the store may only hold complete JWTs that were really POSTed; a restarted server
serves, for every account that got a 200, that JWT byte for byte or a newer accepted version of it;
temp files a kill may leave behind are never served (not by GET, not in the pack).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from nats_account_server.stores.directory import key_from_filename
from tests.reliability.rel_helpers import (
    LONG,
    duration,
    iat_of,
    jwt_files,
    other_files,
    server_config,
    start,
)
from tests.support.procs import ServerProcess
from tests.support.trust import Trust

CONCURRENCY = 50
ACCOUNTS = 40
MIN_ACKED = 50  # acknowledged uploads the kills must fall among


@dataclass
class Ledger:
    """What the clients know: every JWT they sent, and the ones the server acknowledged with 200."""

    posted: dict[str, set[str]] = field(default_factory=dict)
    acked: dict[str, list[str]] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0

    def newest_acked(self, key: str) -> str | None:
        jwts = self.acked.get(key)
        return max(jwts, key=iat_of) if jwts else None


async def storm(
    proc: ServerProcess,
    trust: Trust,
    names: list[str],
    ledger: Ledger,
    kill_after: float,
    iats: itertools.count[int],
) -> None:
    """CONCURRENCY workers POST new versions of random accounts until the server is killed."""
    killed = asyncio.Event()
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)

    async def worker(client: httpx.AsyncClient, rng: random.Random) -> None:
        while not killed.is_set():
            name = rng.choice(names)
            key = trust.pub(name)
            # unique, increasing iat: workers race, so some uploads lose (409) to newer ones
            jwt = trust.account_jwt(name, iat=next(iats))
            ledger.posted.setdefault(key, set()).add(jwt)
            try:
                resp = await client.post(f"{proc.url}/jwt/v1/accounts/{key}", content=jwt)
            except httpx.HTTPError:
                ledger.errors += 1
                await asyncio.sleep(0.01)
                continue
            ledger.statuses[resp.status_code] = ledger.statuses.get(resp.status_code, 0) + 1
            if resp.status_code == 200:
                ledger.acked.setdefault(key, []).append(jwt)
            else:
                assert resp.status_code == 409, (resp.status_code, resp.text)

    async with httpx.AsyncClient(timeout=10, limits=limits) as client:
        tasks = [asyncio.create_task(worker(client, random.Random(i))) for i in range(CONCURRENCY)]
        await asyncio.sleep(kill_after)
        deadline = time.monotonic() + 20  # a busy host: the storm must be big enough to mean anything
        while ledger.statuses.get(200, 0) <= MIN_ACKED and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.to_thread(proc.kill)  # SIGKILL: no shutdown code runs
        killed.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)


def check_store_files(store: Path, ledger: Ledger) -> None:
    """Every *.jwt file is a complete JWT that a client POSTed for exactly that key."""
    for name, content in jwt_files(store).items():
        key = key_from_filename(name)
        assert key is not None, f"unexpected store file {name}"
        text = content.decode("utf-8")  # not truncated mid-character either
        assert text in ledger.posted.get(key, set()), f"{name} holds {len(content)} bytes nobody POSTed"


def plant_interrupted_writes(store: Path, trust: Trust, names: list[str], round_no: int) -> list[str]:
    """What a kill between create and rename leaves: half-written temp files (for a stored key and a
    key that has no JWT yet). The temp names are the directory store's own pattern."""
    made = []
    for name in (names[0], names[-1]):
        key = trust.pub(name)
        jwt = trust.account_jwt(name, iat=int(time.time()) + 10_000)
        made.append(f".{key}.jwt.{round_no:016x}.tmp")
        (store / made[-1]).write_text(jwt[: len(jwt) // 2])
    fresh = trust.add_account(f"NEVER{round_no}")
    made.append(f".{fresh.pub}.jwt.{round_no:016x}.tmp")
    (store / made[-1]).write_text("eyJ0eXAiOiJKV1Qi")
    return made


def check_served(proc: ServerProcess, store: Path, ledger: Ledger) -> int:
    """Every acknowledged account is served: its newest 200 JWT, or a newer POSTed version."""
    served = 0
    with httpx.Client(timeout=10) as client:
        for key in ledger.acked:
            newest = ledger.newest_acked(key)
            assert newest is not None
            resp = client.get(f"{proc.url}/jwt/v1/accounts/{key}")
            assert resp.status_code == 200, (key, resp.status_code, resp.text)
            assert resp.text in ledger.posted[key], f"{key}: served JWT was never POSTed"
            assert resp.text == newest or iat_of(resp.text) > iat_of(newest), (
                f"{key}: an acknowledged JWT was lost (served iat {iat_of(resp.text)} < {iat_of(newest)})"
            )
            assert (store / f"{key}.jwt").read_text() == resp.text
            served += 1
        # leftovers of interrupted writes are invisible: not a key, not in the pack
        pack = client.get(f"{proc.url}/jwt/v1/pack")
        assert pack.status_code == 200
        pack_keys = [line.split("|", 1)[0] for line in pack.text.splitlines() if line]
        assert sorted(pack_keys) == sorted(key_from_filename(n) for n in jwt_files(store))
        for leftover in other_files(store):
            partial = (store / leftover).read_text()
            assert partial not in {line.split("|", 1)[-1] for line in pack.text.splitlines()}
            for candidate in (leftover, leftover.split(".")[1]):
                resp = client.get(f"{proc.url}/jwt/v1/accounts/{candidate}")
                assert resp.text != partial, f"temp file {leftover} was served"
                if candidate not in ledger.acked:
                    assert resp.status_code == 404, (leftover, resp.status_code)
    return served


@pytest.mark.long
@pytest.mark.timeout(600 if LONG else 120)
def test_kill_9_during_a_post_storm_loses_nothing_acknowledged(tmp_path: Path) -> None:
    trust = Trust(tmp_path / "trust", version=2, accounts=())
    names = [f"S{i}" for i in range(ACCOUNTS)]
    for name in names:
        trust.add_account(name)
    store = tmp_path / "store"
    config = server_config(trust, store)
    ledger = Ledger()
    iats = itertools.count(int(time.time()) - 100_000)
    rounds = 6 if LONG else 2
    leftovers: list[str] = []
    planted: list[str] = []
    for round_no in range(rounds):
        proc = start(tmp_path, config)
        if round_no:
            check_served(proc, store, ledger)  # what the previous kill left is intact before new writes
        storm_for = duration(1.5, 8.0) * (0.5 + random.random())
        asyncio.run(storm(proc, trust, names, ledger, storm_for, iats))
        check_store_files(store, ledger)
        leftovers += [n for n in other_files(store) if n not in leftovers and n not in planted]
        planted += plant_interrupted_writes(store, trust, names, round_no)
    proc = start(tmp_path, config)
    try:
        served = check_served(proc, store, ledger)
    finally:
        proc.stop()
    ok = ledger.statuses.get(200, 0)
    assert ok > MIN_ACKED, f"the storm was too small to mean anything: {ledger.statuses}"
    print(
        f"\ncrash storm: {rounds} kills, statuses {ledger.statuses}, {ledger.errors} connection errors, "
        f"{served} accounts verified, temp files left by kills: {len(leftovers)}"
    )
