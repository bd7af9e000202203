"""/readyz over a real socket: the store's state decides it; /healthz stays a cheap liveness answer."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest

from tests.http.conftest import server_config
from tests.support.procs import start_server
from tests.support.trust import Trust


@pytest.mark.parametrize("version", [2, 1], ids=["v2", "v1"])
def test_readyz_follows_the_store_directory(tmp_path: Path, version: int) -> None:
    trust = Trust(tmp_path / "trust", version=version)
    store = tmp_path / "store"
    with start_server(config_text=server_config(trust, store), tmp_path=tmp_path) as proc:
        key = trust.pub("A")
        assert (
            httpx.post(f"{proc.url}/jwt/v1/accounts/{key}", content=trust.account_jwt("A")).status_code == 200
        )
        resp = httpx.get(f"{proc.url}/readyz")
        assert resp.status_code == 200 and resp.text == "ready\nstore: ok\nnats: not configured\n"
        assert resp.headers["cache-control"] == "no-store"
        head = httpx.head(f"{proc.url}/readyz")
        assert head.status_code == 200 and head.content == b""

        shutil.rmtree(store)  # someone deleted the store: alive, but not ready
        resp = httpx.get(f"{proc.url}/readyz")
        assert resp.status_code == 503 and resp.headers["retry-after"] == "1"
        assert resp.text.splitlines() == [
            "not ready",
            f"store: store directory {store} does not exist",
            "nats: not configured",
        ]
        assert httpx.get(f"{proc.url}/healthz").status_code == 200
        assert httpx.head(f"{proc.url}/readyz").status_code == 503

        store.write_text("not a folder")
        assert f"store: store directory {store} is not a directory" in httpx.get(f"{proc.url}/readyz").text
        store.unlink()
        store.mkdir()
        if os.geteuid() != 0:  # root may write anywhere: the mode says nothing then
            store.chmod(0o555)
            resp = httpx.get(f"{proc.url}/readyz")
            assert resp.status_code == 503 and f"store directory {store} is not writable" in resp.text
            store.chmod(0o755)
        assert httpx.get(f"{proc.url}/readyz").status_code == 200
        assert (
            httpx.post(f"{proc.url}/jwt/v1/accounts/{key}", content=trust.account_jwt("A")).status_code == 200
        )


def test_readyz_of_a_read_only_store_only_needs_reading(tmp_path: Path) -> None:
    trust = Trust(tmp_path / "trust")
    store = tmp_path / "store"
    store.mkdir()
    extra = f'store {{ dir: "{store}", readonly: true }}\n'
    conf = server_config(trust, store).replace(f'store {{ dir: "{store}" }}\n', extra)
    with start_server(config_text=conf, tmp_path=tmp_path) as proc:
        if os.geteuid() != 0:
            store.chmod(0o555)
        try:
            assert httpx.get(f"{proc.url}/readyz").text == "ready\nstore: ok\nnats: not configured\n"
        finally:
            store.chmod(0o755)
        store.rmdir()
        assert httpx.get(f"{proc.url}/readyz").status_code == 503
