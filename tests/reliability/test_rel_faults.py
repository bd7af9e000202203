"""Faults survived: a read-only or full store, corrupt store files, a NATS outage and a
primary outage under a replica. Real processes on 127.0.0.1, bounded waits throughout.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import nats
import pytest
from nats.aio.msg import Msg

from nats_account_server.core.notifier import account_subject
from nats_account_server.log import short_key
from tests.reliability.rel_helpers import (
    iat_of,
    other_files,
    remount,
    server_config,
    start,
    tmpfs,
)
from tests.support.natsserver import NatsServer
from tests.support.ports import free_port
from tests.support.procs import ServerProcess
from tests.support.trust import Trust

TIMEOUT = 10.0


def post(
    client: httpx.Client, proc: ServerProcess, trust: Trust, name: str, jwt: str | None = None
) -> httpx.Response:
    jwt = jwt or trust.account_jwt(name)
    return client.post(f"{proc.url}/jwt/v1/accounts/{trust.pub(name)}", content=jwt)


def get(client: httpx.Client, proc: ServerProcess, key: str, query: str = "") -> httpx.Response:
    return client.get(f"{proc.url}/jwt/v1/accounts/{key}{query}")


# ------------------------------------------------------------------ read-only and full stores


class StoreFault:
    """Makes a store directory unwritable in the strongest way this machine allows. Tests run as root,
    where chmod stops nothing: a tiny tmpfs (remounted read-only, or filled up) is used when mounting
    is permitted, else (read-only only) the immutable attribute; otherwise the test is skipped."""

    CAUSES = {"tmpfs-ro": "read-only file system", "tmpfs-full": "no space left on device",
              "chattr": "operation not permitted"}  # fmt: skip

    def __init__(self, base: Path, fault: str) -> None:
        self.base = base
        self.fault = fault
        self.mode = ""
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> StoreFault:
        mount = self.base / "mnt"
        if self._stack.enter_context(tmpfs(mount, "64k")):
            self.mode = "tmpfs-ro" if self.fault == "read-only" else "tmpfs-full"
            self.store = mount / "store"
        elif self.fault == "read-only" and shutil.which("chattr"):
            self.mode = "chattr"
            self.store = self.base / "store"
        else:
            self._stack.close()
            pytest.skip(
                f"no way to make the store {self.fault} here (no tmpfs mount); chmod does not stop root"
            )
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.heal()
        self._stack.close()

    @property
    def cause(self) -> str:
        return self.CAUSES[self.mode]

    def inject(self) -> None:
        if self.mode == "tmpfs-ro":
            remount(self.store.parent, "ro")
        elif self.mode == "tmpfs-full":
            with contextlib.suppress(OSError), open(self.store.parent / "filler", "wb") as f:
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
        else:
            done = subprocess.run(["chattr", "+i", str(self.store)], capture_output=True, timeout=10)
            if done.returncode != 0:
                pytest.skip(f"chattr +i is not supported here: {done.stderr.decode().strip()}")

    def heal(self) -> None:
        if self.mode == "tmpfs-ro":
            remount(self.store.parent, "rw")
        elif self.mode == "tmpfs-full":
            (self.store.parent / "filler").unlink(missing_ok=True)
        elif self.mode == "chattr":
            subprocess.run(["chattr", "-i", str(self.store)], capture_output=True, timeout=10)


@pytest.mark.parametrize("fault", ["read-only", "full"])
def test_unwritable_store_answers_500_and_keeps_serving(tmp_path: Path, fault: str) -> None:
    with StoreFault(tmp_path, fault) as injector:
        trust = Trust(tmp_path / "trust")
        store = injector.store
        proc = start(tmp_path, server_config(trust, store))
        with httpx.Client(timeout=TIMEOUT) as client:
            earlier = {name: trust.account_jwt(name) for name in ("A", "B")}
            for name, jwt in earlier.items():
                assert post(client, proc, trust, name, jwt).status_code == 200
            injector.inject()
            since = proc.mark()
            newer_a = trust.account_jwt("A", iat=int(time.time()) + 5)
            for name, jwt in (("A", newer_a), ("C", trust.account_jwt("C"))):
                resp = post(client, proc, trust, name, jwt)
                assert resp.status_code == 500 and resp.text == "error saving JWT\n", resp.text
            deadline = time.monotonic() + 5  # the log reaches us through a pipe: wait for it
            while len(errors := proc.find_lines("error saving JWT", since=since)) < 2:
                assert time.monotonic() < deadline, errors
                time.sleep(0.05)
            assert len(errors) == 2, errors
            assert all(injector.cause in line for line in errors), errors  # the log says why
            for name, jwt in earlier.items():  # earlier JWTs are still served, unchanged
                resp = get(client, proc, trust.pub(name))
                assert resp.status_code == 200 and resp.text == jwt
            assert get(client, proc, trust.pub("C")).status_code == 404
            assert not other_files(store), "a failed write left a temp file behind"
            assert client.get(f"{proc.url}/healthz").status_code == 200
            injector.heal()
            # the fault is gone: writes work again without a restart
            assert post(client, proc, trust, "A", newer_a).status_code == 200
            assert get(client, proc, trust.pub("A")).text == newer_a
        proc.stop()


@pytest.mark.parametrize("fault", ["read-only", "full"])
def test_fault_injection_really_stops_root(tmp_path: Path, fault: str) -> None:
    """Guards the premise of the test above: the injected fault refuses even root's writes."""
    with StoreFault(tmp_path, fault) as injector:
        injector.store.mkdir(parents=True, exist_ok=True)
        (injector.store / "before").write_bytes(b"x" * 100)
        injector.inject()
        with pytest.raises(OSError):
            (injector.store / "x").write_bytes(b"x" * 8192)
        injector.heal()
        (injector.store / "after").write_bytes(b"x")


# ---------------------------------------------------------------------------- corrupt files


def replace_with_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


CORRUPTIONS: dict[str, Callable[[Path], object]] = {
    "garbage-bytes": lambda p: p.write_bytes(b"this is not a JWT at all"),
    "truncated-jwt": lambda p: p.write_bytes(p.read_bytes()[:100]),
    "invalid-utf8": lambda p: p.write_bytes(b"\xff\xfe\xfa" + p.read_bytes()[3:]),
    "directory": lambda p: replace_with_directory(p),
    "forged-signature": lambda p: p.write_bytes(p.read_bytes()[:-4] + b"AAAA"),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_corrupt_store_file_is_a_500_for_that_account_only(tmp_path: Path, corruption: str) -> None:
    trust = Trust(tmp_path / "trust")
    store = tmp_path / "store"
    proc = start(tmp_path, server_config(trust, store))
    with httpx.Client(timeout=TIMEOUT) as client:
        jwts = {name: trust.account_jwt(name) for name in ("A", "B", "C")}
        for name, jwt in jwts.items():
            assert post(client, proc, trust, name, jwt).status_code == 200
        bad = trust.pub("B")
        CORRUPTIONS[corruption](store / f"{bad}.jwt")
        since = proc.mark()
        for _ in range(3):
            resp = get(client, proc, bad)
            assert resp.status_code == 500 and resp.text == "error loading JWT\n", (
                resp.status_code,
                resp.text,
            )
            proc.wait_for_line(short_key(bad), TIMEOUT, since=since)
            time.sleep(0.2)  # a second line (a duplicate) would show up meanwhile
            lines = [line for line in proc.find_lines(short_key(bad), since=since) if "[ERR]" in line]
            assert len(lines) == 1, f"want the broken file logged once, got {lines}"
            for name in ("A", "C"):  # every other account is unaffected
                other = get(client, proc, trust.pub(name))
                assert other.status_code == 200 and other.text == jwts[name]
        # the decoded view is a debugging aid that does not verify signatures
        decoded = get(client, proc, bad, "?decode=true")
        assert decoded.status_code == (200 if corruption == "forged-signature" else 500)
        assert client.get(f"{proc.url}/jwt/v1/pack").status_code == 200
        # a new upload repairs the account (a directory in the way cannot be replaced: 500, logged)
        fresh = trust.account_jwt("B", iat=int(time.time()) + 5)
        resp = post(client, proc, trust, "B", fresh)
        if corruption == "directory":
            assert resp.status_code == 500 and resp.text == "error saving JWT\n"
            assert get(client, proc, bad).status_code == 500
        else:
            assert resp.status_code == 200, resp.text
            assert get(client, proc, bad).text == fresh
    assert "Traceback" not in proc.stderr_text()
    proc.stop()


# ---------------------------------------------------------------------------- NATS outage


async def poster(
    proc: ServerProcess,
    trust: Trust,
    names: list[str],
    results: list[tuple[float, int, str, str]],
    stop: asyncio.Event,
) -> None:
    """POST a new version of one of ``names`` every 20 ms; record (time, status, subject, jwt)."""
    iat = int(time.time()) - 50_000
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        i = 0
        while not stop.is_set():
            name = names[i % len(names)]
            i += 1
            iat += 1
            jwt = trust.account_jwt(name, iat=iat)
            started = time.monotonic()
            resp = await client.post(f"{proc.url}/jwt/v1/accounts/{trust.pub(name)}", content=jwt)
            results.append((started, resp.status_code, account_subject(trust.pub(name)), jwt))
            await asyncio.sleep(0.02)


async def test_nats_restart_while_posting(tmp_path: Path, nats_factory: Callable[..., NatsServer]) -> None:
    nats_server = nats_factory()
    trust = Trust(tmp_path / "trust")
    names = ["A", "B", "C"]
    store = tmp_path / "store"
    proc = start(tmp_path, server_config(trust, store, nats_url=nats_server.url))
    await asyncio.to_thread(proc.wait_for_line, "connected to NATS", TIMEOUT)

    received: list[tuple[str, str]] = []
    reconnected = asyncio.Event()

    async def on_msg(msg: Msg) -> None:
        received.append((msg.subject, msg.data.decode()))

    async def on_reconnect() -> None:
        reconnected.set()

    nc = await nats.connect(
        nats_server.url,
        connect_timeout=2,
        reconnect_time_wait=0.1,
        max_reconnect_attempts=200,
        reconnected_cb=on_reconnect,
    )
    results: list[tuple[float, int, str, str]] = []
    stop = asyncio.Event()
    try:
        await nc.subscribe(account_subject("*"), cb=on_msg)
        await nc.flush()
        task = asyncio.create_task(poster(proc, trust, names, results, stop))
        await asyncio.sleep(1.0)
        before_outage = len(results)
        mark = proc.mark()
        await asyncio.to_thread(nats_server.stop, 5)
        await asyncio.to_thread(proc.wait_for_line, "nats disconnected", TIMEOUT, since=mark)
        await asyncio.sleep(1.0)  # POSTs continue with NATS down
        during_outage = len(results) - before_outage
        await asyncio.to_thread(nats_server.start_ready, TIMEOUT)
        await asyncio.to_thread(proc.wait_for_line, "nats reconnected", TIMEOUT, since=mark)
        await asyncio.wait_for(reconnected.wait(), TIMEOUT)
        await nc.flush()
        resumed_at = time.monotonic()
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.wait_for(task, TIMEOUT)
        expected_after = [(s, j) for t, status, s, j in results if t > resumed_at]
        deadline = time.monotonic() + TIMEOUT
        while not set(expected_after) <= set(received) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await nc.close()
    statuses = Counter(status for _, status, _, _ in results)
    assert set(statuses) == {200}, f"HTTP failed during the NATS outage: {statuses}"
    assert during_outage >= 10, "too few POSTs during the outage to mean anything"
    ok = {(s, j) for _, _, s, j in results}
    counts = Counter(received)
    assert max(counts.values()) == 1, "a notification was sent twice"
    assert set(counts) <= ok, "a notification was sent for something never POSTed successfully"
    missing_after = [j for s, j in expected_after if (s, j) not in counts]
    assert not missing_after, f"{len(missing_after)} POSTs after the reconnect were not notified"
    assert len(expected_after) >= 10
    with httpx.Client(timeout=TIMEOUT) as client:  # every upload is stored: the newest one is served
        for name in names:
            newest = max((j for _, _, s, j in results if s == account_subject(trust.pub(name))), key=iat_of)
            assert get(client, proc, trust.pub(name)).text == newest
    proc.stop()
    print(
        f"\nNATS outage: {len(results)} POSTs (all 200), {during_outage} during the outage, "
        f"{len(received)} notifications received, {len(expected_after)} after reconnect all delivered"
    )


# ------------------------------------------------------------------------ primary outage


def test_primary_stopped_and_restarted_under_a_replica(
    tmp_path: Path, nats_factory: Callable[..., NatsServer]
) -> None:
    nats_server = nats_factory()
    trust = Trust(tmp_path / "trust")
    port = free_port()
    (tmp_path / "p").mkdir()
    (tmp_path / "r").mkdir()
    primary_conf = server_config(trust, tmp_path / "p" / "store", port=port, nats_url=nats_server.url)
    primary = start(tmp_path / "p", primary_conf)
    primary_url = f"http://127.0.0.1:{port}"
    with httpx.Client(timeout=TIMEOUT) as client:
        v1 = {name: trust.account_jwt(name, iat=int(time.time()) - 100) for name in ("A", "B")}
        for name, jwt in v1.items():
            assert post(client, primary, trust, name, jwt).status_code == 200
        replica = start(
            tmp_path / "r",
            server_config(trust, tmp_path / "r" / "store", primary=primary_url, nats_url=nats_server.url),
        )
        replica.wait_for_line("connected to NATS", TIMEOUT)
        assert get(client, replica, trust.pub("A")).text == v1["A"]  # fetched: fresh

        primary.stop()
        # the replica keeps serving: fresh (A) and imported-but-not-fresh (B) accounts alike
        for _ in range(3):
            for name in ("A", "B"):
                started = time.monotonic()
                resp = get(client, replica, trust.pub(name))
                assert resp.status_code == 200 and resp.text == v1[name], (name, resp.status_code)
                assert time.monotonic() - started < 6
        assert get(client, replica, trust.pub("C")).status_code == 404  # unknown: not found, quickly
        assert client.get(f"{replica.url}/healthz").status_code == 200

        primary = start(tmp_path / "p", primary_conf)
        primary.wait_for_line("connected to NATS", TIMEOUT)
        v2 = {name: trust.account_jwt(name) for name in ("A", "B", "C")}
        for name, jwt in v2.items():
            assert post(client, primary, trust, name, jwt).status_code == 200
        # the replica catches up: NATS notifications (and, for C, the primary itself)
        deadline = time.monotonic() + 15
        served: dict[str, str] = {}
        while time.monotonic() < deadline:
            served = {name: get(client, replica, trust.pub(name)).text for name in v2}
            if served == v2:
                break
            time.sleep(0.2)
        assert served == v2, "the replica did not catch up with the restarted primary"
        for name, jwt in v2.items():
            assert (tmp_path / "r" / "store" / f"{trust.pub(name)}.jwt").read_text() == jwt
    replica.stop()
    primary.stop()
