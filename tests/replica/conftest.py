"""Fixtures for replica tests: a Cluster (v2 and v1 trust) and fake primaries; see helpers.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from replica.helpers import TIMEOUT, Cluster, FakePrimary, Handler

from tests.support.trust import Trust


@pytest.fixture(params=[2, 1], ids=["v2", "v1"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    trust = Trust(tmp_path / "trust", version=request.param)
    with httpx.Client(timeout=TIMEOUT, trust_env=False) as client:
        c = Cluster(trust, tmp_path, client)
        try:
            yield c
        finally:
            for proc in reversed(c.procs):
                proc.stop(timeout=5)


@pytest.fixture
def fake_primary() -> Iterator[Callable[[Handler], FakePrimary]]:
    made: list[FakePrimary] = []

    def _make(handler: Handler) -> FakePrimary:
        fake = FakePrimary(handler)
        made.append(fake)
        return fake

    yield _make
    for fake in made:
        fake.close()
