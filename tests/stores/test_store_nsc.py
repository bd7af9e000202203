"""NscStore over a folder laid out exactly like nsc does it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from store_helpers import Minter, activation_hash, make_nsc, write_nsc_account

from nats_account_server.stores import NscStore, ReadOnlyError, Store, StoreError
from nats_account_server.stores import nsc as nsc_module


def test_lookup_by_sub(tmp_path: Path, minter: Minter) -> None:
    ka, ja = minter.account_jwt(name="alpha")
    kb, jb = minter.account_jwt(name="beta")
    op = make_nsc(tmp_path, minter, {"alpha": ja, "beta": jb})
    store = NscStore(op)
    assert isinstance(store, Store)
    assert store.load(ka) == ja
    assert store.load(kb) == jb
    assert store.load(minter.account_key()) is None
    assert store.account_keys() == sorted([ka, kb])
    assert store.readonly and not store.supports_pack
    assert store.description == f"creating a read-only store for the NSC folder at {op}"
    assert store.operator_jwt_path == str(op / "Op.jwt")


def test_users_and_activations_ignored(tmp_path: Path, minter: Minter) -> None:
    ka, ja = minter.account_jwt(name="alpha")
    op = make_nsc(tmp_path, minter, {"alpha": ja})
    upub, ujwt = minter.user_jwt(ka)
    users = op / "accounts" / "alpha" / "users"
    users.mkdir()
    (users / "u.jwt").write_text(ujwt)
    hidden, hidden_jwt = minter.account_jwt(name="hidden")
    (users / "hidden.jwt").write_text(hidden_jwt)  # an account JWT in users/ is still not served
    store = NscStore(op)
    assert store.load(upub) is None
    assert store.load(hidden) is None
    assert store.load(activation_hash("a")) is None
    assert store.account_keys() == [ka]


def test_save_and_pack_refused(tmp_path: Path, minter: Minter) -> None:
    ka, ja = minter.account_jwt()
    store = NscStore(make_nsc(tmp_path, minter, {"A": ja}))
    with pytest.raises(ReadOnlyError, match="store is read-only"):
        store.save(ka, ja)
    with pytest.raises(StoreError):
        store.pack()


def test_requires_nsc_file(tmp_path: Path, minter: Minter) -> None:
    op = make_nsc(tmp_path, minter, {})
    (op / ".nsc").unlink()
    with pytest.raises(StoreError) as e:
        NscStore(op)
    assert str(e.value).startswith(f'"{op}" is not an nsc operator folder (no .nsc file in it)')
    with pytest.raises(StoreError, match="^nsc folder .*missing does not exist$"):
        NscStore(tmp_path / "missing")
    (op / ".nsc").write_text("{not json")
    with pytest.raises(StoreError, match=r"^error loading '.nsc' file .*\.nsc: not JSON \("):
        NscStore(op)


def test_new_account_found_without_restart(tmp_path: Path, minter: Minter) -> None:
    op = make_nsc(tmp_path, minter, {})  # no account yet
    store = NscStore(op)
    kn, jn = minter.account_jwt(name="new")
    assert store.load(kn) is None
    write_nsc_account(op, "new", jn)
    deadline = time.monotonic() + 2 * nsc_module.RESCAN_INTERVAL + 1
    while store.load(kn) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.load(kn) == jn


def test_miss_rescans_are_rate_limited(
    tmp_path: Path, minter: Minter, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = NscStore(make_nsc(tmp_path, minter, {}))
    calls = 0
    real = store.refresh

    def counting() -> None:
        nonlocal calls
        calls += 1
        real()

    monkeypatch.setattr(store, "refresh", counting)
    unknown = minter.account_key()
    for _ in range(200):
        assert store.load(unknown) is None
    assert calls <= 1


def test_edits_served_immediately(tmp_path: Path, minter: Minter) -> None:
    ka, ja = minter.account_jwt(name="alpha")
    op = make_nsc(tmp_path, minter, {"alpha": ja})
    store = NscStore(op)
    _, ja2 = minter.account_jwt(ka, name="alpha2")
    write_nsc_account(op, "alpha", ja2)
    assert store.load(ka) == ja2


def test_undecodable_files_skipped(tmp_path: Path, minter: Minter) -> None:
    ka, ja = minter.account_jwt(name="good")
    op = make_nsc(tmp_path, minter, {"aaa": "not a jwt", "good": ja})
    (op / "accounts" / "nofile").mkdir()
    store = NscStore(op)
    assert store.load(ka) == ja
    assert store.account_keys() == [ka]
