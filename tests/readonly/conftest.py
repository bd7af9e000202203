"""Fixtures for the read-only store tests (real server process, real files, real nats-server)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from readonly_helpers import NscFolder

from tests.support.natsserver import NatsServer
from tests.support.trust import Trust


@pytest.fixture(params=[2, 1], ids=["v2", "v1"])
def any_trust(request: pytest.FixtureRequest, tmp_path: Path) -> Trust:
    """The seed's operator "Test" with accounts A, B, C (and SYS), as v2 and as v1 JWTs."""
    return Trust(tmp_path / f"trust_v{request.param}", version=request.param, operator_name="Test")


@pytest.fixture
def nsc_folder(tmp_path: Path, any_trust: Trust) -> NscFolder:
    """``<tmp>/nsc/nats/Test`` as nsc lays it out: accounts A and B with users, C not added yet."""
    folder = NscFolder(tmp_path / "nsc" / "nats", any_trust)
    folder.add_account("SYS", users=("sys",))
    folder.add_account("A", users=("a",))
    folder.add_account("B", users=("b",))
    return folder


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
def plain_nats(nats_factory: Callable[..., NatsServer]) -> NatsServer:
    """A nats-server without auth: our server and the test subscriber share its global account."""
    return nats_factory()
