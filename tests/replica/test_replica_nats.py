"""Replica refresh over NATS.

Primary and replica both connect to a real nats-server (operator mode) as a system-account user.
A JWT the replica holds as *fresh* can only change through the primary's notification, so seeing
the update within 3 s proves the NATS path.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
from replica.helpers import Cluster

from nats_account_server.jwt import activation_hash, peek_claims
from tests.support.natsserver import NatsServer
from tests.support.procs import ServerProcess

NatsFactory = Callable[..., NatsServer]
CONNECTED = "connected to NATS for account and activation notifications"


def nats_block(nats: NatsServer, creds: Path) -> str:
    return f'nats {{ servers: ["{nats.url}"], usercredentials: "{creds}", reconnectwait: 200 }}'


def jti_of(jwt: str) -> str:
    return peek_claims(jwt).jti


def wait_for(fetch: Callable[[], httpx.Response], expected: str, timeout: float) -> float:
    """Seconds until `fetch` answers 200 with `expected` (AssertionError after `timeout`)."""
    start = time.monotonic()
    last = ""
    while time.monotonic() - start < timeout:
        resp = fetch()
        last = f"{resp.status_code} {resp.text[:40]}"
        if resp.status_code == 200 and resp.text == expected:
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"not served within {timeout}s (last answer: {last})")


def start_pair(cluster: Cluster, nats_factory: NatsFactory) -> tuple[ServerProcess, ServerProcess]:
    nats = nats_factory(cluster.trust.nats_config(preload=["SYS"]))
    block = nats_block(nats, cluster.trust.creds("sys"))
    primary = cluster.primary(extra=block)
    replica = cluster.replica(primary.url, store=cluster.store_dir(), extra=block)
    for proc in (primary, replica):
        proc.wait_for_line(CONNECTED, 10)
    return primary, replica


def test_fresh_account_is_updated_by_notification(cluster: Cluster, nats_factory: NatsFactory) -> None:
    primary, replica = start_pair(cluster, nats_factory)
    key = cluster.trust.pub("A")
    first = cluster.post_account(primary, "A", iat=int(time.time()) - 10)
    assert cluster.account(replica, key).text == first  # fetched: fresh for an hour
    assert cluster.account(replica, key).text == first
    second = cluster.post_account(primary, "A", limits={"conn": 3})
    assert wait_for(lambda: cluster.account(replica, key), second, 3.0) < 3.0
    assert replica.find_lines(
        f"[INF] account {key[:12]} updated: jti {jti_of(second)} (was {jti_of(first)}), "
    )
    # the notification made it fresh and local: it survives the primary
    primary.stop()
    assert cluster.account(replica, key).text == second


def test_notification_for_an_unseen_account_is_stored(cluster: Cluster, nats_factory: NatsFactory) -> None:
    primary, replica = start_pair(cluster, nats_factory)
    key = cluster.trust.pub("B")
    jwt = cluster.post_account(primary, "B")
    replica.wait_for_line(f"[INF] account {key[:12]} updated: jti {jti_of(jwt)} (new), ", 3)
    primary.stop()
    resp = cluster.account(replica, key)
    assert resp.status_code == 200 and resp.text == jwt
    assert "stale-while-revalidate=3600" in resp.headers["cache-control"]


def test_fresh_activation_is_updated_by_notification(cluster: Cluster, nats_factory: NatsFactory) -> None:
    primary, replica = start_pair(cluster, nats_factory)
    key = activation_hash(cluster.trust.pub("A"), cluster.trust.pub("B"), "feed.>")
    first = cluster.trust.activation_jwt("A", "B", "feed.>", iat=int(time.time()) - 10)
    cluster.post_activation(primary, first)
    path = f"/jwt/v1/activations/{key}"
    assert cluster.get(replica, path).text == first
    second = cluster.trust.activation_jwt("A", "B", "feed.>")
    cluster.post_activation(primary, second)
    assert wait_for(lambda: cluster.get(replica, path), second, 3.0) < 3.0
