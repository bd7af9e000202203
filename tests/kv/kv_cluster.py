"""A real 3-node nats-server JetStream cluster on 127.0.0.1 for the KV store tests.

Plain (non-operator) servers without auth: the KV lives in the global account. Each node has its
own `server_name`, JetStream store dir under tmp and cluster routes to the other two on free
loopback ports. Ports and store dirs survive `stop`/`start`, so a restarted node (or the whole
cluster) recovers its streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from pathlib import Path

import nats
import nats.errors
import nats.js.errors

from tests.support.natsserver import NatsServer
from tests.support.ports import free_port

CLUSTER_NAME = "kvtest"
READY_TIMEOUT = 20.0


def node_config(name: str, store_dir: Path, cluster_port: int, routes: Sequence[int]) -> str:
    route_urls = ", ".join(f'"nats://127.0.0.1:{p}"' for p in routes)
    return (
        f"server_name: {name}\n"
        f'jetstream {{ store_dir: "{store_dir}", max_memory_store: 64MB, max_file_store: 256MB }}\n'
        f"cluster {{\n  name: {CLUSTER_NAME}\n  listen: 127.0.0.1:{cluster_port}\n"
        f"  routes: [{route_urls}]\n}}\n"
    )


class JSCluster:
    """Three nats-server processes forming one JetStream cluster."""

    def __init__(self, tmp_path: Path, binary: str, size: int = 3) -> None:
        self.tmp_path = tmp_path
        cluster_ports = [free_port() for _ in range(size)]
        self.nodes: list[NatsServer] = []
        for i in range(size):
            name = f"js{i + 1}"
            store = tmp_path / f"{name}-data"
            store.mkdir(parents=True, exist_ok=True)
            routes = [p for j, p in enumerate(cluster_ports) if j != i]
            text = node_config(name, store, cluster_ports[i], routes)
            self.nodes.append(NatsServer(text, tmp_path=tmp_path, binary=binary, name=name))

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def start(self) -> JSCluster:
        for node in self.nodes:
            if not node.running:
                node.start()
        for node in self.nodes:
            node.wait_ready(READY_TIMEOUT)
        return self

    def stop(self) -> None:
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.stop(timeout=5)

    def ensure_running(self) -> None:
        if not all(n.running for n in self.nodes):
            self.start()

    async def wait_jetstream(self, timeout: float = READY_TIMEOUT) -> None:
        """Until the meta leader is elected and a client can use the JetStream API on every node."""
        deadline = time.monotonic() + timeout
        for url in [n.url for n in self.nodes if n.running]:
            while True:
                try:
                    nc = await nats.connect(url, connect_timeout=2, allow_reconnect=False)
                    try:
                        await nc.jetstream(timeout=2).account_info()
                        break
                    finally:
                        await nc.close()
                except (TimeoutError, nats.errors.Error, nats.js.errors.Error, OSError) as exc:
                    if time.monotonic() > deadline:
                        raise AssertionError(f"JetStream not ready on {url}: {exc!r}") from exc
                    await asyncio.sleep(0.2)
