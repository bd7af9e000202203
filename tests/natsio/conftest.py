"""Fixtures for the NATS tests: a plain nats-server, an HTTP client, our server wired to NATS."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats_helpers import server_config

from tests.support.natsserver import NatsServer
from tests.support.procs import ServerProcess, start_server
from tests.support.trust import Trust


@pytest.fixture
def plain_nats(nats_factory: Callable[..., NatsServer]) -> NatsServer:
    """A nats-server without auth: our server and the test client share its global account."""
    return nats_factory()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
def account_server(tmp_path: Path, trust: Trust) -> Callable[..., ServerProcess]:
    """`account_server(nats_url, **server_config kwargs)`: our server trusting `trust`, started and ready."""

    def _start(
        nats_url: str | None,
        *,
        ready: bool = True,
        name: str = "server.conf",
        args: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> ServerProcess:
        kwargs.setdefault("trust", trust)
        text = server_config(nats_url, **kwargs)
        return start_server(
            *args, config_text=text, tmp_path=tmp_path, config_name=name, ready=ready, timeout=20
        )

    return _start
