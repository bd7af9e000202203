"""core/listing.py over each store kind: pages in key order, bounded by `limit`, complete."""

from __future__ import annotations

from pathlib import Path

import pytest

from nats_account_server.core.listing import page
from nats_account_server.core.store import Store
from nats_account_server.jwt import encode, new_keypair
from nats_account_server.stores import DirectoryStore, MemoryStore

N = 250


def _fill(store: Store) -> list[str]:
    op_seed = new_keypair("O")[0]
    keys = []
    for i in range(N):
        seed, pub = new_keypair("A")
        claims = {"sub": pub, "name": f"acc{i}", "nats": {"type": "account", "version": 2}}
        store.save(pub, encode(claims, op_seed))
        keys.append(pub)
    return sorted(keys)


@pytest.mark.parametrize("kind", ["memory", "flat", "sharded"])
def test_pages_cover_the_store_once(kind: str, tmp_path: Path) -> None:
    store: Store
    if kind == "memory":
        store = MemoryStore()
    else:
        store = DirectoryStore(tmp_path / kind, shard=kind == "sharded")
    keys = _fill(store)
    seen: list[str] = []
    after = ""
    pages = 0
    while True:
        body = page(store, accounts=True, after=after, limit=40)
        entries = body["accounts"]
        assert len(entries) <= 40
        seen += [e["key"] for e in entries]
        pages += 1
        if body["next"] is None:
            break
        after = body["next"]
    assert seen == keys and pages == N // 40 + 1
    assert page(store, accounts=False, after="", limit=10) == {"activations": [], "next": None}
    store.close()
