"""/metrics over a real socket: requests, cache, uploads and store size as an operator scrapes them."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from nats_account_server import __version__
from tests.http.conftest import server_config
from tests.support.procs import start_server
from tests.support.trust import Trust

P = "nats_account_server_"


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = httpx.get(f"{url}/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain; version=")
    out = {}
    for family in text_string_to_metric_families(resp.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((P + name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.parametrize("version", [2, 1], ids=["v2", "v1"])
@pytest.mark.parametrize("trace", [False, True], ids=["hot", "traced"])
def test_metrics_count_requests_cache_uploads_and_the_store(
    tmp_path: Path, version: int, trace: bool
) -> None:
    trust = Trust(tmp_path / "trust", version=version)
    store = tmp_path / "store"
    conf = server_config(trust, store)
    if not trace:  # the GET hot path runs only without per-request trace lines
        conf = conf.replace("trace: true", "trace: false")
    with start_server(config_text=conf, tmp_path=tmp_path) as proc:
        url = proc.url
        a, b = trust.pub("A"), trust.pub("B")
        assert httpx.post(f"{url}/jwt/v1/accounts/{a}", content=trust.account_jwt("A")).status_code == 200
        assert httpx.post(f"{url}/jwt/v1/accounts/{a}", content=b"garbage").status_code == 400
        assert httpx.post(f"{url}/jwt/v1/accounts/{b}", content=trust.account_jwt("A")).status_code == 400
        assert httpx.get(f"{url}/jwt/v1/accounts/{a}").status_code == 200  # a miss, then cached
        for _ in range(5):
            assert httpx.get(f"{url}/jwt/v1/accounts/{a}").status_code == 200
        assert httpx.get(f"{url}/jwt/v1/accounts/{b}").status_code == 404
        assert httpx.get(f"{url}/jwt/v1/nothing/here").status_code == 404
        assert httpx.request("BREW", f"{url}/healthz").status_code == 405
        assert httpx.get(f"{url}/healthz").status_code == 200
        first = scrape(url)

        count = "http_request_duration_seconds_count"
        assert value(first, count, route="account", method="GET", status="200") == 6
        assert value(first, count, route="account", method="GET", status="404") == 1
        assert value(first, count, route="account", method="POST", status="200") == 1
        assert value(first, count, route="account", method="POST", status="400") == 2
        assert value(first, count, route="other", method="GET", status="404") == 1
        assert value(first, count, route="healthz", method="other", status="405") == 1  # no label per verb
        assert value(first, count, route="healthz", method="GET", status="200") >= 1  # the harness probes too
        inf = value(
            first,
            "http_request_duration_seconds_bucket",
            route="account",
            method="GET",
            status="200",
            le="+Inf",
        )
        assert inf == 6
        assert value(first, "cache_lookups_total", result="hit") == 5
        assert value(first, "cache_lookups_total", result="miss") == 2
        assert (
            value(first, "uploads_total", kind="account", channel="http", result="accepted", reason="") == 1
        )
        assert (
            value(first, "uploads_total", kind="account", channel="http", result="refused", reason="bad_jwt")
            == 1
        )
        refused = value(
            first, "uploads_total", kind="account", channel="http", result="refused", reason="key_mismatch"
        )
        assert refused == 1
        skipped = value(first, "notifications_total", kind="account", result="skipped")
        assert skipped == 1  # no NATS configured
        assert value(first, "store_jwts", kind="account") == 1
        assert value(first, "store_jwts", kind="activation") == 0
        assert value(first, "ready") == 1
        assert (P + "nats_connected", ()) not in first  # not configured: no such state
        assert (P + "replica_import_running", ()) not in first
        assert value(first, "info", version=__version__) == 1
        assert first[("process_resident_memory_bytes", ())] > 0  # the process collector's

        second = scrape(url)  # a scrape is a request too
        assert value(second, count, route="metrics", method="GET", status="200") == 1
