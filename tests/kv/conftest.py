"""Fixtures for the JetStream KV store tests: one 3-node cluster per session, a bucket per test."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kv_cluster import JSCluster
from kv_helpers import server_config

from tests.support.procs import ServerProcess, start_server
from tests.support.trust import Trust

_buckets = itertools.count(1)


@pytest.fixture(scope="session")
def js_cluster(tmp_path_factory: pytest.TempPathFactory, nats_server_bin: str) -> Iterator[JSCluster]:
    cluster = JSCluster(tmp_path_factory.mktemp("jscluster"), nats_server_bin)
    try:
        cluster.start()
        asyncio.run(cluster.wait_jetstream())
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
async def cluster(js_cluster: JSCluster) -> JSCluster:
    """The session cluster with every node up (a fault test may have left one down)."""
    if not all(n.running for n in js_cluster.nodes):
        js_cluster.start()
    await js_cluster.wait_jetstream()
    return js_cluster


@pytest.fixture
def bucket() -> str:
    """A fresh bucket name per test, so tests never see each other's JWTs."""
    return f"jwts-{next(_buckets)}"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
        yield client


@pytest.fixture
def kv_server(
    tmp_path: Path, trust: Trust, cluster: JSCluster, bucket: str
) -> Iterator[Callable[..., ServerProcess]]:
    """`kv_server(name, **server_config kwargs)`: an account server on the test's bucket, ready."""
    procs: list[ServerProcess] = []

    def _start(name: str = "a", *, ready: bool = True, **kwargs: Any) -> ServerProcess:
        kwargs.setdefault("trust", trust)
        kwargs.setdefault("servers", cluster.urls)
        kwargs.setdefault("bucket", bucket)
        text = server_config(**kwargs)
        proc = start_server(
            config_text=text, tmp_path=tmp_path, config_name=f"{name}.conf", ready=ready, timeout=20
        )
        proc.name = f"account-server-{name}"
        procs.append(proc)
        return proc

    yield _start
    for proc in reversed(procs):
        proc.stop(timeout=5)
        print(proc.describe(400))  # shown by pytest for failing tests only
