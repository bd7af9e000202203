"""GET through a replica: fetch, store, fall back, validate, Cache-Control.

Checklist 131, 135, 136 (132 is in test_replica_nats.py and test_replica_fresh.py).
"""

from __future__ import annotations

import time

from replica.helpers import Cluster

from nats_account_server.jwt import activation_hash

STALE_3600 = "stale-while-revalidate=3600, stale-if-error=3600"


def test_get_fetches_stores_and_survives_primary_stop(cluster: Cluster) -> None:
    """131: the first GET reaches the primary, the answer lands in the replica's store."""
    primary = cluster.primary()
    store = cluster.store_dir()
    replica = cluster.replica(primary.url, store=store)
    key = cluster.trust.pub("A")
    assert cluster.account(replica, key).status_code == 404  # the primary has nothing yet
    jwt = cluster.post_account(primary, "A")  # after the replica's import: only reachable via GET
    resp = cluster.account(replica, key)
    assert resp.status_code == 200 and resp.text == jwt
    assert resp.headers["content-type"] == "application/jwt"
    assert resp.headers["etag"] == f'"{_jti(jwt)}"'
    assert (store / f"{key}.jwt").read_text() == jwt
    primary.stop()
    for _ in range(3):
        again = cluster.account(replica, key)
        assert again.status_code == 200 and again.text == jwt
    assert cluster.get(replica, f"/jwt/v1/accounts/{key}?text=true").text == jwt
    assert cluster.account(replica, cluster.trust.pub("B")).status_code == 404


def test_replica_serves_the_newer_jwt_once_not_fresh(cluster: Cluster) -> None:
    """A local copy that is not fresh (imported) is re-checked with the primary on GET."""
    primary = cluster.primary()
    old = cluster.post_account(primary, "A", iat=int(time.time()) - 60)
    replica = cluster.replica(primary.url, store=cluster.store_dir())
    new = cluster.post_account(primary, "A", limits={"conn": 7})
    assert old != new
    assert cluster.account(replica, cluster.trust.pub("A")).text == new


def test_replica_rejects_post(cluster: Cluster) -> None:
    """135: no POST routes on a replica: 405 for accounts, 404 for activations."""
    primary = cluster.primary()
    replica = cluster.replica(primary.url, store=cluster.store_dir())
    key = cluster.trust.pub("A")
    resp = cluster.client.post(f"{replica.url}/jwt/v1/accounts/{key}", content=cluster.trust.account_jwt("A"))
    assert resp.status_code == 405 and resp.headers["allow"] == "GET, OPTIONS"
    assert resp.text == (  # names the primary to push to
        f"POST not allowed: this server is a replica (-primary) and takes no uploads;"
        f" push to the primary {primary.url}\n"
    )
    act = cluster.trust.activation_jwt("A", "B", "s.>")
    assert cluster.client.post(f"{replica.url}/jwt/v1/activations", content=act).status_code == 404
    assert cluster.account(primary, key).status_code == 404  # nothing was forwarded


def test_activations_replicate_the_same_way(cluster: Cluster) -> None:
    """136: activation GET through the replica fetches, stores, and survives the primary."""
    primary = cluster.primary()
    store = cluster.store_dir()
    replica = cluster.replica(primary.url, store=store)
    jwt = cluster.trust.activation_jwt("A", "B", "orders.*", kind="service")
    key = activation_hash(cluster.trust.pub("A"), cluster.trust.pub("B"), "orders.*")
    path = f"/jwt/v1/activations/{key}"
    missing = cluster.get(replica, path)
    assert missing.status_code == 404 and missing.text == "No Matching JWT\n"
    cluster.post_activation(primary, jwt)
    resp = cluster.get(replica, path)
    assert resp.status_code == 200 and resp.text == jwt
    assert resp.headers["etag"] == f'"{_jti(jwt)}"' and STALE_3600 in resp.headers["cache-control"]
    assert (store / f"{key}.jwt").read_text() == jwt
    primary.stop()
    assert cluster.get(replica, path).text == jwt
    decoded = cluster.get(replica, f"{path}?decode=true")
    assert decoded.status_code == 200 and '"subject": "orders.*"' in decoded.text


def test_cache_control_on_a_replica(cluster: Cluster) -> None:
    """7.4: with a future exp the stale windows end with the freshness; none when not fresh."""
    primary = cluster.primary()
    exp = int(time.time()) + 7200
    cluster.post_account(primary, "A", exp=exp)
    cluster.post_account(primary, "B")
    replica = cluster.replica(primary.url, store=cluster.store_dir())
    fresh = cluster.account(replica, cluster.trust.pub("A")).headers["cache-control"]
    max_age, swr, sie = (int(part.split("=")[1]) for part in fresh.split(", "))
    assert abs(max_age - (exp - time.time())) <= 2
    assert 3590 <= swr <= 3600 and swr == sie
    no_exp = cluster.account(replica, cluster.trust.pub("B")).headers["cache-control"]
    assert no_exp == f"max-age=0, {STALE_3600}"
    # a second replica that only imported A (never fresh) and cannot reach the primary: no header
    other = cluster.replica(primary.url, store=cluster.store_dir())
    primary.stop()
    a, b = cluster.trust.pub("A"), cluster.trust.pub("B")
    stale = cluster.account(other, a)
    assert stale.status_code == 200 and "cache-control" not in stale.headers
    assert cluster.account(other, b).headers["cache-control"] == f"max-age=0, {STALE_3600}"
    # 304 through a replica keeps working from the local copy
    inm = {"if-none-match": stale.headers["etag"]}
    revalidated = cluster.get(other, f"/jwt/v1/accounts/{a}", headers=inm)
    assert revalidated.status_code == 304


def test_invalid_primary_answers_are_never_stored_or_served(cluster: Cluster) -> None:
    """7.3 (NEW): a misnamed file or an untrusted issuer on the primary is treated like an error."""
    pstore = cluster.store_dir()
    primary = cluster.primary(store=pstore)
    a, b, c = (cluster.trust.pub(n) for n in "ABC")
    (pstore / f"{a}.jwt").write_text(cluster.trust.account_jwt("B"))  # primary serves misnamed files as is
    (pstore / f"{c}.jwt").write_text(cluster.trust.account_jwt("C", signer="C"))  # self-signed: untrusted
    assert cluster.account(primary, a).status_code == 200
    rstore = cluster.store_dir()
    replica = cluster.replica(primary.url, store=rstore, extra="maxreplicationpack: 0")
    assert cluster.account(replica, a).status_code == 404
    assert cluster.account(replica, c).status_code == 404
    assert not (rstore / f"{a}.jwt").exists() and not (rstore / f"{c}.jwt").exists()
    # a valid local copy stays served when the primary's answer is invalid
    good = cluster.trust.account_jwt("A")
    (rstore / f"{a}.jwt").write_text(good)
    assert cluster.account(replica, a).text == good
    assert replica.find_lines("primary sent an invalid JWT")
    assert cluster.account(replica, b).status_code == 404


def test_primary_404_means_not_found(cluster: Cluster) -> None:
    """7.3: the primary's 404 wins over a local copy (the account was removed on the primary)."""
    pstore = cluster.store_dir()
    primary = cluster.primary(store=pstore)
    cluster.post_account(primary, "A")
    replica = cluster.replica(primary.url, store=cluster.store_dir())  # imports A, not fresh
    (pstore / f"{cluster.trust.pub('A')}.jwt").unlink()
    assert cluster.account(replica, cluster.trust.pub("A")).status_code == 404


def test_system_account_falls_back_to_configuration(cluster: Cluster) -> None:
    """4.8: the configured system account JWT is served when neither side stores it."""
    primary = cluster.primary()
    sys_path = cluster.trust.system_account_jwt_path
    replica = cluster.replica(primary.url, extra=f'systemaccountjwtpath: "{sys_path}"')
    primary.stop()
    resp = cluster.account(replica, cluster.trust.system_account)
    assert resp.status_code == 200 and resp.text == sys_path.read_text()


def test_invalid_keys_never_reach_the_primary(cluster: Cluster) -> None:
    primary = cluster.primary(extra="logging { colors: false, trace: true }")
    replica = cluster.replica(primary.url)
    for key in ("foo", "..", "A" * 55, "%2E%2E%2Fhealthz"):
        assert cluster.account(replica, key).status_code == 404
        assert cluster.get(replica, f"/jwt/v1/activations/{key}").status_code == 404
    assert cluster.account(replica, cluster.trust.pub("A")).status_code == 404
    requests = [line for line in primary.find_lines("[TRC]") if ": GET /jwt/v1/a" in line]
    assert len(requests) == 1 and f"/jwt/v1/accounts/{cluster.trust.pub('A')} - 404 - " in requests[0], (
        requests
    )


def _jti(jwt: str) -> str:
    import base64
    import json

    payload = jwt.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"])
