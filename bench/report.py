"""The benchmark's figures, their targets and the printed table (markdown, so it can be pasted)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

Check = Callable[[float, "Results"], "bool | None"]


@dataclass
class Figure:
    key: str
    label: str
    unit: str  # "req/s", "ms" or "MiB"
    target: str = "(info)"
    check: Check | None = None
    ratio: bool = False  # show the ratio to the bare response
    detail: Callable[[Results], str] | None = None  # what the check compared, shown beside its verdict
    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        values = [v for v in self.samples if not math.isnan(v)]
        return statistics.median(values) if values else math.nan


class Results:
    def __init__(self, figures: list[Figure]) -> None:
        self.figures = {f.key: f for f in figures}

    def add(self, key: str, value: float) -> None:
        self.figures[key].samples.append(value)

    def median(self, key: str) -> float:
        return self.figures[key].median

    def ratio(self, key: str, reference: str) -> float:
        """``key`` over ``reference``: the median of the per-round ratios when both were measured in
        every round (each pair seconds apart, so the host's drift between rounds cancels out), else
        the ratio of the medians."""
        a, b = self.figures[key].samples, self.figures[reference].samples
        if a and len(a) == len(b):
            pairs = [x / y for x, y in zip(a, b, strict=True) if y and not (math.isnan(x) or math.isnan(y))]
            if pairs:
                return statistics.median(pairs)
        den = self.median(reference)
        return self.median(key) / den if den and not math.isnan(den) else math.nan

    def verdict(self, fig: Figure) -> str:
        if fig.check is None or not fig.samples:
            return ""
        ok = fig.check(fig.median, self)
        if ok is None:
            return ""
        detail = f" ({fig.detail(self)})" if fig.detail is not None else ""
        return ("pass" if ok else "FAIL") + detail

    def table(self) -> str:
        rows = ["| figure | median | rounds | target | vs bare | result |", "|---|---|---|---|---|---|"]
        for fig in self.figures.values():
            if not fig.samples:
                continue
            vs_bare = self.ratio(fig.key, "bare") if fig.ratio and fig.key != "bare" else math.nan
            ratio = "100%" if fig.key == "bare" else "" if math.isnan(vs_bare) else f"{vs_bare:.0%}"
            rounds = " / ".join(fmt(v, fig.unit, with_unit=False) for v in fig.samples)
            rows.append(
                f"| {fig.label} | {fmt(fig.median, fig.unit)} | {rounds} | {fig.target} | {ratio} "
                f"| {self.verdict(fig)} |"
            )
        return "\n".join(rows)

    def as_dict(self) -> dict[str, object]:
        return {
            k: {
                "label": f.label,
                "unit": f.unit,
                "median": f.median,
                "samples": f.samples,
                "target": f.target,
                "result": self.verdict(f),
            }
            for k, f in self.figures.items()
            if f.samples
        }


def fmt(value: float, unit: str, *, with_unit: bool = True) -> str:
    if math.isnan(value):
        return "n/a"
    text = f"{value:,.0f}" if unit.endswith("/s") else f"{value:,.1f}"
    return f"{text} {unit}" if with_unit else text


def figures(duration: int) -> list[Figure]:
    """Every row, in the order of the table; checks read other medians through Results."""

    def at_least(limit: float) -> Check:
        return lambda v, r: v >= limit

    def at_most(limit: float) -> Check:
        return lambda v, r: v <= limit

    def hit_check(v: float, r: Results) -> bool:
        vs_bare = r.ratio("hit", "bare")
        return v >= 38_000 and (math.isnan(vs_bare) or vs_bare >= 0.8)

    def beside(r: Results, near: str, earlier: str) -> str:
        """The reference measured beside a figure when the run has it, else the earlier row."""
        return near if r.figures[near].samples else earlier

    def hit_reference(r: Results) -> float:
        return r.ratio("hit_100k", beside(r, "hit_1_by_100k", "hit"))

    def within_15(v: float, r: Results) -> bool | None:
        ratio = hit_reference(r)
        return None if math.isnan(ratio) else ratio >= 0.85

    def start_reference(r: Results) -> float:
        return r.median(beside(r, "start_1_by_1m", "start_1"))

    def no_growth(v: float, r: Results) -> bool | None:
        base = start_reference(r)
        return None if math.isnan(base) else v <= 1.2 * base + 10

    def nats_rows(name: str, label: str, bound: float) -> list[Figure]:
        return [
            Figure(
                f"nats_rss_{name}",
                f"{label} store, NATS connected: RSS once the start settled",
                "MiB",
                f"≤ {bound:.0f} MiB",
                at_most(bound),
            ),
            Figure(
                f"nats_peak_{name}",
                f"{label} store, NATS connected: peak RSS of the start (VmHWM)",
                "MiB",
                f"≤ {1.2 * bound:.0f} MiB (bound + 20 %)",
                at_most(1.2 * bound),
            ),
            Figure(
                f"nats_rss_get_{name}",
                f"{label} store, NATS connected: RSS after {duration} s of GETs over random keys",
                "MiB",
                f"≤ {bound:.0f} MiB",
                at_most(bound),
            ),
        ]

    return [
        Figure("bare", "bare hello-world RSGI response, same stack", "req/s", "(reference)", ratio=True),
        Figure(
            "hit",
            "GET hit (1 account, 650-byte JWT)",
            "req/s",
            "≥ 38,000 and ≥ 80 % of bare (same round)",
            hit_check,
            ratio=True,
        ),
        Figure("hit_p99", "GET hit p99 latency", "ms", "≤ 5 ms", at_most(5.0)),
        Figure(
            "not_modified",
            "GET with matching If-None-Match (304)",
            "req/s",
            "≥ 38,000",
            at_least(38_000),
            ratio=True,
        ),
        Figure("unknown", "GET unknown account (404)", "req/s", "≥ 38,000", at_least(38_000), ratio=True),
        Figure(
            "post",
            "POST valid account JWT, durable, 1,000 accounts",
            "req/s",
            "≥ 3,000",
            at_least(3_000),
            ratio=True,
        ),
        Figure("post_p99", "POST p99 latency", "ms"),
        Figure("post_cpu", "POST: the server's CPU time per upload (all threads)", "µs"),
        Figure("host_ed25519", "host speed: one Ed25519 check on core 0, right before the POST row", "µs"),
        Figure("disk_1", "disk ceiling: durable write + rename + dir fsync, 1 writer", "writes/s"),
        Figure("disk_8", "disk ceiling: the same, 8 concurrent writers", "writes/s"),
        Figure(
            "slow_p99",
            "2,000 slow-header connections held: a normal client's GET (fresh connection), p99",
            "ms",
            "≤ 100 ms",
            at_most(100),
        ),
        Figure(
            "storm_max",
            "5,000 clients connecting at once, one GET each: the last answer",
            "ms",
            "≤ 2,000 ms, all answered",
            at_most(2000),
        ),
        Figure("storm_p50", "5,000 clients connecting at once: the median answer", "ms"),
        Figure(
            "pack_p99",
            "10 clients looping on the pack of 10,000 accounts: a normal client's GET, p99",
            "ms",
            "≤ 10 ms",
            at_most(10),
        ),
        Figure("start_1", "1 account: start → first 200", "ms", "≤ 120 ms", at_most(120)),
        Figure("start_bare", "the bare response's server (same stack, no app): start → first 200", "ms"),
        Figure("start_100k", "100k store: start → first 200", "ms", "≤ 300 ms", at_most(300)),
        Figure(
            "rss_100k",
            f"100k store: RSS after {duration} s of GET load over random keys",
            "MiB",
            "≤ 64 MiB",
            at_most(64),
        ),
        Figure(
            "cold_100k",
            f"100k store: GET random keys, never-verified files, first {duration} s",
            "req/s",
            ratio=True,
        ),
        Figure(
            "hit_100k",
            "100k store: GET hit (one account, the 1-account row's wrk line)",
            "req/s",
            "within 15 % of the 1-account GET hit (taken right after)",
            within_15,
            ratio=True,
            detail=lambda r: f"{hit_reference(r):.0%} of it",
        ),
        Figure(
            "hit_1_by_100k",
            "1 account: GET hit, measured right after the 100k hit (its reference)",
            "req/s",
            ratio=True,
        ),
        Figure(
            "hit_lua_1",
            "1 account: GET hit through the same random-key wrk script (control)",
            "req/s",
            ratio=True,
        ),
        Figure(
            "start_100k_marked",
            "100k store, every file verified before: start → first 200",
            "ms",
            "≤ 300 ms",
            at_most(300),
        ),
        Figure(
            "marked_100k",
            f"100k store, every file verified before: GET random keys, first {duration} s after a restart",
            "req/s",
            ratio=True,
        ),
        Figure(
            "rss_100k_marked",
            f"100k store, every file verified before: RSS after {duration} s of GET load over random keys",
            "MiB",
            "≤ 64 MiB",
            at_most(64),
        ),
        Figure(
            "start_1_by_1m",
            "1 account: start → first 200, in turn with the 1M starts (their reference)",
            "ms",
        ),
        Figure(
            "start_1m",
            "1M store: start → first 200",
            "ms",
            "≤ 120 ms and no growth (≤ 1.2 × the 1-account start taken in turn + 10 ms)",
            lambda v, r: v <= 120 and no_growth(v, r) is not False,
            detail=lambda r: f"bound {1.2 * start_reference(r) + 10:.1f} ms",
        ),
        Figure("hit_1m", "1M store: GET over random keys", "req/s", "serves", lambda v, r: v > 0, ratio=True),
        Figure("rss_1m", f"1M store: RSS after {duration} s of GET load over random keys", "MiB"),
        *nats_rows("100k", "100k", 64),
        *nats_rows("1m", "1M", 100),
        Figure(
            "upload_rss",
            "100k store, NATS connected: RSS after 100,000 new accounts were uploaded",
            "MiB",
            "≤ 64 MiB",
            at_most(64),
        ),
        Figure(
            "upload_peak",
            "100k store, NATS connected: peak RSS (VmHWM) over the start and the 100,000 uploads",
            "MiB",
            "≤ 77 MiB (bound + 20 %)",
            at_most(1.2 * 64),
        ),
        Figure(
            "cold_shared_inline",
            f"100k store, never-verified, 2 shared cores, first reads on the loop: random keys, {duration} s",
            "req/s",
        ),
        Figure(
            "cold_shared",
            f"100k store, never-verified files, server and wrk on 2 shared cores: random keys, {duration} s",
            "req/s",
            "≥ 1.8 × the same with every first read on the event loop (same round)",
            lambda v, r: r.ratio("cold_shared", "cold_shared_inline") >= 1.8,
            detail=lambda r: f"{r.ratio('cold_shared', 'cold_shared_inline'):.2f} ×",
        ),
        Figure("hit_shared", "100k store, server and wrk on both cores: GET hit (one account)", "req/s"),
        Figure(
            "notify_p99", "POST → nats-server applied the update, p99 of 200", "ms", "≤ 20 ms", at_most(20.0)
        ),
        Figure("notify_p50", "POST → nats-server applied the update, p50", "ms"),
        Figure("notified_p99", "POST → notification received by a $SYS subscriber, p99", "ms"),
        Figure("post_answer_p99", "POST → 200 answered (with NATS connected), p99", "ms"),
    ]


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 200 samples = the 198th smallest)."""
    data = sorted(v for v in values if not math.isnan(v))
    if not data:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(data)))
    return data[rank - 1]
