"""core/deletion.py on memory and directory stores: the order of checks, tombstones against pack
merges, the store hash, and that refused requests leave everything in place."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nats_account_server.core.deletion import DeletePolicy, delete_accounts
from nats_account_server.core.kinds import Kind
from nats_account_server.core.service import Core
from nats_account_server.core.store import Store
from nats_account_server.core.trust import load_trust
from nats_account_server.core.verdict import Saved
from nats_account_server.jwt import decode_account
from nats_account_server.stores import DirectoryStore, MemoryStore
from tests.support.deletes import delete_jwt
from tests.support.trust import Trust


@pytest.fixture(params=["memory", "directory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return MemoryStore() if request.param == "memory" else DirectoryStore(tmp_path / "store", shard=True)


def _core(trust: Trust, store: Store, *, hard: bool = False) -> Core:
    core = Core(store, load_trust(str(trust.operator_jwt_path), str(trust.system_account_jwt_path)))
    core.deletion = DeletePolicy(allow=True, hard=hard)
    return core


@pytest.mark.parametrize("version", [2, 1], ids=["v2", "v1"])
async def test_a_pack_cannot_bring_a_deleted_account_back(version: int, tmp_path: Path, store: Store) -> None:
    trust = Trust(tmp_path / "trust", version=version)
    core = _core(trust, store)
    hashed: list[tuple[str, str]] = []
    core.saved_hooks.append(lambda k, j: hashed.append((k, j)))
    a = trust.pub("A")
    old = trust.account_jwt("A", iat=int(time.time()) - 5)
    assert await core.save_if_newer(Kind.ACCOUNT, a, decode_account(old)) is Saved.SAVED
    outcome = await delete_accounts(core, delete_jwt(trust, "A"), via="test")
    assert outcome.status == 200 and outcome.deleted == (a,)
    assert store.load(a) is None and hashed[-1] == (a, "")  # the sync hash drops it
    assert await core.merge(f"{a}|{old}") == 0 and store.load(a) is None
    newer = trust.account_jwt("A", iat=int(time.time()) + 2)
    assert await core.merge(f"{a}|{newer}") == 1 and store.load(a) == newer
    core.close()


async def test_refusals_come_in_order_and_delete_nothing(trust: Trust, store: Store) -> None:
    core = _core(trust, store)
    a = trust.pub("A")
    await core.save(a, trust.account_jwt("A"))
    core.deletion = DeletePolicy(allow=False)
    assert (await delete_accounts(core, delete_jwt(trust, "A"), via="t")).status == 405
    core.deletion = DeletePolicy(allow=True, refused="this server is a replica; delete at the primary")
    outcome = await delete_accounts(core, delete_jwt(trust, "A"), via="t")
    assert outcome.status == 405 and "primary" in outcome.message
    core.deletion = DeletePolicy(allow=True)
    outcome = await delete_accounts(core, delete_jwt(trust, "A", signer="foreign"), via="t")
    assert (outcome.status, outcome.message) == (400, "not trusted")
    outcome = await delete_accounts(core, delete_jwt(trust, "A", "B"), via="t")
    assert outcome.status == 404 and trust.pub("B") in outcome.message
    outcome = await delete_accounts(core, delete_jwt(trust, "A"), via="t", url_key=trust.pub("B"))
    assert outcome.status == 400
    assert store.load(a) is not None
    core.close()


async def test_requests_of_one_second_for_other_accounts_are_not_repeats(trust: Trust, store: Store) -> None:
    """The JWT library's jti hashes the registered claims only: requests signed in the same second
    share it, so a request is a repeat only when it is the same request."""
    core = _core(trust, store)
    a, b = trust.pub("A"), trust.pub("B")
    await core.save(a, trust.account_jwt("A"))
    await core.save(b, trust.account_jwt("B"))
    now = int(time.time())
    first, second = delete_jwt(trust, "A", iat=now), delete_jwt(trust, "B", iat=now)
    assert first != second
    assert (await delete_accounts(core, first, via="t")).deleted == (a,)
    outcome = await delete_accounts(core, second, via="t")
    assert outcome.status == 200 and outcome.deleted == (b,) and not outcome.repeat
    again = await delete_accounts(core, first, via="t")
    assert again.status == 200 and again.repeat
    both = await delete_accounts(core, delete_jwt(trust, "A", "B", iat=now + 1), via="t")
    assert (both.status, both.deleted) == (200, ())  # deleted already, not unknown
    assert store.load(a) is None and store.load(b) is None
    core.close()


async def test_hard_delete_leaves_only_the_tombstone(trust: Trust, tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "flat")
    core = _core(trust, store, hard=True)
    a = trust.pub("A")
    jwt = trust.account_jwt("A")
    await core.save(a, jwt)
    assert (await delete_accounts(core, delete_jwt(trust, "A"), via="t")).status == 200
    names = sorted(p.name for p in (tmp_path / "flat").iterdir() if not p.name.startswith("."))
    assert names == [f"{a}.tombstone"]
    assert store.tombstone(a) == decode_account(jwt).iat
    assert store.keys_after("", 10) == [] and store.pack() == [] and store.account_keys() == []
    core.close()


async def test_a_key_that_is_no_store_key_never_reaches_a_path(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "s")
    for key in ("../x", "", "/etc/passwd", "A" * 55 + "/"):
        with pytest.raises(Exception, match="invalid store key"):
            store.delete(key, 1, hard=True)
        assert store.tombstone(key) is None
    store.close()


def test_the_policy_says_where_to_delete_instead() -> None:
    from nats_account_server.config import Settings
    from nats_account_server.core.deletion import policy_of

    s = Settings()
    s.store.allow_delete = True
    assert policy_of(s) == DeletePolicy(allow=True, hard=False, refused="")
    s.primary = "http://primary:9090"
    assert policy_of(s).refused.endswith("send the delete request to the primary http://primary:9090")
    s.primary, s.store.nsc = "", "/ops/nsc"
    assert "delete accounts with nsc" in policy_of(s).refused
    s.store.nsc, s.store.readonly, s.store.dir = "", True, "/jwts"
    assert "remove the account's file from /jwts" in policy_of(s).refused
