"""A publish whose ack never came is sent again, and stored once (a real, paused nats-server)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from kv_helpers import kv_client

from nats_account_server.config import KVSettings, LoggingSettings
from nats_account_server.log import log
from nats_account_server.stores.kv import KVStore
from nats_account_server.stores.kvwrite import ATTEMPT_TIMEOUT
from tests.support.natsserver import NatsServer
from tests.support.trust import Trust


async def test_kv_write_whose_ack_was_lost_is_resent_and_stored_once(
    nats_factory: Callable[..., NatsServer], tmp_path: Path, trust: Trust, capfd: pytest.CaptureFixture[str]
) -> None:
    """The node is paused (SIGSTOP) while a write is in flight: the publish times out unanswered and
    is sent again with the same expected revision. Resumed, the node stores the first one and refuses
    the second as "wrong last sequence"; the key then holds exactly our JWT, so the write counts as
    saved (None, as for any write; the core announces it), and the stream got one new revision."""
    node = nats_factory(f'jetstream {{ store_dir: "{tmp_path / "js"}" }}\n')
    store = KVStore(KVSettings(bucket="resend", servers=[node.url], timeout=15000))
    log.configure(LoggingSettings(debug=True, colors=False))
    try:
        await store.start()
        a = trust.pub("A")
        await store.save_async(a, trust.account_jwt("A", iat=1_700_000_000))
        async with kv_client([node.url], "resend") as (nc, _):
            before = (await nc.jetstream(timeout=5).stream_info("KV_resend")).state.last_seq
        newer = trust.account_jwt("A", iat=1_700_000_001)
        node.pause()
        try:
            # `keep`: write over the older JWT; had the key held ours unasked, the verdict is "kept"
            write = asyncio.create_task(store.save_async(a, newer, lambda c: "kept" if c == newer else None))
            await asyncio.sleep(ATTEMPT_TIMEOUT + 0.5)  # the first publish timed out, the second is out
            assert not write.done()
        finally:
            node.resume()
        assert await asyncio.wait_for(write, 15) is None  # saved, not "kept": the key held our JWT
        assert store.load(a) == newer
        async with kv_client([node.url], "resend") as (nc, kv):
            after = (await nc.jetstream(timeout=5).stream_info("KV_resend")).state.last_seq
            assert (await kv.get(a)).value == newer.encode()
        assert after == before + 1  # stored once
        assert "stored by a publish whose ack was lost" in capfd.readouterr().err
    finally:
        await store.stop()
        log.configure(LoggingSettings())


async def test_kv_delete_whose_ack_was_lost_is_resent_and_applied_once(
    nats_factory: Callable[..., NatsServer], tmp_path: Path, trust: Trust
) -> None:
    """A delete marker is published like a write: paused node, the marker sent again with the same
    expected revision, the second refused; the key reads back deleted, so the delete counts as ours
    (True) and the stream got one marker."""
    node = nats_factory(f'jetstream {{ store_dir: "{tmp_path / "js"}" }}\n')
    store = KVStore(KVSettings(bucket="resend", servers=[node.url], timeout=15000))
    try:
        await store.start()
        a = trust.pub("A")
        await store.save_async(a, trust.account_jwt("A", iat=1_700_000_000))
        async with kv_client([node.url], "resend") as (nc, _):
            before = (await nc.jetstream(timeout=5).stream_info("KV_resend")).state.last_seq
        node.pause()
        try:
            delete = asyncio.create_task(store.delete_async(a, 1_700_000_000, hard=False))
            await asyncio.sleep(ATTEMPT_TIMEOUT + 0.5)
            assert not delete.done()
        finally:
            node.resume()
        assert await asyncio.wait_for(delete, 15) is True
        assert store.load(a) is None
        assert await store.tombstone_async(a) == 1_700_000_000
        async with kv_client([node.url], "resend") as (nc, kv):
            after = (await nc.jetstream(timeout=5).stream_info("KV_resend")).state.last_seq
            assert (await kv.history(a))[-1].operation == "DEL"
        assert after == before + 1  # one marker
        assert await store.delete_async(a, 1_700_000_000, hard=False) is False  # nothing left to delete
    finally:
        await store.stop()
