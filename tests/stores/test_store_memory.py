"""MemoryStore: plain map, serialized access, read-only means permanently empty."""

from __future__ import annotations

import threading

import pytest
from store_helpers import Minter, activation_hash

from nats_account_server.stores import MemoryStore, ReadOnlyError, Store, StoreError


def test_roundtrip_and_missing(minter: Minter) -> None:
    store = MemoryStore()
    assert isinstance(store, Store)
    assert store.description == "creating an in-memory store"
    assert not store.readonly and store.supports_pack
    key, jwt = minter.account_jwt()
    assert store.load(key) is None
    store.save(key, jwt)
    assert store.load(key) == jwt
    store.save(key, "x" + jwt)
    assert store.load(key) == "x" + jwt


@pytest.mark.parametrize("bad", ["", "A", "..", "../x", "a/b", "AAAA\x00"])
def test_invalid_keys(bad: str) -> None:
    store = MemoryStore()
    assert store.load(bad) is None
    with pytest.raises(StoreError):
        store.save(bad, "jwt")


def test_readonly_is_empty() -> None:
    store = MemoryStore(readonly=True)
    assert store.description == "creating a read-only, empty, in-memory store"
    with pytest.raises(ReadOnlyError, match="store is read-only"):
        store.save(activation_hash("x"), "jwt")
    assert store.pack() == []
    assert store.account_keys() == []


def test_pack_max_and_account_keys(minter: Minter) -> None:
    store = MemoryStore()
    keys = [minter.account_key() for _ in range(3)]
    for k in keys:
        store.save(k, f"jwt-{k}")
    act = activation_hash("act")
    store.save(act, "activation")
    assert sorted(store.pack()) == sorted([(k, f"jwt-{k}") for k in keys] + [(act, "activation")])
    assert store.pack(0) == []
    assert len(store.pack(2)) == 2
    assert len(store.pack(-5)) == 4
    assert store.account_keys() == sorted(keys)


def test_thread_safety_smoke(minter: Minter) -> None:
    store = MemoryStore()
    keys = [minter.account_key() for _ in range(64)]
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(300):
                k = keys[(n * 7 + i) % len(keys)]
                store.save(k, f"{n}-{i}")
                assert store.load(k) is not None
                store.pack(3)
                store.account_keys()
        except BaseException as e:  # pragma: no cover - only on failure
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(store.pack()) == len(keys)
