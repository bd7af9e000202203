"""Deleting an account from a shared JetStream KV bucket: every instance stops serving it, and the
tombstone in the bucket keeps old copies out on every instance while a newer JWT comes back."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from kv_cluster import JSCluster
from kv_helpers import eventually, get_account, kv_client, post_account, server_config, wait_served

from tests.support.deletes import delete_jwt
from tests.support.procs import ServerProcess, start_server
from tests.support.trust import Trust


@pytest.fixture
def deleting_server(
    tmp_path: Path, cluster: JSCluster, bucket: str
) -> Iterator[Callable[..., ServerProcess]]:
    """`deleting_server(name, trust, hard)`: an account server on the bucket that allows deletes."""
    procs: list[ServerProcess] = []

    def _start(name: str, trust: Trust, hard: bool) -> ServerProcess:
        text = server_config(trust=trust, servers=cluster.urls, bucket=bucket)
        allow = "allow_delete: true" + (", hard_delete: true" if hard else "")
        text = text.replace("store {\n", f"store {{\n  {allow}\n", 1)
        proc = start_server(config_text=text, tmp_path=tmp_path, config_name=f"{name}.conf", timeout=20)
        procs.append(proc)
        return proc

    yield _start
    for proc in reversed(procs):
        proc.stop(timeout=5)
        print(proc.describe(400))  # shown by pytest for failing tests only


async def _gone(http: httpx.AsyncClient, base: str, pub: str) -> bool:
    return (await get_account(http, base, pub)).status_code == 404


@pytest.mark.parametrize(("version", "hard"), [(2, False), (1, True)], ids=["v2-soft", "v1-hard"])
async def test_every_instance_stops_serving_a_deleted_account(
    version: int,
    hard: bool,
    tmp_path: Path,
    deleting_server: Callable[..., ServerProcess],
    http: httpx.AsyncClient,
    cluster: JSCluster,
    bucket: str,
) -> None:
    trust = Trust(tmp_path / "trust", version=version)
    one, two = deleting_server("one", trust, hard), deleting_server("two", trust, hard)
    a, b = trust.pub("A"), trust.pub("B")
    old = trust.account_jwt("A", iat=int(time.time()) - 5)
    assert (await post_account(http, one.url, a, old)).status_code == 200
    assert (await post_account(http, one.url, b, trust.account_jwt("B"))).status_code == 200
    await wait_served(http, two.url, a, old)

    resp = await http.request("DELETE", f"{one.url}/jwt/v1/accounts/{a}", content=delete_jwt(trust, "A"))
    assert resp.status_code == 200 and resp.text == "deleted 1 accounts\n", resp.text
    assert await _gone(http, one.url, a)
    await eventually(lambda: _gone(http, two.url, a), timeout=5)
    # the same request reaching a sibling (as the copy forwarded over NATS does): deleted already
    resp = await http.request("DELETE", f"{two.url}/jwt/v1/accounts/{a}", content=delete_jwt(trust, "A"))
    assert resp.status_code == 200 and resp.text == "deleted 0 accounts\n", resp.text
    unknown = await http.request(
        "DELETE", f"{two.url}/jwt/v1/accounts/{trust.pub('C')}", content=delete_jwt(trust, "C")
    )
    assert unknown.status_code == 404, unknown.text  # never stored, never deleted: unknown
    assert (await get_account(http, two.url, b)).status_code == 200
    async with kv_client(cluster.urls, bucket) as (_, kv):
        entry = await kv.get(b)
        assert entry.value is not None
        last = (await kv.history(a))[-1]
        assert last.operation == ("PURGE" if hard else "DEL")
        assert (last.value or b"") == (b"" if hard else old.encode())  # soft keeps the JWT aside

    # the other instance reads the tombstone from the bucket: the old JWT stays out, a newer comes back
    again = await post_account(http, two.url, a, old)
    assert again.status_code == 409 and await _gone(http, two.url, a)
    newer = trust.account_jwt("A", iat=int(time.time()) + 2)
    assert (await post_account(http, two.url, a, newer)).status_code == 200
    await wait_served(http, one.url, a, newer)
    one.wait_for_line(f"account {a[:12]} deleted ({'hard' if hard else 'soft'})")
