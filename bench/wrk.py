"""Running wrk (pinned to its own core) and reading its report; the Lua scripts the rows need."""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

# Each wrk thread runs its own Lua state: `setup` numbers the threads, `init` loads the lines.
RANDOM_KEYS_LUA = """-- GET over random keys from a file (one key a line)
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
local keys = {}
local n = 0
function init(args)
  math.randomseed(os.time() * 1000 + (id or 1))
  for line in io.lines(args[1]) do
    n = n + 1
    keys[n] = "{prefix}" .. line
  end
end
function request()
  return wrk.format("GET", keys[math.random(n)])
end
"""

# POST: thread k takes the accounts i with i % threads == k and walks them in order; cycle c posts
# variant c % 2, so every request replaces what the previous visit stored (no "unchanged" 200s).
POST_LUA = """-- POST a cycle of pre-minted account JWTs: lines are "<path> <variant0> <variant1>"
local counter = 0
local threads = {}
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end
local paths, bodies = {}, {{}, {}}
local n, pos, cycle = 0, 0, 0
function init(args)
  local total = tonumber(args[2])
  local i = 0
  for line in io.lines(args[1]) do
    if i % total == (id - 1) then
      local p, a, b = line:match("^(%S+) (%S+) (%S+)$")
      n = n + 1
      paths[n], bodies[1][n], bodies[2][n] = p, a, b
    end
    i = i + 1
  end
end
function request()
  pos = pos + 1
  if pos > n then
    pos, cycle = 1, cycle + 1
  end
  return wrk.format("POST", paths[pos], nil, bodies[cycle % 2 + 1][pos])
end
"""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
_DURATION = re.compile(r"([\d.]+)(us|ms|s|m)\b")


@dataclass(frozen=True, slots=True)
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx_3xx: int
    socket_errors: int
    command: str
    busy: dict[str, float]  # share of each core that was busy (not idle/iowait) during the run


def core_times() -> dict[str, tuple[int, int]]:
    """(busy, total) jiffies per core from /proc/stat."""
    out: dict[str, tuple[int, int]] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            ticks = [int(v) for v in values[:8]]
            out[name] = (sum(ticks) - ticks[3] - ticks[4], sum(ticks))
    return out


def busy_share(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> dict[str, float]:
    return {
        name: (after[name][0] - before[name][0]) / max(1, after[name][1] - before[name][1])
        for name in after
        if name in before
    }


def _ms(text: str) -> float:
    m = _DURATION.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"unparsable wrk duration {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse(output: str, command: str, busy: dict[str, float] | None = None) -> WrkResult:
    """Requests/sec, the 50/99 % latencies of `--latency`, totals and error counts."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    total = re.search(r"(\d+) requests in", output)
    if not (rps and p50 and p99 and total):
        raise RuntimeError(f"could not parse wrk output of {command}:\n{output}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return WrkResult(
        rps=float(rps.group(1)),
        p50_ms=_ms(p50.group(1)),
        p99_ms=_ms(p99.group(1)),
        requests=int(total.group(1)),
        non_2xx_3xx=int(bad.group(1)) if bad else 0,
        socket_errors=sum(int(x) for x in sock.groups()) if sock else 0,
        command=command,
        busy=busy or {},
    )


class Wrk:
    """Builds the command lines (kept for the report) and runs them."""

    def __init__(
        self, duration: int, *, threads: int = 2, connections: int = 50, cpu: str = "1", binary: str = "wrk"
    ) -> None:
        self.duration = duration
        self.threads = threads
        self.connections = connections
        self.cpu = cpu
        self.binary = binary
        self.commands: dict[str, str] = {}

    def argv(
        self,
        url: str,
        *,
        headers: list[str] | None = None,
        script: Path | None = None,
        script_args: list[str] | None = None,
        duration: int | None = None,
    ) -> list[str]:
        argv = [
            "taskset",
            "-c",
            self.cpu,
            self.binary,
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{duration or self.duration}s",
            "--latency",
        ]
        for header in headers or []:
            argv += ["-H", header]
        if script is not None:
            argv += ["-s", str(script)]
        argv.append(url)
        if script_args:
            argv += ["--", *script_args]
        return argv

    def run(self, name: str, url: str, *, record: bool = True, **kwargs: object) -> WrkResult:
        argv = self.argv(url, **kwargs)  # type: ignore[arg-type]
        command = shlex.join(argv)
        if record:
            self.commands.setdefault(name, command)
        before = core_times()
        done = subprocess.run(argv, capture_output=True, text=True, timeout=(self.duration + 60) * 2)
        busy = busy_share(before, core_times())
        if done.returncode != 0:
            raise RuntimeError(f"{command} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return parse(done.stdout, command, busy)


def write_random_keys_script(path: Path, prefix: str) -> Path:
    path.write_text(RANDOM_KEYS_LUA.replace("{prefix}", prefix))
    return path


EVERY_KEY_LUA = """\
-- GET every key of a file once (threads take turns), then stop and leave "<done>.<id>" behind
-- (wrk's main thread sleeps for -d regardless: the caller interrupts it when every file is there)
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
local keys, n, pos, step, answered, share = {}, 0, 0, 1, 0, 0
function init(args)
  for line in io.lines(args[1]) do
    n = n + 1
    keys[n] = "{prefix}" .. line
  end
  step = tonumber(args[2])
  done = args[3] .. "." .. id
  pos = id - step
  share = math.floor((n - id) / step) + 1
end
function request()
  pos = pos + step
  if pos > n then pos = id end
  return wrk.format("GET", keys[pos])
end
function response(status, headers, body)
  answered = answered + 1
  if answered == share then
    io.open(done, "w"):close()
    wrk.thread:stop()
  end
end
"""


def write_every_key_script(path: Path, prefix: str) -> Path:
    path.write_text(EVERY_KEY_LUA.replace("{prefix}", prefix))
    return path


def every_key_once(wrk: Wrk, url: str, script: Path, keys: Path, done: Path, limit: float = 900) -> float:
    """Seconds one pass of ``script`` (write_every_key_script) over ``keys`` took."""
    marks = [Path(f"{done}.{i}") for i in range(1, wrk.threads + 1)]
    for mark in marks:
        mark.unlink(missing_ok=True)
    argv = wrk.argv(
        url, script=script, script_args=[str(keys), str(wrk.threads), str(done)], duration=int(limit)
    )
    started = time.perf_counter()
    with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        while not all(m.exists() for m in marks) and time.perf_counter() - started < limit:
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    return time.perf_counter() - started


def write_post_script(path: Path) -> Path:
    path.write_text(POST_LUA)
    return path


def write_post_data(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """One line per account: the request path and its two pre-minted JWT variants."""
    path.write_text("".join(f"{p} {a} {b}\n" for p, a, b in rows))
    return path
