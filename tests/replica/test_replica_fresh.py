"""Replica freshness in-process: a real primary process, our Core + Replica here.

In-process so the one-hour freshness can be shortened and primary contacts can be counted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from replica.helpers import Cluster, FakePrimary, Handler

from nats_account_server import replica as replica_module
from nats_account_server.core.cache import make_entry
from nats_account_server.core.kinds import Kind
from nats_account_server.core.service import Core
from nats_account_server.core.trust import Trust, load_trust
from nats_account_server.replica import Replica
from nats_account_server.stores import MemoryStore, StoreError
from tests.support.ports import free_port

Attach = Callable[..., tuple[Core, Replica]]


@pytest.fixture
async def attach() -> AsyncIterator[Attach]:
    """A core whose source is a replica of the primary at `url` (as the server builds it)."""
    made: list[Replica] = []

    def _attach(
        url: str, cluster: Cluster | None = None, *, store: MemoryStore | None = None, timeout: float = 2.0
    ) -> tuple[Core, Replica]:
        trust = load_trust(str(cluster.trust.operator_jwt_path), "") if cluster else Trust()
        rep = Replica(url, trust, timeout=timeout)
        made.append(rep)
        return Core(store if store is not None else MemoryStore(), trust, source=rep), rep

    yield _attach
    for rep in made:
        await rep.stop()


def count_gets(rep: Replica) -> list[str]:
    """Record every URL the replica asks the primary for."""
    seen: list[str] = []
    real = rep.client.stream

    def stream(method: str, url: Any, **kwargs: Any) -> Any:
        seen.append(str(url))
        return real(method, url, **kwargs)

    rep.client.stream = stream  # type: ignore[method-assign]
    return seen


async def test_refetch_after_freshness_lapses(
    cluster: Cluster, attach: Attach, monkeypatch: pytest.MonkeyPatch
) -> None:
    """132 (second half): a fresh copy is served without asking; once lapsed the update arrives."""
    monkeypatch.setattr(replica_module, "FRESH_FOR", 0.6)
    primary = cluster.primary()
    key = cluster.trust.pub("A")
    first = cluster.post_account(primary, "A", iat=int(time.time()) - 10)
    core, rep = attach(primary.url, cluster)
    gets = count_gets(rep)
    entry = await core.entry(Kind.ACCOUNT, key)
    assert entry is not None and entry.jwt == first and entry.fresh_until > time.monotonic()
    assert core.store.load(key) == first and len(gets) == 1
    second = cluster.post_account(primary, "A")
    for _ in range(5):
        cached = await core.entry(Kind.ACCOUNT, key)
        assert cached is not None and cached.jwt == first  # fresh: no primary contact
    assert len(gets) == 1
    await asyncio.sleep(0.7)
    assert rep.fresh_until(key) == 0
    entry = await core.entry(Kind.ACCOUNT, key)
    assert entry is not None and entry.jwt == second and core.store.load(key) == second
    assert len(gets) == 2 and entry.fresh_until > time.monotonic()
    # unchanged answer after another lapse: the cached entry's freshness is renewed, not lost
    await asyncio.sleep(0.7)
    entry = await core.entry(Kind.ACCOUNT, key)
    assert entry is not None and entry.jwt == second and entry.fresh_until > time.monotonic()
    assert len(gets) == 3
    assert (await core.entry(Kind.ACCOUNT, key)) is entry and len(gets) == 3


async def test_concurrent_gets_share_one_primary_request(cluster: Cluster, attach: Attach) -> None:
    primary = cluster.primary()
    jwt = cluster.post_account(primary, "A")
    core, rep = attach(primary.url, cluster)
    gets = count_gets(rep)
    results = await asyncio.gather(
        *(rep.fetch(Kind.ACCOUNT, cluster.trust.pub("A"), core) for _ in range(20))
    )
    assert results == [jwt] * 20 and len(gets) == 1


async def test_imported_keys_are_not_fresh(cluster: Cluster, attach: Attach) -> None:
    """7.2: the first GET after the import still consults the primary."""
    primary = cluster.primary()
    jwt = cluster.post_account(primary, "A")
    core, rep = attach(primary.url + "/", cluster)
    assert await rep.initial_import(core, 100) == 1
    key = cluster.trust.pub("A")
    assert core.store.load(key) == jwt and rep.fresh_until(key) == 0
    gets = count_gets(rep)
    assert await rep.fetch(Kind.ACCOUNT, key, core) == jwt
    assert gets == [f"{primary.url}/jwt/v1/accounts/{key}"] and rep.fresh_until(key) > 0


async def test_down_primary_costs_one_attempt_then_local_copies(attach: Attach) -> None:
    core, rep = attach(f"http://127.0.0.1:{free_port()}")
    gets = count_gets(rep)
    key = "ACATS5YOVB6ROX2WUNKGNQ2MP3GMXDMKSG2O4N5CLX3A6W4PZGZZIL2R"
    assert await rep.fetch(Kind.ACCOUNT, key, core) is None
    assert await rep.fetch(Kind.ACCOUNT, key, core) is None
    assert len(gets) == 1  # the second request did not wait for the primary again


async def test_progress_is_logged_for_large_packs(
    cluster: Cluster,
    attach: Attach,
    fake_primary: Callable[[Handler], FakePrimary],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(replica_module, "PROGRESS_EVERY", 2)
    names = cluster.add_accounts(5)
    body = "\n".join(f"{cluster.trust.pub(n)}|{cluster.trust.account_jwt(n)}" for n in names)
    fake = fake_primary(lambda path: (200, body.encode(), 0))
    core, rep = attach(fake.url, cluster)
    assert await rep.initial_import(core, 4) == 4  # our own max caps what a generous primary sends
    err = capsys.readouterr().err
    for line in (
        "imported 2 of 4 JWTs from primary",
        "imported 4 of 4 JWTs from primary",
        "initial JWT pack from primary: 4 received, 4 stored",
    ):
        assert line in err
    assert fake.requests == ["/jwt/v1/pack?max=4"]


async def test_primary_refusing_max_is_asked_again_without(
    attach: Attach, fake_primary: Callable[[Handler], FakePrimary]
) -> None:
    fake = fake_primary(
        lambda path: (
            (400, b'bad max parameter "9", no more than 5 are allowed\n', 0)
            if "max=" in path
            else (200, b"", 0)
        )
    )
    core, rep = attach(fake.url)
    assert await rep.initial_import(core, 9) == 0
    assert fake.requests == ["/jwt/v1/pack?max=9", "/jwt/v1/pack"]


# ------------------------------------------------------------------- Cache-Control (7.4)


async def test_cache_control_rules(attach: Attach) -> None:
    core, rep = attach("http://127.0.0.1:1/")
    now = time.time()
    future = make_entry("x", "J", int(now) + 1000)
    future.fresh_until = 0.0  # the primary never vouched for it
    assert rep.cache_control(future) is None  # not fresh: no header at all
    future.fresh_until = time.monotonic() + 100.5
    control = rep.cache_control(future)
    assert control is not None
    max_age, swr, sie = (int(p.split("=")[1]) for p in control.split(", "))
    assert 998 <= max_age <= 1000 and swr == sie == 100
    future.fresh_until = time.monotonic() - 1  # lapsed: no header, never negative values
    assert rep.cache_control(future) is None
    for exp in (0, int(now) - 10):
        entry = make_entry("x", "J", exp)
        expected = "max-age=0, stale-while-revalidate=3600, stale-if-error=3600"
        assert rep.cache_control(entry) == expected
        entry.fresh_until = time.monotonic() + 50
        assert rep.cache_control(entry) == expected


async def test_vouch_and_fresh_until(attach: Attach, monkeypatch: pytest.MonkeyPatch) -> None:
    core, rep = attach("http://127.0.0.1:1")
    assert rep.fresh_until("K") == 0
    rep.vouch("K")
    assert 3599 < rep.fresh_until("K") - time.monotonic() <= 3600
    monkeypatch.setattr(replica_module, "FRESH_FOR", -1.0)
    rep.vouch("K")
    assert rep.fresh_until("K") == 0
    assert rep.base == "http://127.0.0.1:1"


async def test_import_skips_bad_lines_and_failed_saves(
    cluster: Cluster,
    attach: Attach,
    fake_primary: Callable[[Handler], FakePrimary],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """7.2 (NEW): a malformed pack line or an unwritable JWT never aborts the startup import."""
    names = cluster.add_accounts(3)
    good = [f"{cluster.trust.pub(n)}|{cluster.trust.account_jwt(n)}" for n in names]
    body = "\n".join([good[0], "garbage", good[1], "x|y|z", good[2]])
    fake = fake_primary(lambda path: (200, body.encode(), 0))
    broken = cluster.trust.pub(names[1])

    class FlakyStore(MemoryStore):
        def save(self, key: str, jwt: str) -> None:
            if key == broken:
                raise StoreError("disk full")
            super().save(key, jwt)

    core, rep = attach(fake.url, cluster, store=FlakyStore())
    assert await rep.initial_import(core, 100) == 2
    assert core.store.load(cluster.trust.pub(names[0])) and core.store.load(cluster.trust.pub(names[2]))
    err = capsys.readouterr().err
    assert err.count("skipping pack line") == 2 and "error saving JWT from pack - disk full" in err


class HostilePrimary:
    """A primary that answers every GET with headers and then an endless (or trickled) body; it
    counts the bytes it managed to send before the replica hung up."""

    def __init__(self, *, trickle: float = 0.0) -> None:
        import socket
        import threading

        self.sent = 0
        self.trickle = trickle
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.done = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        import socket
        import threading

        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()
            _ = socket

    def _answer(self, conn: Any) -> None:
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            chunk = b"x" * 65536
            while not self.done.is_set():
                if self.trickle:
                    conn.sendall(b"1\r\nx\r\n")
                    self.sent += 1
                    time.sleep(self.trickle)
                else:
                    conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.sent += len(chunk)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.done.set()
        self.sock.close()


@pytest.mark.parametrize("trickle", [0.0, 0.2], ids=["endless", "trickling"])
async def test_a_hostile_primary_costs_a_bounded_answer(
    attach: Attach, trickle: float, capsys: pytest.CaptureFixture[str]
) -> None:
    """Answers from the primary are bounded in bytes (a JWT answer, the startup pack) and in total
    time (`replicationtimeout` for the whole answer, not per read): an endless or trickled answer
    ends as a failed fetch, and the local copy (here: none) is served."""
    from nats_account_server.replica import JWT_LIMIT, pack_limit

    primary = HostilePrimary(trickle=trickle)
    try:
        core, rep = attach(primary.url, timeout=1.0)
        started = time.monotonic()
        assert (
            await rep.fetch(Kind.ACCOUNT, "ACATS5YOVB6ROX2WUNKGNQ2MP3GMXDMKSG2O4N5CLX3A6W4PZGZZIL2R", core)
            is None
        )
        assert time.monotonic() - started < 3
        assert primary.sent < 16 * JWT_LIMIT  # what was read, plus what the socket buffers held
        reason = (
            f"exceeds {JWT_LIMIT} bytes" if not trickle else "no complete answer from the primary within 1 s"
        )
        assert reason in capsys.readouterr().err
        rep._down_until = 0.0  # let the import ask (a fetch error marks the primary down for a while)
        started = time.monotonic()
        assert await rep.initial_import(core, 100) == 0
        assert time.monotonic() - started < 3 and primary.sent < 16 * pack_limit(100)
        assert "unable to initialize from primary" in capsys.readouterr().err
    finally:
        primary.close()
