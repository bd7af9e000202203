"""/readyz and the NATS connection: reported always, counted only with `?nats=true`."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from nats_helpers import eventually

from tests.support.natsserver import NatsServer
from tests.support.ports import free_port
from tests.support.procs import ServerProcess
from tests.support.trust import Trust


def readyz(proc: ServerProcess, query: str = "") -> httpx.Response:
    return httpx.get(f"{proc.url}/readyz{query}", timeout=10)


async def test_a_nats_outage_is_reported_but_only_counted_on_request(
    nats_factory: Callable[..., NatsServer], account_server: Callable[..., ServerProcess]
) -> None:
    port = free_port()
    proc = account_server(f"nats://127.0.0.1:{port}")  # nothing listens there yet
    resp = readyz(proc)
    assert resp.status_code == 200
    assert resp.text.splitlines() == [
        "ready",
        "store: ok",
        "nats: not connected (not counted; /readyz?nats=true counts it)",
    ]
    counted = readyz(proc, "?nats=true")
    assert counted.status_code == 503 and counted.headers["retry-after"] == "1"
    assert counted.text.splitlines() == ["not ready", "store: ok", "nats: not connected"]
    nats = nats_factory(port=port)
    await eventually(lambda: readyz(proc, "?nats=true").status_code == 200, timeout=15)
    assert readyz(proc, "?nats=true").text.splitlines() == ["ready", "store: ok", "nats: connected"]
    nats.stop()
    await eventually(lambda: readyz(proc, "?nats=true").status_code == 503, timeout=15)
    assert readyz(proc).status_code == 200  # by default an outage keeps the server in rotation


def scrape(proc: ServerProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{proc.url}/metrics", timeout=10).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_follow_the_nats_connection_and_notifications(
    nats_factory: Callable[..., NatsServer], account_server: Callable[..., ServerProcess], trust: Trust
) -> None:
    nats = nats_factory()
    proc = account_server(nats.url, store=trust.dir / "store")
    p = "nats_account_server_"
    await eventually(lambda: scrape(proc).get((p + "nats_connected", ())) == 1, timeout=15)
    for name in ("A", "B"):
        resp = httpx.post(f"{proc.url}/jwt/v1/accounts/{trust.pub(name)}", content=trust.account_jwt(name))
        assert resp.status_code == 200
    got = scrape(proc)
    assert got[(p + "notifications_total", (("kind", "account"), ("result", "sent")))] == 2
    assert got[(p + "nats_reconnects_total", ())] == 0
    nats.restart()
    await eventually(lambda: scrape(proc).get((p + "nats_reconnects_total", ())) == 1, timeout=15)
    assert scrape(proc)[(p + "nats_connected", ())] == 1
