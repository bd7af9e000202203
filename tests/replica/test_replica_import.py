"""Replica startup: initial pack import, a primary that is down, odd primary URLs.

Checklist 128, 129, 130, 133, 134.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import httpx
from replica.helpers import Cluster, FakePrimary, Handler

from nats_account_server.jwt import activation_hash
from tests.support.ports import free_port
from tests.support.procs import ServerProcess

GRAB = "grabbing initial JWT pack from primary"
ON_DISK = "will use what is on disk"


def seed_primary(cluster: Cluster, count: int) -> tuple[ServerProcess, dict[str, str]]:
    """A primary with `count` uploaded accounts; returns it and key -> JWT."""
    primary = cluster.primary(store=cluster.store_dir())
    jwts = {}
    for name in cluster.add_accounts(count):
        jwts[cluster.trust.pub(name)] = cluster.post_account(primary, name)
    return primary, jwts


def served(cluster: Cluster, replica: ServerProcess, jwts: dict[str, str]) -> int:
    """How many of `jwts` the replica serves, byte for byte."""
    count = 0
    for key, jwt in jwts.items():
        resp = cluster.account(replica, key)
        if resp.status_code == 200:
            assert resp.text == jwt
            count += 1
        else:
            assert resp.status_code == 404
    return count


def test_replica_serves_all_imported_accounts_after_primary_stops(cluster: Cluster) -> None:
    """128: 100 accounts arrive through the startup pack into a directory store."""
    primary, jwts = seed_primary(cluster, 100)
    store = cluster.store_dir()
    replica = cluster.replica(primary.url, store=store)
    assert replica.wait_for_line(GRAB, 1)
    assert len(list(store.glob("*.jwt"))) == 100
    primary.stop()
    assert served(cluster, replica, jwts) == 100
    # pack of the replica's own store (7.1): everything it imported
    pack = cluster.get(replica, "/jwt/v1/pack?max=1000").text.split("\n")
    assert sorted(pack) == sorted(f"{k}|{v}" for k, v in jwts.items())


def test_max_replication_pack_limits_the_import(cluster: Cluster) -> None:
    """129: `maxreplicationpack: 10` imports exactly 10; 0 imports nothing."""
    primary, jwts = seed_primary(cluster, 25)
    ten = cluster.replica(primary.url, store=cluster.store_dir(), extra="maxreplicationpack: 10")
    zero = cluster.replica(primary.url, store=cluster.store_dir(), extra="maxreplicationpack: 0")
    zero.wait_for_line("skipping initial JWT pack from primary, config has MaxReplicationPack of 0", 1)
    assert not any(GRAB in line for line in zero.stderr_lines)
    primary.stop()
    assert served(cluster, ten, jwts) == 10
    assert served(cluster, zero, jwts) == 0


def test_primary_with_a_lower_cap_still_fills_the_replica(cluster: Cluster) -> None:
    """A primary capping packs below the replica's max answers 400; the replica retries without max."""
    primary = cluster.primary(store=cluster.store_dir(), extra="maxreplicationpack: 5")
    jwts = {cluster.trust.pub(n): cluster.post_account(primary, n) for n in cluster.add_accounts(8)}
    replica = cluster.replica(primary.url, store=cluster.store_dir())
    primary.stop()
    assert served(cluster, replica, jwts) == 5


def test_import_includes_activations(cluster: Cluster) -> None:
    primary = cluster.primary(store=cluster.store_dir())
    jwt = cluster.trust.activation_jwt("A", "B", "private.>")
    cluster.post_activation(primary, jwt)
    key = activation_hash(cluster.trust.pub("A"), cluster.trust.pub("B"), "private.>")
    store = cluster.store_dir()
    replica = cluster.replica(primary.url, store=store)
    primary.stop()
    assert (store / f"{key}.jwt").read_text() == jwt
    resp = cluster.get(replica, f"/jwt/v1/activations/{key}")
    assert resp.status_code == 200 and resp.text == jwt


def test_replica_starts_when_primary_is_down(cluster: Cluster) -> None:
    """130: nothing listens at the primary URL; the replica serves what is on disk."""
    store = cluster.store_dir()
    jwt = cluster.trust.account_jwt("A")
    (store / f"{cluster.trust.pub('A')}.jwt").write_text(jwt)
    replica = cluster.replica(f"http://127.0.0.1:{free_port()}", store=store)
    replica.wait_for_line("unable to initialize from primary, ", 1)
    assert any(ON_DISK in line for line in replica.stderr_lines)
    resp = cluster.account(replica, cluster.trust.pub("A"))
    assert resp.status_code == 200 and resp.text == jwt  # local copy while the primary is down
    assert cluster.account(replica, cluster.trust.pub("B")).status_code == 404
    assert cluster.get(replica, "/healthz").status_code == 200


def test_replica_starts_when_primary_answers_non_200(
    cluster: Cluster, fake_primary: Callable[[Handler], FakePrimary]
) -> None:
    """130: 404 (no such route on the primary) and 503 are logged with the status line, not fatal."""
    primary = cluster.primary()
    replica = cluster.replica(primary.url + "/not-an-account-server")
    replica.wait_for_line('server returned status "404 Not Found", will use what is on disk', 1)
    fake = fake_primary(lambda path: (503, b"maintenance", 0))
    other = cluster.replica(fake.url)
    other.wait_for_line('server returned status "503 Service Unavailable", will use what is on disk', 1)
    assert fake.requests[0] == "/jwt/v1/pack?max=10000"
    assert cluster.account(other, cluster.trust.pub("A")).status_code == 404


def test_replica_starts_when_primary_is_too_slow(
    cluster: Cluster, fake_primary: Callable[[Handler], FakePrimary]
) -> None:
    """`replicationtimeout` bounds the startup import and GETs through the replica."""
    fake = fake_primary(lambda path: (200, b"", 5.0))
    replica = cluster.replica(fake.url, extra="replicationtimeout: 300")
    replica.wait_for_line("unable to initialize from primary, ", 1)
    resp = cluster.account(replica, cluster.trust.pub("A"))
    assert resp.status_code == 404


def test_primary_url_with_or_without_trailing_slash(cluster: Cluster) -> None:
    """133: `http://h:p` and `http://h:p/` (config and -primary flag) both work."""
    primary, jwts = seed_primary(cluster, 3)
    base = primary.url
    with_slash = cluster.replica(base + "/", store=cluster.store_dir())
    flag = cluster.replica(None, "-primary", base + "/", store=cluster.store_dir())
    without = cluster.replica(base, store=cluster.store_dir())
    late = cluster.add_accounts(1, prefix="late")[0]
    late_jwt = cluster.post_account(primary, late)  # only reachable through GET via the primary
    for replica in (with_slash, flag, without):
        assert replica.wait_for_line("starting in replicated mode, with primary at", 1)
        assert served(cluster, replica, jwts) == 3
        assert cluster.account(replica, cluster.trust.pub(late)).text == late_jwt


def test_replica_with_nsc_or_read_only_store_exits_1(cluster: Cluster, tmp_path: Path) -> None:
    """134: both store kinds are refused at startup with exit status 1."""
    nsc = tmp_path / "nsc" / "OP"
    (nsc / "accounts").mkdir(parents=True)
    (nsc / ".nsc").write_text('{"name": "OP", "kind": "operator", "version": "1"}')
    (nsc / "OP.jwt").write_text(cluster.trust.operator_jwt)
    ro = cluster.store_dir()
    url = f"http://127.0.0.1:{free_port()}"
    read_only = "replica mode cannot be used in read-only"
    cases = [
        (cluster.replica(url, "-nsc", str(nsc), ready=False), "replicas cannot be run in NSC mode"),
        (cluster.replica(url, "-dir", str(ro), "-ro", ready=False), read_only),
        (cluster.start(f'primary: "{url}"\nstore {{ dir: "{ro}", readonly: true }}', ready=False), read_only),
    ]
    for proc, message in cases:
        assert proc.wait(10) == 1
        assert any(message in line for line in proc.stderr_lines), proc.describe()


def test_replica_listens_during_its_initial_import(
    cluster: Cluster, fake_primary: Callable[[Handler], FakePrimary]
) -> None:
    """Liveness answers at once; the resolver probe and /readyz answer 503 until the pack is in."""
    release = threading.Event()
    names = cluster.add_accounts(3)
    jwts = {cluster.trust.pub(n): cluster.trust.account_jwt(n) for n in names}
    pack = "\n".join(f"{key}|{jwt}" for key, jwt in jwts.items()).encode()

    def primary(path: str) -> tuple[int, bytes, float]:
        if path.startswith("/jwt/v1/pack"):
            release.wait(30)
            return 200, pack, 0
        jwt = jwts.get(path.rsplit("/", 1)[-1])
        return (200, jwt.encode(), 0) if jwt else (404, b"", 0)

    fake = fake_primary(primary)
    replica = cluster.replica(fake.url, ready=False, extra="replicationtimeout: 30000")
    port = int(replica.wait_for_line("http listening on port ", 10).rsplit(" ", 1)[1])
    base = f"http://127.0.0.1:{port}"
    try:
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert httpx.head(f"{base}/healthz").status_code == 200
        for path in ("/jwt/v1/accounts/", "/jwt/v1/accounts"):
            probe = httpx.get(base + path)
            assert probe.status_code == 503 and probe.text == "replica import in progress\n"
            assert probe.headers["retry-after"] == "1"
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 503
        assert ready.text.splitlines() == [
            "not ready",
            "store: ok",
            "replica import: in progress",
            "nats: not configured",
        ]
        assert httpx.head(f"{base}/readyz").status_code == 503
        assert not replica.find_lines("nats-account-server is running")
        first = next(iter(jwts))  # lookups are served meanwhile (through the primary)
        assert httpx.get(f"{base}/jwt/v1/accounts/{first}").text == jwts[first]
    finally:
        release.set()
    replica.wait_for_line("resolver: URL(", 10)
    assert httpx.get(f"{base}/jwt/v1/accounts/").status_code == 200
    ready = httpx.get(f"{base}/readyz")
    assert ready.status_code == 200
    # the account fetched during the import was stored then: the pack adds the other two
    done = ["ready", "store: ok", "replica import: done, 2 JWTs stored", "nats: not configured"]
    assert ready.text.splitlines() == done
    assert served(cluster, replica, jwts) == 3
