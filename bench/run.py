"""Benchmark of the server's figures: wrk against the account server pinned to one core.

    .venv/bin/python bench/run.py [--quick] [--rounds N] [--duration S] [--million] [--workdir DIR]

Sets up the stores (mints an operator and ~660-byte account JWTs: 1 account, 1,000 for POST,
100,000 and with --million 1,000,000 in directory stores), then per round starts each server with
`taskset -c 0` (one process) and runs `taskset -c 1 wrk -t2 -c50 -dNs --latency` for each row, and
measures the notification path against a real nats-server. Prints a markdown table of medians over
the rounds, the ratio to a bare hello-world response on the same HTTP stack, pass/fail against the
targets, and the exact command lines. Never part of the test suite's pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from disk import durable_writes_per_second  # noqa: E402
from hostspeed import ed25519_verify_us  # noqa: E402
from mint import Operator, build_big_store, random_account_key, strip_marks, write_store  # noqa: E402
from pressure import Latencies, beside, raise_file_limit, slow_headers, storm  # noqa: E402
from procs import (  # noqa: E402
    Proc,
    account_server,
    cpu_seconds,
    free_port,
    hello_server,
    http_status,
    rss_mib,
    wait_quiet,
)
from report import Results, figures, percentile  # noqa: E402
from scale import ScaleRows  # noqa: E402
from wrk import (  # noqa: E402
    Wrk,
    WrkResult,
    every_key_once,
    write_every_key_script,
    write_post_data,
    write_post_script,
    write_random_keys_script,
)

ACCOUNTS = "/jwt/v1/accounts/"
POST_ACCOUNTS = 1_000
PACK_ACCOUNTS = 10_000
SLOW_HOLDERS = 2_000
STORM_CLIENTS = 5_000
STARTS = 3  # starts per round for each start-time row: one start is ~0.2 s, the host's noise is larger


class Bench(ScaleRows):
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.dir = workdir
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.wrk = Wrk(args.duration)
        self.results = Results(figures(args.duration))
        self.commands: dict[str, str] = {}
        self.background: list[float] = []  # busy share of the machine right before each server start

    # ------------------------------------------------------------------ setup

    def setup(self) -> None:
        started = time.perf_counter()
        meta = self.dir / "operator.json"
        self.operator = Operator.load(meta) if meta.exists() else Operator.new()
        self.operator.save(meta)
        self.operator_jwt = self.dir / "operator.jwt"
        self.operator_jwt.write_text(self.operator.operator_jwt())
        # 1 account
        self.key = random_account_key()
        jwt = self.operator.account_jwt(self.key)
        self.jti = json.loads(_b64decode(jwt.split(".")[1]))["jti"]
        self.jwt_size = len(jwt)
        self.one = self.dir / "stores" / "one"
        write_store(self.one, {self.key: jwt})
        (self.dir / "keys-one.txt").write_text(self.key + "\n")
        # 1,000 accounts for POST: stored as "base", POSTed as variant 0 / 1 in turn (same iat)
        self.post_store = self.dir / "stores" / "post"
        rows: list[tuple[str, str, str]] = []
        stored: dict[str, str] = {}
        iat = int(time.time())
        for i in range(POST_ACCOUNTS):
            key = random_account_key()
            stored[key] = self.operator.account_jwt(key, iat=iat, name=f"p{i}")
            v0, v1 = (self.operator.account_jwt(key, iat=iat, name=f"p{i}v{v}") for v in (0, 1))
            rows.append((ACCOUNTS + key, v0, v1))
        write_store(self.post_store, stored)
        self.post_base = stored
        self.post_rows = rows
        write_post_data(self.dir / "post.txt", rows)
        write_post_script(self.dir / "post.lua")
        write_random_keys_script(self.dir / "random.lua", ACCOUNTS)
        write_every_key_script(self.dir / "every.lua", ACCOUNTS)
        print(
            f"set up the small stores ({self.jwt_size}-byte JWTs) in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        wanted = set(self.args.only or ["pressure", "100k", "1m"])
        if wanted & {"shared", "nats", "uploads"}:
            wanted |= {"100k", "1m"}
        big = [(PACK_ACCOUNTS, "10k", "pressure"), (100_000, "100k", "100k"), (1_000_000, "1m", "1m")]
        for count, name, row in big:
            if row not in wanted or (name == "1m" and not self.args.million):
                continue
            store, keys = self.dir / "stores" / name, self.dir / f"keys-{name}.txt"
            took = build_big_store(self.operator, store, count, keys)
            print(f"{name} store: {'reused' if took == 0 else f'minted in {took:.1f} s'}", flush=True)

    # ---------------------------------------------------------------- helpers

    def quiet(self) -> None:
        """Other work on this 2-core machine (test suites...) skews every figure: wait for it to end,
        and for the writes of earlier rows to be on disk (their writeback would run during this one)."""
        os.sync()
        self.background.append(wait_quiet(1, self.args.wait_idle))

    @contextlib.contextmanager
    def server(
        self, name: str, store: Path, probe_key: str, cpu: str = "0", env: dict[str, str] | None = None
    ) -> Iterator[tuple[Proc, int, float]]:
        self.quiet()
        port = free_port()
        proc = account_server(
            name, port, store, self.logs / f"{name}.log", operator_jwt=self.operator_jwt, env=env
        )
        proc.argv[2] = cpu
        self.commands.setdefault(f"server ({name})", " ".join(proc.argv))
        with proc:
            startup = proc.wait_status(port, ACCOUNTS + probe_key)
            yield proc, port, startup

    def start_ms(self, name: str, store: Path, probe_key: str) -> float:
        """Start → first 200 of one more start (stopped at once): start-time rows take several."""
        with self.server(name, store, probe_key) as (_, _, startup):
            return startup * 1e3

    def load(self, name: str, url: str, expect: str = "ok", **kwargs: object) -> WrkResult:
        result = self.wrk.run(name, url, **kwargs)  # type: ignore[arg-type]
        bad = result.non_2xx_3xx if expect == "ok" else result.requests - result.non_2xx_3xx
        if bad or result.socket_errors:
            print(f"  !! {name}: {bad} unexpected statuses, {result.socket_errors} socket errors", flush=True)
        cores = ", ".join(f"{core} {share:.0%}" for core, share in sorted(result.busy.items()))
        print(f"  {name}: {result.rps:,.0f} req/s, p99 {result.p99_ms:.2f} ms (busy: {cores})", flush=True)
        return result

    def warm_up(self, url: str, **kwargs: object) -> None:
        """A short unrecorded run first (same wrk arguments), so that every measured run sees a server in
        steady state."""
        if self.args.warmup > 0:
            self.wrk.run("warm-up", url, record=False, duration=self.args.warmup, **kwargs)

    def random_load(self, name: str, port: int, keys: str) -> WrkResult:
        return self.load(
            name,
            f"http://127.0.0.1:{port}",
            script=self.dir / "random.lua",
            script_args=[str(self.dir / keys)],
        )

    @staticmethod
    def expect(port: int, path: str, want: int, **kwargs: object) -> None:
        got = http_status(port, path, **kwargs)  # type: ignore[arg-type]
        if got != want:
            raise RuntimeError(f"{path} answered {got}, expected {want}")

    # ------------------------------------------------------------------ rows

    def bare(self) -> None:
        for _ in range(STARTS - 1):  # the stack's own start: the floor under the start rows
            self.quiet()
            port = free_port()
            with hello_server(port, self.logs / "hello.log") as proc:
                self.results.add("start_bare", proc.wait_status(port, "/") * 1e3)
        self.quiet()
        port = free_port()
        proc = hello_server(port, self.logs / "hello.log")
        self.commands.setdefault("bare server", " ".join(proc.argv))
        with proc:
            self.results.add("start_bare", proc.wait_status(port, "/") * 1e3)
            self.warm_up(f"http://127.0.0.1:{port}/")
            self.results.add("bare", self.load("bare", f"http://127.0.0.1:{port}/").rps)

    def one_account(self) -> None:
        r = self.results
        for _ in range(STARTS - 1):
            r.add("start_1", self.start_ms("one", self.one, self.key))
        with self.server("one", self.one, self.key) as (_, port, startup):
            r.add("start_1", startup * 1e3)
            url = f"http://127.0.0.1:{port}{ACCOUNTS}"
            self.warm_up(url + self.key)
            hit = self.load("hit", url + self.key)
            r.add("hit", hit.rps)
            r.add("hit_p99", hit.p99_ms)
            etag = f'"{self.jti}"'
            self.expect(port, ACCOUNTS + self.key, 304, headers={"If-None-Match": etag})
            r.add("not_modified", self.load("304", url + self.key, headers=[f"If-None-Match: {etag}"]).rps)
            unknown = random_account_key()
            self.expect(port, ACCOUNTS + unknown, 404)
            r.add("unknown", self.load("404", url + unknown, expect="404").rps)
            r.add("hit_lua_1", self.random_load("hit (random-key script, 1 key)", port, "keys-one.txt").rps)

    def post(self) -> None:
        write_store(self.post_store, self.post_base)  # neither variant: every POST is a durable replace
        speed = ed25519_verify_us()
        self.results.add("host_ed25519", speed)
        print(f"  host speed: one Ed25519 check in {speed:.1f} µs on core 0", flush=True)
        with self.server("post", self.post_store, self.post_rows[0][0][len(ACCOUNTS) :]) as (proc, port, _s):
            path, _, variant1 = self.post_rows[0]
            self.expect(port, path, 200, method="POST", body=variant1.encode())
            url, script = f"http://127.0.0.1:{port}", self.dir / "post.lua"
            args = [str(self.dir / "post.txt"), str(self.wrk.threads)]
            self.warm_up(url, script=script, script_args=args)  # spares in the pool, as in any running server
            cpu = cpu_seconds(proc.pid)
            result = self.load("POST", url, script=script, script_args=args)
            cpu = cpu_seconds(proc.pid) - cpu
            self.results.add("post", result.rps)
            self.results.add("post_p99", result.p99_ms)
            self.results.add("post_cpu", cpu / max(1, result.requests) * 1e6)
        for writers in (1, 8):
            rate = durable_writes_per_second(self.dir / "disk", writers=writers)
            self.results.add(f"disk_{writers}", rate)
            print(f"  disk: {rate:,.0f} durable writes/s with {writers} writer(s)", flush=True)

    def big(self, name: str) -> None:
        """A big store as an operator brings it (files never verified by us), then, after one pass over
        every key, the same store after a restart (every file sealed with a verified mark)."""
        keys = (self.dir / f"keys-{name}.txt").read_text().split()
        store = self.dir / "stores" / name
        print(f"  {name}: {strip_marks(store):,} verified marks removed", flush=True)
        for _ in range(STARTS - 1):
            if name == "1m":  # "no growth": against 1-account starts taken in turn with these
                self.results.add("start_1_by_1m", self.start_ms("one", self.one, self.key))
            self.results.add(f"start_{name}", self.start_ms(name, store, random.choice(keys)))
        if name == "1m":
            self.results.add("start_1_by_1m", self.start_ms("one", self.one, self.key))
        with self.server(name, store, random.choice(keys)) as (proc, port, startup):
            self.results.add(f"start_{name}", startup * 1e3)
            self.expect(port, ACCOUNTS + random.choice(keys), 200)
            cold = self.random_load(f"{name} random keys, never-verified files", port, f"keys-{name}.txt")
            rss = rss_mib(proc.pid)
            print(f"  {name}: RSS {rss:.1f} MiB", flush=True)
            if name == "1m":
                self.results.add("hit_1m", cold.rps)
                self.results.add("rss_1m", rss)
                return
            self.results.add("cold_100k", cold.rps)
            self.results.add("rss_100k", rss)
            url = f"http://127.0.0.1:{port}{ACCOUNTS}{keys[0]}"
            os.sync()  # the marks that load wrote: written back now, not during the next row
            self.warm_up(url)
            self.results.add("hit_100k", self.load("100k: hit (one account)", url).rps)
            self.hit_next_to_100k()
            took = every_key_once(
                self.wrk,
                f"http://127.0.0.1:{port}",
                self.dir / "every.lua",
                self.dir / f"keys-{name}.txt",
                self.dir / "every.done",
            )
            print(f"  {name}: one pass over every key in {took:.1f} s", flush=True)
        for _ in range(STARTS - 1):
            took_ms = self.start_ms(f"{name}-verified", store, random.choice(keys))
            self.results.add("start_100k_marked", took_ms)
        with self.server(f"{name}-verified", store, random.choice(keys)) as (proc, port, startup):
            self.results.add("start_100k_marked", startup * 1e3)
            marked = self.random_load(
                f"{name} random keys, verified store after a restart", port, f"keys-{name}.txt"
            )
            self.results.add("marked_100k", marked.rps)
            self.results.add("rss_100k_marked", rss_mib(proc.pid))

    def hit_next_to_100k(self) -> None:
        """The 1-account GET hit again, right after the 100k one: the host's throughput drifts by a
        third within minutes, so "within 15 %" compares two runs taken seconds apart."""
        with self.server("one", self.one, self.key) as (_, port, _s):
            url = f"http://127.0.0.1:{port}{ACCOUNTS}{self.key}"
            self.warm_up(url)
            self.results.add("hit_1_by_100k", self.load("1 account: hit, next to the 100k hit", url).rps)

    def pressure(self) -> None:
        """Hostile loads: a normal client's fresh-connection GETs beside held slow-header connections
        and beside clients looping on the pack, and a storm of clients connecting at once."""
        raise_file_limit()
        keys = (self.dir / "keys-10k.txt").read_text().split()
        path = ACCOUNTS + keys[0]
        with self.server("10k", self.dir / "stores" / "10k", keys[0]) as (_, port, _s):
            got: Latencies
            got, opened = slow_headers(port, path, SLOW_HOLDERS, self.args.duration)
            self.note("slow", got, f"{opened:,} slow connections opened")
            self.results.add("slow_p99", got.p99_ms)
            got = asyncio.run(storm(port, path, STORM_CLIENTS))
            self.note("storm", got)
            self.results.add("storm_max", got.max_ms if not got.failed else float("inf"))
            self.results.add("storm_p50", got.p50_ms)
            pack = self.wrk.argv(f"http://127.0.0.1:{port}/jwt/v1/pack", duration=self.args.duration + 3)
            pack[pack.index(f"-c{self.wrk.connections}")] = "-c10"
            pack[pack.index(f"-t{self.wrk.threads}")] = "-t1"
            self.wrk.commands.setdefault("pack clients", " ".join(pack))
            with subprocess.Popen(["nice", "-n", "19", *pack], stdout=subprocess.PIPE, text=True) as packers:
                time.sleep(1.0)
                got = asyncio.run(beside(port, path, self.args.duration))
                out, _ = packers.communicate()
            packs = out.split(" requests in")[0].split()[-1] if " requests in" in out else "?"
            self.note("pack", got, f"{packs} packs of {PACK_ACCOUNTS:,} accounts sent")
            self.results.add("pack_p99", got.p99_ms)

    @staticmethod
    def note(name: str, got: Latencies, extra: str = "") -> None:
        print(
            f"  {name}: p50 {got.p50_ms:.1f} ms, p99 {got.p99_ms:.1f} ms, max {got.max_ms:.1f} ms, "
            f"{got.answered:,} answered, {got.failed:,} failed{', ' + extra if extra else ''}",
            flush=True,
        )

    def notification(self) -> None:
        from notify import run_notification

        self.quiet()
        samples, commands = run_notification(
            self.dir / "notify", self.operator, self.operator_jwt, self.args.updates
        )
        for i, command in enumerate(commands):
            self.commands.setdefault(f"notification path ({i + 1})", command)
        r = self.results
        r.add("notify_p99", percentile([s.applied_ms for s in samples], 99))
        r.add("notify_p50", percentile([s.applied_ms for s in samples], 50))
        r.add("notified_p99", percentile([s.notified_ms for s in samples], 99))
        r.add("post_answer_p99", percentile([s.post_ms for s in samples], 99))
        print(f"  notification: applied p99 {r.figures['notify_p99'].samples[-1]:.2f} ms", flush=True)

    # ------------------------------------------------------------------ main

    def run(self) -> None:
        rows = self.args.only or [
            "bare",
            "one",
            "post",
            "pressure",
            "100k",
            "1m",
            "notify",
            "shared",
            "nats",
            "uploads",
        ]
        for n in range(1, self.args.rounds + 1):
            print(f"round {n}/{self.args.rounds}", flush=True)
            if "bare" in rows:
                self.bare()
            if "one" in rows:
                self.one_account()
            if "post" in rows:
                self.post()
            if "pressure" in rows:
                self.pressure()
            if "100k" in rows:
                self.big("100k")
            if "1m" in rows and self.args.million:
                self.big("1m")
            if "notify" in rows and self.args.updates > 0:
                self.notification()
            if "shared" in rows:
                self.shared()
            if "nats" in rows:
                self.nats_memory("100k")
                if self.args.million:
                    self.nats_memory("1m")
            if "uploads" in rows:
                self.upload_stream()

    def report(self) -> str:
        a = self.args
        lines = [
            f"## Results: median of {a.rounds} rounds, wrk -d{a.duration}s, JWT {self.jwt_size} bytes, "
            f"{time.strftime('%Y-%m-%d')}, source {revision()}",
            "",
            self.results.table(),
            "",
            "wrk command lines:",
            "",
        ]
        lines += [f"    {name}: {cmd}" for name, cmd in self.wrk.commands.items()]
        lines += ["", "processes:", ""] + [f"    {name}: {cmd}" for name, cmd in self.commands.items()]
        worst = max(self.background, default=0.0)
        if worst > 0.1:
            lines += [
                "",
                f"WARNING: the machine was {worst:.0%} busy with other work before some runs: "
                "these figures are not reliable",
            ]
        return "\n".join(lines)


def revision() -> str:
    """The measured source: git's short commit, with -dirty when the work tree has changes."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent,
            timeout=10,
        )
        if done.returncode == 0:
            return done.stdout.strip()
    return "unknown"


def _b64decode(seg: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="3-second wrk runs (and 1 round unless --rounds)")
    p.add_argument("--duration", type=int, default=None, help="seconds per wrk run (default 10, quick 3)")
    p.add_argument("--rounds", type=int, default=None, help="rounds to take the median over (default 3)")
    p.add_argument("--million", action="store_true", help="also a 1,000,000-account store (~4 GiB disk)")
    p.add_argument(
        "--wait-idle",
        type=float,
        default=120,
        help="before each server start, wait up to this many seconds for an idle machine",
    )
    p.add_argument(
        "--warmup", type=int, default=1, help="seconds of unrecorded load before the GET and POST rows"
    )
    p.add_argument("--updates", type=int, default=200, help="notification-path updates per round (0: skip)")
    p.add_argument(
        "--only",
        nargs="+",
        choices=["bare", "one", "post", "pressure", "100k", "1m", "notify", "shared", "nats", "uploads"],
        help="run only these groups of rows",
    )
    p.add_argument("--workdir", type=Path, help="keep stores here and reuse the big ones on the next run")
    p.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = p.parse_args(argv)
    args.duration = args.duration or (3 if args.quick else 10)
    args.rounds = args.rounds or (1 if args.quick else 3)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not shutil.which("wrk"):
        print("wrk not found: apt-get install wrk", file=sys.stderr)
        return 2
    if (os.cpu_count() or 1) < 2:
        print("needs 2 cores: the server on core 0, wrk and the benchmark on core 1", file=sys.stderr)
        return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="nas-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(args, workdir)
    try:
        bench.setup()  # before pinning: minting the big stores uses both cores
        os.sched_setaffinity(0, {1})  # keep the poller and the NATS clients off the server's core
        bench.run()
    finally:
        report = bench.report()
        print("\n" + report)
        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        "figures": bench.results.as_dict(),
                        "wrk": bench.wrk.commands,
                        "processes": bench.commands,
                    },
                    indent=2,
                )
            )
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
