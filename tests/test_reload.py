"""SIGHUP under load: every request the server accepted is answered, across every reload.

The listening socket is kept when the new configuration listens where the old one did, so
connections that arrive while the instances change places wait in its queue instead of being
refused, and the old instance finishes the requests it has before it stops.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx

from tests.support.ports import free_port
from tests.support.procs import ServerProcess
from tests.support.trust import Trust

RELOADS = 5
CLIENTS = 8


def config(trust: Trust, store: Path, port: int, extra: str = "") -> str:
    return (
        f"http {{ host: 127.0.0.1, port: {port} }}\nlogging {{ colors: false }}\n"
        f'operatorjwtpath: "{trust.operator_jwt_path}"\nstore {{ dir: "{store}" }}\n{extra}'
    )


def test_reloads_under_load_answer_every_request(tmp_path: Path) -> None:
    trust = Trust(tmp_path / "trust")
    store = tmp_path / "store"
    port = free_port()
    conf = tmp_path / "server.conf"
    conf.write_text(config(trust, store, port))
    proc = ServerProcess(["-c", str(conf)], cwd=tmp_path).start()
    key = trust.pub("A")
    jwt = trust.account_jwt("A")
    stop = threading.Event()
    answered: list[int] = []
    failures: list[str] = []

    def client(fresh: bool) -> None:
        url = f"http://127.0.0.1:{port}/jwt/v1/accounts/{key}"
        with httpx.Client(timeout=10) as keep_alive:
            while not stop.is_set():
                try:
                    if fresh:
                        reply = httpx.get(url, timeout=10)
                    else:
                        reply = keep_alive.get(url)
                    if reply.status_code != 200 or reply.text != jwt:
                        failures.append(f"{reply.status_code} {reply.text[:60]!r}")
                    answered.append(1)
                except httpx.HTTPError as exc:
                    failures.append(f"{'fresh' if fresh else 'kept'}: {exc!r}")

    def uploader() -> None:  # uploads in flight when a reload starts are finished by the old instance
        url = f"http://127.0.0.1:{port}/jwt/v1/accounts/{trust.pub('B')}"
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                try:
                    reply = client.post(url, content=trust.account_jwt("B"))
                    if reply.status_code != 200:
                        failures.append(f"POST {reply.status_code} {reply.text[:60]!r}")
                    answered.append(1)
                except httpx.HTTPError as exc:
                    failures.append(f"POST: {exc!r}")

    try:
        proc.wait_ready()
        assert httpx.post(f"http://127.0.0.1:{port}/jwt/v1/accounts/{key}", content=jwt).status_code == 200
        threads = [threading.Thread(target=client, args=(n % 2 == 0,)) for n in range(CLIENTS)]
        threads.append(threading.Thread(target=uploader))
        for t in threads:
            t.start()
        time.sleep(0.5)
        for n in range(RELOADS):
            mark = proc.mark()
            conf.write_text(config(trust, store, port, f"# reload {n}\n"))
            proc.send_signal(signal.SIGHUP)
            proc.wait_ready(since=mark)
            time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join(15)
        assert len(proc.find_lines("received sig-hup, restarting")) == RELOADS
        assert not failures, f"{len(failures)} of {len(answered) + len(failures)} failed: {failures[:5]}"
        assert len(answered) > 100
    finally:
        stop.set()
        proc.stop()
