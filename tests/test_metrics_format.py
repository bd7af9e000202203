"""The metrics object without a server: counting, and the exposition prometheus-client parses."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from nats_account_server.metrics import LATENCY_BOUNDS, Metrics


def samples(m: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, content_type = m.exposition()
    assert content_type.startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def test_requests_are_a_cumulative_histogram_and_labels_stay_bounded() -> None:
    m = Metrics()
    for seconds in (0.00005, 0.0002, 0.0002, 3.0):
        m.requests.observe("account", "GET", 200, seconds)
    m.requests.observe("account", "BREW", 405, 0.001)
    m.requests.observe("account", "X" * 1000, 405, 0.001)  # any verb a client invents: one series
    got = samples(m)
    name = "nats_account_server_http_request_duration_seconds"

    def bucket(le: str) -> float:
        return got[
            (f"{name}_bucket", (("le", le), ("method", "GET"), ("route", "account"), ("status", "200")))
        ]

    assert bucket("0.0001") == 1 and bucket("0.00025") == 3 and bucket("2.5") == 3 and bucket("+Inf") == 4
    assert got[(f"{name}_count", (("method", "GET"), ("route", "account"), ("status", "200")))] == 4
    assert got[(f"{name}_count", (("method", "other"), ("route", "account"), ("status", "405")))] == 2
    assert len(LATENCY_BOUNDS) + 1 == sum(
        1 for key in got if key[0] == f"{name}_bucket" and ("status", "200") in key[1]
    )


def test_counts_and_states_appear_only_where_they_apply() -> None:
    m = Metrics()
    m.uploads[("account", "nats", "refused", "older")] += 2
    m.notifications[("account", "sent")] += 1
    m.cache_hits, m.cache_misses, m.nats_reconnects = 7, 2, 1
    got = samples(m)
    p = "nats_account_server_"
    labels = (("channel", "nats"), ("kind", "account"), ("reason", "older"), ("result", "refused"))
    assert got[(p + "uploads_total", labels)] == 2
    assert got[(p + "notifications_total", (("kind", "account"), ("result", "sent")))] == 1
    assert got[(p + "cache_lookups_total", (("result", "hit"),))] == 7
    assert got[(p + "nats_reconnects_total", ())] == 1
    assert (p + "nats_connected", ()) not in got and (p + "ready", ()) not in got
    m.state = {"nats_connected": 0.0, "ready": 1.0}
    m.store_jwts = {"account": 3, "activation": 0}
    got = samples(m)
    assert got[(p + "nats_connected", ())] == 0 and got[(p + "ready", ())] == 1
    assert got[(p + "store_jwts", (("kind", "account"),))] == 3


def test_prometheus_client_is_imported_only_by_a_scrape() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import nats_account_server.server, nats_account_server.metrics as m; "
        "before = 'prometheus_client' in sys.modules; m.metrics.exposition(); "
        "print(before, 'prometheus_client' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]
