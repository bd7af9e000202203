"""The big-store rows with NATS connected, as in production: memory at start, under GETs and under a
stream of new accounts, and cold random reads with the server allowed both cores.

A nats-server in operator mode uses the account server as its `resolver: URL(...)`, and the account
server connects to it with a system-account user, so the JWT sync (store hash, pack responder) runs.
Peak memory is the kernel's high-water mark (`VmHWM`), read once the start has settled (the server's
CPU time stops growing), so it covers the start and the store hash's scan.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mint import FastMinter, Operator, random_account_key, strip_marks
from notify import nats_server_binary, wait_log
from procs import Proc, account_server, cpu_seconds, free_port
from wrk import Wrk, every_key_once

from nats_account_server.core.verifier import WORKERS_ENV

ACCOUNTS = "/jwt/v1/accounts/"

# POST every line of a file once ("<path> <jwt>"), threads taking turns; thread k leaves "<done>.<k>"
UPLOAD_ONCE_LUA = """\
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
local paths, bodies, n, pos, answered = {}, {}, 0, 0, 0
function init(args)
  local step, i = tonumber(args[2]), 0
  for line in io.lines(args[1]) do
    if i % step == (id - 1) then
      local p, b = line:match("^(%S+) (%S+)$")
      n = n + 1
      paths[n], bodies[n] = p, b
    end
    i = i + 1
  end
  done = args[3] .. "." .. id
end
function request()
  pos = pos + 1
  if pos > n then pos = 1 end
  return wrk.format("POST", paths[pos], nil, bodies[pos])
end
function response(status, headers, body)
  answered = answered + 1
  if answered == n then
    io.open(done, "w"):close()
    wrk.thread:stop()
  end
end
"""


def memory(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MiB."""
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) / 1024
    return found["VmRSS"], found["VmHWM"]


def settle(pid: int, timeout: float = 300.0, idle: float = 0.03) -> float:
    """Wait until the process uses less than `idle` of a core over half a second (its start's
    background work, such as the store hash, is done); seconds waited."""
    started = time.monotonic()
    last = cpu_seconds(pid)
    while time.monotonic() - started < timeout:
        time.sleep(0.5)
        now = cpu_seconds(pid)
        if now - last < idle * 0.5:
            break
        last = now
    return time.monotonic() - started


@dataclass
class NatsSetup:
    """The files a production-like NATS side needs: nats-server's configuration, the system user."""

    conf: Path
    creds: Path
    log: Path


def prepare_nats(workdir: Path, operator: Operator, operator_jwt: Path, as_port: int) -> NatsSetup:
    workdir.mkdir(parents=True, exist_ok=True)
    creds = workdir / "sys.creds"
    creds.write_text(operator.user_creds(operator.sys_seed, "sys"))
    conf = workdir / f"nats-{as_port}.conf"
    conf.write_text(
        f'operator: "{operator_jwt}"\nsystem_account: {operator.sys_pub}\n'
        f"resolver: URL(http://127.0.0.1:{as_port}/jwt/v1/accounts/)\n"
    )
    return NatsSetup(conf, creds, workdir / "nats-server.log")


def add_system_account(store: Path, operator: Operator) -> None:
    """nats-server asks the resolver for its system account first: the store serves it."""
    path = store / f"{operator.sys_pub}.jwt"
    if not path.exists():
        path.write_text(operator.system_account_jwt())


@contextmanager
def with_nats(
    name: str,
    store: Path,
    operator: Operator,
    operator_jwt: Path,
    logs: Path,
    *,
    cpu: str = "0",
    env: dict[str, str] | None = None,
) -> Iterator[tuple[Proc, int]]:
    """The account server on `store` connected to an operator-mode nats-server (on core 1), which
    starts once the account server answers (it is that nats-server's resolver)."""
    add_system_account(store, operator)
    as_port, nats_port = free_port(), free_port()
    setup = prepare_nats(logs / "nats", operator, operator_jwt, as_port)
    natsd_argv = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(nats_port), "-c", str(setup.conf)]
    natsd = Proc("nats-server", natsd_argv, setup.log, cpu="1")
    server = account_server(
        name,
        as_port,
        store,
        logs / f"{name}-nats.log",
        operator_jwt=operator_jwt,
        extra=["-nats", f"nats://127.0.0.1:{nats_port}", "-creds", str(setup.creds)],
    )
    server.argv[2] = cpu
    server.env.update(env or {})
    with server:  # nats-server fetches its system account from the resolver when it starts
        server.wait_status(as_port, f"{ACCOUNTS}{operator.sys_pub}", timeout=120)
        with natsd:
            wait_log(natsd, "Server is ready")
            wait_log(server, "connected to NATS for account and activation notifications", timeout=60)
            yield server, as_port


def write_uploads(path: Path, operator: Operator, count: int) -> list[str]:
    """`count` new accounts as "<path> <jwt>" lines; returns their keys."""
    minter = FastMinter(operator.seed, int(time.time()))
    keys = [random_account_key() for _ in range(count)]
    with path.open("w") as out:
        for key in keys:
            out.write(f"{ACCOUNTS}{key} {minter.account_jwt(key)}\n")
    return keys


def remove_uploads(store: Path, keys: list[str]) -> None:
    for key in keys:
        try:
            os.unlink(store / f"{key}.jwt")
        except FileNotFoundError:
            pass


class ScaleRows:
    """The rows of this module, as methods of run.py's Bench (whose helpers they use)."""

    dir: Path
    logs: Path
    args: Any
    wrk: Wrk
    results: Any
    operator: Operator
    operator_jwt: Path

    def nats_memory(self, name: str) -> None:
        """RSS with the JWT sync on (an operator-mode nats-server, the account server connected with a
        system user): settled after the start, after random GETs, and the peak of the start."""
        store = self.dir / "stores" / name
        self.quiet()
        with with_nats(name, store, self.operator, self.operator_jwt, self.logs) as (proc, port):
            took = settle(proc.pid)
            rss, peak = memory(proc.pid)
            self.random_load(f"{name} with NATS: random keys", port, f"keys-{name}.txt")
            after, _ = memory(proc.pid)
        print(
            f"  {name} with NATS: RSS {rss:.1f} MiB settled ({took:.1f} s), peak {peak:.1f}, "
            f"after GETs {after:.1f}",
            flush=True,
        )
        self.results.add(f"nats_rss_{name}", rss)
        self.results.add(f"nats_peak_{name}", peak)
        self.results.add(f"nats_rss_get_{name}", after)

    def upload_stream(self, count: int = 100_000) -> None:
        """RSS after `count` new accounts were uploaded to the 100k store with NATS connected (the
        uploaded files are removed again afterwards)."""
        store = self.dir / "stores" / "100k"
        data, script, done = self.dir / "uploads.txt", self.dir / "upload-once.lua", self.dir / "uploads.done"
        script.write_text(UPLOAD_ONCE_LUA)
        uploaded = write_uploads(data, self.operator, count)
        self.quiet()
        try:
            with with_nats("100k-uploads", store, self.operator, self.operator_jwt, self.logs) as (
                proc,
                port,
            ):
                settle(proc.pid)
                took = every_key_once(self.wrk, f"http://127.0.0.1:{port}", script, data, done)
                self.expect(port, ACCOUNTS + uploaded[-1], 200)
                rss, peak = memory(proc.pid)
        finally:
            remove_uploads(store, uploaded)
        print(f"  {count:,} uploads in {took:.1f} s: RSS {rss:.1f} MiB, peak {peak:.1f}", flush=True)
        self.results.add("upload_rss", rss)
        self.results.add("upload_peak", peak)

    def shared(self) -> None:
        """Cold random reads of the never-verified 100k store, first with every first read on the event
        loop (``NATS_ACCOUNT_SERVER_CHECK_WORKERS=0``: the server as it was before checking processes),
        then as configured by default, and the hot hit, with the server and wrk both allowed both cores."""
        store = self.dir / "stores" / "100k"
        keys = (self.dir / "keys-100k.txt").read_text().split()
        wrk, self.wrk = self.wrk, Wrk(self.args.duration, cpu="0,1")
        os.sched_setaffinity(0, {0, 1})
        try:
            for row, env in (("cold_shared_inline", {WORKERS_ENV: "0"}), ("cold_shared", None)):
                print(f"  shared: {strip_marks(store):,} verified marks removed", flush=True)
                with self.server(row, store, keys[0], cpu="0,1", env=env) as (_, port, _s):
                    name = "never-verified, shared cores" + (", checks inline" if env else "")
                    cold = self.random_load(f"100k random keys, {name}", port, "keys-100k.txt")
                    self.results.add(row, cold.rps)
                    if env is None:
                        url = f"http://127.0.0.1:{port}{ACCOUNTS}{keys[0]}"
                        self.warm_up(url)
                        hit = self.load("100k: hit (one account), shared cores", url)
                        self.results.add("hit_shared", hit.rps)
        finally:
            self.wrk.commands.update({k: v for k, v in wrk.commands.items() if k not in self.wrk.commands})
            wrk.commands.update(self.wrk.commands)
            self.wrk = wrk
            os.sched_setaffinity(0, {1})
