"""First reads' checks: in worker processes during a storm with cores to spare, inline with one;
the same verdicts either way, and a read whose key changed during its check is served but not cached."""

from __future__ import annotations

import asyncio

from nats_account_server.core.checks import Checked, check
from nats_account_server.core.kinds import Kind
from nats_account_server.core.service import Core
from nats_account_server.core.trust import load_trust
from nats_account_server.core.verifier import STORM, Verifier
from nats_account_server.jwt import JWTError
from nats_account_server.stores import MemoryStore
from tests.support.trust import Trust


async def test_checks_move_to_worker_processes_in_a_storm_with_two_cores(trust: Trust) -> None:
    jwt = trust.account_jwt("A")
    tampered = jwt[:-4] + ("AAAA" if not jwt.endswith("AAAA") else "BBBB")
    inline = check(Kind.ACCOUNT, tampered)
    assert isinstance(inline, JWTError)
    one = Verifier(1)
    for _ in range(STORM + 1):
        assert await one.decode(Kind.ACCOUNT, jwt) == check(Kind.ACCOUNT, jwt)
    assert not one._pool and one._starting is None  # one core: always inline
    two = Verifier(2)
    try:
        for _ in range(STORM):
            await two.decode(Kind.ACCOUNT, jwt)
        assert two._starting is not None
        await two._starting
        assert len(two._pool) == 2
        checked = await asyncio.gather(*(two.decode(Kind.ACCOUNT, jwt) for _ in range(50)))
        assert checked == [Checked(*check(Kind.ACCOUNT, jwt))] * 50  # type: ignore[misc]
        refused = await two.decode(Kind.ACCOUNT, tampered)
        assert isinstance(refused, JWTError) and str(refused) == str(inline)
        assert sum(w.answered for w in two._pool) == 51  # answered by the workers
    finally:
        procs = [w.proc for w in two._pool]
        two.close()
        for proc in procs:  # reaped while the loop runs: nothing is left to the collector
            await proc.wait()


async def test_a_change_during_the_check_keeps_the_read_out_of_the_cache(trust: Trust) -> None:
    store = MemoryStore()
    core = Core(store, load_trust(str(trust.operator_jwt_path), ""))
    core.verifier = Verifier(2)
    key, jwt = trust.pub("A"), trust.account_jwt("A")
    store.save(key, jwt)
    try:
        forgotten: list[str] = []
        decode = core.verifier.decode

        async def held(kind: Kind, raw: str) -> Checked | JWTError:
            core.forget(key)  # what a write of the key does while its read is being checked
            forgotten.append(key)
            return await decode(kind, raw)

        core.verifier.decode = held  # type: ignore[method-assign]
        entry = await core.miss(Kind.ACCOUNT, key)
        assert entry is not None and entry.jwt == jwt and forgotten == [key]
        assert core.cache.get(key) is None
        core.verifier.decode = decode  # type: ignore[method-assign]
        assert await core.miss(Kind.ACCOUNT, key) is not None
        assert core.cache.get(key) is not None and not core._checking
    finally:
        core.close()
