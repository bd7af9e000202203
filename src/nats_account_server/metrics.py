"""The process's metrics, exposed in the Prometheus text format by `prometheus-client`.

One `Metrics` object lives as long as the process (like the logger): a SIGHUP reload builds a new
instance but the counters go on. The parts count into plain integers as they work (the GET hot
path pays for a bucket index and a few additions, not for a labelled child lookup and a lock per
request); what is a state rather than an event (NATS connected, store size, readiness, replica) is
set just before each scrape. `prometheus-client` turns them into the exposition format at the
scrape, and is only imported then: a server that is never scraped does not pay for its import.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from nats_account_server import __version__

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["LATENCY_BOUNDS", "Metrics", "Requests", "metrics"]

PREFIX = "nats_account_server"
#: upper bounds (seconds) of the request latency buckets; the last bucket is +Inf
LATENCY_BOUNDS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
#: methods counted by name; any other (a client may send anything) is counted as "other"
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"))
#: the states a scrape may report, with their help texts; one that does not apply is left out
STATES = {
    "nats_connected": "1 while the NATS notification connection is up, 0 while it is down",
    "ready": "1 when /readyz answers 200 (the NATS connection not counted)",
    "replica_import_running": "1 while a replica's initial import from its primary runs",
    "replica_primary_reachable": "0 after a failed request to the primary, until one succeeds",
}


class Requests:
    """HTTP requests by route, method and status, with their latency. Only the event loop's thread
    counts; a scrape reads on it as well."""

    def __init__(self) -> None:
        # (route, method, status) -> [count, sum of seconds, one count per bucket (not cumulative)]
        self.rows: dict[tuple[str, str, int], list[float]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method if method in METHODS else "other", status)
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = [0.0] * (len(LATENCY_BOUNDS) + 3)
        row[0] += 1
        row[1] += seconds
        row[2 + bisect_left(LATENCY_BOUNDS, seconds)] += 1


class Metrics:
    """Every count and state of the server."""

    def __init__(self) -> None:
        self.requests = Requests()
        self.uploads: Counter[tuple[str, str, str, str]] = Counter()  # kind, channel, result, reason
        self.notifications: Counter[tuple[str, str]] = Counter()  # kind, result
        self.nats_reconnects = 0
        self.cache_hits = 0
        self.cache_misses = 0
        self.state: dict[str, float] = {}  # see STATES
        self.store_jwts: dict[str, int] = {}  # kind -> count
        self._registry: CollectorRegistry | None = None

    def exposition(self) -> tuple[bytes, str]:
        """The body and content type of a scrape."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self._registry or self._register()), CONTENT_TYPE_LATEST

    def _register(self) -> CollectorRegistry:
        from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector

        reg = self._registry = CollectorRegistry()
        ProcessCollector(registry=reg)  # memory, CPU, open files of the process
        PlatformCollector(registry=reg)
        reg.register(_Collector(self))
        return reg


class _Collector:
    """Our counts and states as metric families, built at each scrape."""

    def __init__(self, owner: Metrics) -> None:
        self.owner = owner

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
            InfoMetricFamily,
        )

        m = self.owner
        yield InfoMetricFamily(PREFIX, "The account server's version", value={"version": __version__})
        requests = HistogramMetricFamily(
            f"{PREFIX}_http_request_duration_seconds",
            "HTTP requests by route, method and status, and the time taken to answer them",
            labels=("route", "method", "status"),
        )
        bounds = [*(repr(b) for b in LATENCY_BOUNDS), "+Inf"]
        for (route, method, status), row in sorted(m.requests.rows.items()):
            running, buckets = 0.0, []
            for bound, count in zip(bounds, row[2:], strict=True):
                running += count
                buckets.append((bound, running))
            requests.add_metric([route, method, str(status)], buckets, row[1])
        yield requests
        uploads = CounterMetricFamily(
            f"{PREFIX}_uploads",
            "Uploads (HTTP POST, NATS claim updates) by kind, channel, result and refusal reason",
            labels=("kind", "channel", "result", "reason"),
        )
        for labels, count in sorted(m.uploads.items()):
            uploads.add_metric(labels, count)
        yield uploads
        notifications = CounterMetricFamily(
            f"{PREFIX}_notifications",
            "Change notifications to nats-servers: sent, skipped (no NATS connection) or failed",
            labels=("kind", "result"),
        )
        for pair, count in sorted(m.notifications.items()):
            notifications.add_metric(pair, count)
        yield notifications
        yield CounterMetricFamily(
            f"{PREFIX}_nats_reconnects",
            "Reconnections of the NATS notification connection",
            m.nats_reconnects,
        )
        cache = CounterMetricFamily(
            f"{PREFIX}_cache_lookups",
            "Account and activation GETs answered from the response cache (hit) or not (miss)",
            labels=("result",),
        )
        cache.add_metric(["hit"], m.cache_hits)
        cache.add_metric(["miss"], m.cache_misses)
        yield cache
        for name, text in STATES.items():
            if name in m.state:
                yield GaugeMetricFamily(f"{PREFIX}_{name}", text, m.state[name])
        jwts = GaugeMetricFamily(
            f"{PREFIX}_store_jwts", "JWTs in the store by kind, counted at most every 30 s", labels=("kind",)
        )
        for kind, count in sorted(m.store_jwts.items()):
            jwts.add_metric([kind], count)
        yield jwts


metrics = Metrics()
