"""One writer per store: a second writable server on a directory store is refused at start."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from store_helpers import Minter

from nats_account_server.stores import DirectoryStore, StoreError
from nats_account_server.stores.writer import LOCK_FILE
from tests.support.procs import start_server
from tests.support.trust import Trust


def test_a_second_writer_is_refused_and_readers_stay_welcome(tmp_path: Path, minter: Minter) -> None:
    first = DirectoryStore(tmp_path)
    key, jwt = minter.account_jwt()
    first.save(key, jwt)
    leftover = tmp_path / ".nas-spares" / ".x.jwt.0123456789abcdef.tmp"
    leftover.write_text("a save of the first writer in flight")
    with pytest.raises(StoreError, match=rf"in use by another writable account server \(pid {os.getpid()}\)"):
        DirectoryStore(tmp_path, shard=True)
    assert leftover.exists()  # the refused start touched nothing of the running writer
    reader = DirectoryStore(tmp_path, readonly=True)
    assert reader.load(key) == jwt
    first.close()
    assert not (tmp_path / LOCK_FILE).exists()
    second = DirectoryStore(tmp_path)  # the store is free again
    second.save(key, jwt + "2")
    assert reader.load(key) == jwt + "2"
    second.close()


def test_a_second_writable_server_exits_with_the_holder(tmp_path: Path, trust: Trust) -> None:
    store = tmp_path / "jwts"
    conf = f'operatorjwtpath: "{trust.operator_jwt_path}"\nstore {{ dir: "{store}" }}\n'
    first = start_server(config_text=conf, tmp_path=tmp_path, config_name="one.conf")
    try:
        second = start_server(config_text=conf, tmp_path=tmp_path, config_name="two.conf", ready=False)
        assert second.wait(10) == 1
        assert f"is in use by another writable account server (pid {first.pid})" in second.stderr_text()
        reader = start_server("-dir", str(store), "-ro", tmp_path=tmp_path)  # readers stay welcome
        name = "A"  # one of the fixture's accounts
        jwt = trust.account_jwt(name)  # minted once: a mint in the next second has another jti
        resp = httpx.post(f"{first.url}/jwt/v1/accounts/{trust.pub(name)}", content=jwt)
        assert resp.status_code == 200
        assert httpx.get(f"{reader.url}/jwt/v1/accounts/{trust.pub(name)}").text == jwt
        reader.stop()
    finally:
        first.stop()
