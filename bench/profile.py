"""Profile one benchmark row with py-spy while wrk loads the server (needs `pip install py-spy`).

    .venv/bin/python bench/profile.py hit|304|404|post|100k [--duration S] [--workdir DIR] [--native]

Starts the server as bench/run.py does (the stores come from a run.py --workdir DIR, or are set up
afresh), samples it with `py-spy record --format raw` during a wrk run, and prints the functions
with the largest self and inclusive shares of the samples, plus the collapsed stacks file path.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mint import random_account_key  # noqa: E402
from procs import Proc  # noqa: E402
from run import ACCOUNTS, Bench, parse_args  # noqa: E402

IDLE = (
    "epoll_wait",
    "epoll_pwait",
    "clock_nanosleep",
    "nanosleep",
    "sched_yield",
    "pthread_cond_wait",
    "pthread_cond_timedwait",
    "futex",
    "take_gil",
    "poll",
    "select",
    "syscall",
)


def _name(frame: str) -> tuple[str, str]:
    """("function (file:line)", "function (file)") with the file's directories dropped."""
    func, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit("/", 1)[-1]
    file, _, line = where.partition(":")
    return (f"{func} ({file}:{line})" if line else f"{func} ({file})"), f"{func} ({file})"


def summarize(raw: Path, top: int) -> str:
    """Busy samples per thread, then self (by line) and inclusive (by function) shares of busy samples.

    A sample is idle when its innermost frame is a wait (epoll, futex, sleep, sched_yield, GIL wait):
    with --idle py-spy samples every thread, so busy samples approximate CPU time.
    """
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    threads: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    busy_total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        thread, *frames = stack.split(";")
        threads[thread][1] += count
        leaf = frames[-1] if frames else ""
        if not frames or any(leaf.startswith(w) or f"{w} (" in leaf for w in IDLE) or "0x" in leaf[:2]:
            continue  # idle, or an unresolved libc frame (futex waits, mostly)
        threads[thread][0] += count
        busy_total += count
        own[_name(leaf)[0]] += count
        for frame in {_name(f)[1] for f in frames}:
            incl[frame] += count
    total = max(busy_total, 1)
    out = ["thread: busy / all samples"]
    out += [f"  {name[:70]}: {b} / {a}" for name, (b, a) in sorted(threads.items(), key=lambda t: -t[1][0])]
    out += ["", "self % of busy samples  (innermost frame)"]
    out += [f"{100 * n / total:5.1f}  {name}" for name, n in own.most_common(top)]
    out += ["", "incl % of busy samples  (function anywhere on the stack)"]
    out += [f"{100 * n / total:5.1f}  {name}" for name, n in incl.most_common(top)]
    return "\n".join(out)


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of every thread of a process, from /proc/<pid>/task/*/stat."""
    out: dict[int, float] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def _comm(pid: int, tid: int) -> str:
    """The thread's name (granian's, watchfiles' and our IO threads name theirs)."""
    try:
        return Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
    except OSError:
        return "?"


def cpu_split(bench: Bench, proc: Proc, name: str, target: str, kwargs: dict[str, object]) -> str:
    """One wrk run with nothing attached: the share of a core each server thread used."""
    before, started = thread_cpu(proc.pid), time.perf_counter()
    result = bench.load(name, target, **kwargs)  # type: ignore[arg-type]
    after, elapsed = thread_cpu(proc.pid), time.perf_counter() - started
    lines = [
        f"wrk without a sampler: {result.rps:,.0f} req/s, p99 {result.p99_ms:.2f} ms",
        "CPU per server thread during that run (share of one core; tid = pid is the asyncio loop):",
    ]
    for tid, secs in sorted(after.items(), key=lambda t: before.get(t[0], 0) - t[1]):
        share = (secs - before.get(tid, 0.0)) / elapsed
        if share >= 0.005:
            main = " (main)" if tid == proc.pid else ""
            lines.append(f"  tid {tid} {_comm(proc.pid, tid)}{main}: {share:.0%}")
    used = sum(after.values()) - sum(before.values())
    per_request = 1e6 * used / result.requests
    lines.append(f"  process total: {used / elapsed:.0%}, {per_request:.1f} µs of CPU per request")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("row", choices=["hit", "304", "404", "post", "100k"])
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--workdir", type=Path)
    p.add_argument("--native", action="store_true", help="include native (C/Rust) frames (pauses the target)")
    p.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    p.add_argument("--gil", action="store_true", help="only the thread holding the GIL (Python CPU time)")
    p.add_argument("--top", type=int, default=30)
    a = p.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    workdir = a.workdir or Path(tempfile.mkdtemp(prefix="nas-profile-"))
    bench = Bench(parse_args(["--duration", str(a.duration), "--workdir", str(workdir)]), workdir)
    bench.setup()
    store, probe = bench.one, bench.key
    url = f"http://127.0.0.1:{{port}}{ACCOUNTS}{bench.key}"
    kwargs: dict[str, object] = {}
    if a.row == "304":
        kwargs["headers"] = [f'If-None-Match: "{bench.jti}"']
    elif a.row == "404":
        url = f"http://127.0.0.1:{{port}}{ACCOUNTS}{random_account_key()}"
    elif a.row == "post":
        store, probe = bench.post_store, bench.post_rows[0][0][len(ACCOUNTS) :]
        kwargs = {"script": workdir / "post.lua", "script_args": [str(workdir / "post.txt"), "2"]}
        url = "http://127.0.0.1:{port}"
    elif a.row == "100k":
        store, probe = workdir / "stores" / "100k", (workdir / "keys-100k.txt").read_text().split()[0]
        kwargs = {"script": workdir / "random.lua", "script_args": [str(workdir / "keys-100k.txt")]}
        url = "http://127.0.0.1:{port}"
    with bench.server(a.row, store, probe) as (proc, port, _):
        target = url.format(port=port)
        print(cpu_split(bench, proc, a.row, target, kwargs))
        raw = workdir / f"profile-{a.row}.txt"
        argv = [
            spy,
            "record",
            "--pid",
            str(proc.pid),
            "--format",
            "raw",
            "--output",
            str(raw),
            "--rate",
            str(a.rate),
            "--duration",
            str(a.duration),
            "--threads",
        ]
        # native stacks need the target paused while sampled (slower), and then show the waits themselves
        # (--idle keeps them, summarize() drops them); Python-only sampling lets py-spy drop idle threads
        argv += ["--native", "--idle"] if a.native else ["--nonblocking"]
        if a.gil:
            argv.append("--gil")
        raw.unlink(missing_ok=True)
        spy_proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(0.5)
        result = bench.load(a.row, target, **kwargs)  # type: ignore[arg-type]
        spy_out = spy_proc.communicate(timeout=a.duration + 30)[0]
        if not raw.exists():
            print(spy_out)
            return 1
        print(f"\nwrk under py-spy: {result.rps:,.0f} req/s, p99 {result.p99_ms:.2f} ms")
        print(f"collapsed stacks (flamegraph.pl input): {raw}\n")
        print(summarize(raw, a.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
