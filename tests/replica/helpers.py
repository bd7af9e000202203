"""Helpers for replica tests: primary/replica processes and a scripted fake primary.

Everything runs on 127.0.0.1 with bounded waits; processes are stopped at teardown (the reaper in
tests/conftest.py catches any a failing test leaves behind).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.support.procs import ServerProcess, start_server
from tests.support.trust import Trust

TIMEOUT = 10.0


def server_config(
    trust: Trust,
    *,
    store: Path | None = None,
    primary: str | None = None,
    extra: str = "",
) -> str:
    """Operator, optional directory store and primary, colourless logs, an ephemeral port."""
    lines = [f'operatorjwtpath: "{trust.operator_jwt_path}"']
    if store is not None:
        lines.append(f'store {{ dir: "{store}" }}')
    if primary is not None:
        lines.append(f'primary: "{primary}"')
    lines += ["logging { colors: false }", "http { host: 127.0.0.1, port: 0 }"]
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n"


@dataclass
class Cluster:
    """Builds primaries and replicas for one test; all share one trust (v1 or v2)."""

    trust: Trust
    tmp: Path
    client: httpx.Client
    counter: int = 0
    procs: list[ServerProcess] = field(default_factory=list)

    def _dir(self, prefix: str) -> Path:
        self.counter += 1
        path = self.tmp / f"{prefix}{self.counter}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def start(self, config_text: str, *args: str, ready: bool = True, name: str = "server") -> ServerProcess:
        work = self._dir(name)
        proc = start_server(*args, config_text=config_text, tmp_path=work, ready=ready, timeout=TIMEOUT)
        self.procs.append(proc)
        return proc

    def primary(self, *, store: Path | None = None, extra: str = "") -> ServerProcess:
        return self.start(server_config(self.trust, store=store, extra=extra), name="primary")

    def replica(
        self,
        primary_url: str | None,
        *args: str,
        store: Path | None = None,
        extra: str = "",
        ready: bool = True,
    ) -> ServerProcess:
        config = server_config(self.trust, store=store, primary=primary_url, extra=extra)
        return self.start(config, *args, ready=ready, name="replica")

    def store_dir(self) -> Path:
        return self._dir("store")

    # -------------------------------------------------------------- HTTP helpers

    def post_account(self, proc: ServerProcess, name: str, **overrides: Any) -> str:
        jwt = self.trust.account_jwt(name, **overrides)
        resp = self.client.post(
            f"{proc.url}/jwt/v1/accounts/{self.trust.pub(name)}",
            content=jwt,
            headers={"content-type": "application/jwt"},
        )
        assert resp.status_code == 200, resp.text
        return jwt

    def post_activation(self, proc: ServerProcess, jwt: str) -> None:
        resp = self.client.post(f"{proc.url}/jwt/v1/activations", content=jwt)
        assert resp.status_code == 200, resp.text

    def get(self, proc: ServerProcess, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(f"{proc.url}{path}", **kwargs)

    def account(self, proc: ServerProcess, key: str) -> httpx.Response:
        return self.get(proc, f"/jwt/v1/accounts/{key}")

    def add_accounts(self, count: int, prefix: str = "N") -> list[str]:
        names = [f"{prefix}{i}" for i in range(count)]
        for name in names:
            self.trust.add_account(name)
        return names


# ------------------------------------------------------------------- fake primary

Handler = Callable[[str], tuple[int, bytes, float]]  # path -> (status, body, delay seconds)


class FakePrimary:
    """A tiny HTTP server answering every GET from a script: for non-200 and slow primaries."""

    def __init__(self, handler: Handler) -> None:
        script = handler
        self.requests: list[str] = []
        self.stop_event = threading.Event()
        owner = self

        class _H(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                owner.requests.append(self.path)
                status, body, delay = script(self.path)
                if delay:
                    owner.stop_event.wait(delay)
                try:
                    self.send_response(status)
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.stop_event.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
