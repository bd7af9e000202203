"""A running server per JWT generation, shared by the HTTP tests of a module."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.procs import ServerProcess, start_server
from tests.support.trust import Trust


@dataclass
class Running:
    proc: ServerProcess
    trust: Trust
    store: Path
    client: httpx.Client

    def url(self, path: str) -> str:
        return self.proc.url + path


def server_config(trust: Trust, store: Path, extra: str = "") -> str:
    return (
        f'operatorjwtpath: "{trust.operator_jwt_path}"\n'
        f'systemaccountjwtpath: "{trust.system_account_jwt_path}"\n'
        f'store {{ dir: "{store}" }}\n'
        "logging { colors: false, trace: true }\n"
        "http { host: 127.0.0.1, port: 0 }\n" + extra
    )


@pytest.fixture(scope="module", params=[2, 1], ids=["v2", "v1"])
def running(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    base = tmp_path_factory.mktemp(f"http-v{request.param}")
    trust = Trust(base / "trust", version=request.param)
    store = base / "store"
    proc = start_server(config_text=server_config(trust, store), tmp_path=base)
    with httpx.Client(timeout=10) as client:
        try:
            yield Running(proc, trust, store, client)
        finally:
            proc.stop()
