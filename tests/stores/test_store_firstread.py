"""First reads in a checking process (stores/firstread.py): the job and its answer on real files,
a real ``python -m nats_account_server.checker`` process, and the core serving a storm through it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from nats_account_server.core.checks import Checked, check
from nats_account_server.core.kinds import Kind
from nats_account_server.core.service import Core
from nats_account_server.core.trust import load_trust
from nats_account_server.core.verifier import STORM, Verifier
from nats_account_server.jwt import JWTError
from nats_account_server.stores import DirectoryStore
from nats_account_server.stores.firstread import FileReader, first_job, parse_answer
from nats_account_server.stores.marks import KEY_FILE, XATTR, Marks, mark_of
from tests.support.trust import Trust


def _store(tmp_path: Path) -> tuple[DirectoryStore, str]:
    store = DirectoryStore(tmp_path / "store")
    assert Marks.open(store.root) is not None  # the key file the server makes
    return store, os.path.join(store.root, KEY_FILE)


def _read(store: DirectoryStore, key_file: str, key: str, kind: Kind = Kind.ACCOUNT) -> object:
    name = key if kind is Kind.ACCOUNT else f"~{key}"
    return FileReader().read(first_job(kind, name, store.path_for(key), key_file)[1:])


@pytest.mark.parametrize("version", [1, 2])
def test_a_never_verified_file_is_checked_and_sealed(tmp_path: Path, trust: Trust, version: int) -> None:
    store, key_file = _store(tmp_path)
    key, jwt = trust.pub("A"), trust.account_jwt("A", version)
    store.save(key, jwt)
    first = parse_answer(_read(store, key_file, key))
    assert first is not None and first.jwt == jwt
    assert first.checked == check(Kind.ACCOUNT, jwt)
    st = os.stat(store.path_for(key))
    assert first.stamp == (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)  # after the seal
    fd = os.open(store.path_for(key), os.O_RDONLY)
    try:
        mark = mark_of(fd)
    finally:
        os.close(fd)
    assert mark is not None
    # the seal is the one the loop itself would open: a restart serves the file unchecked
    marks = Marks.existing(key_file)
    assert marks is not None and marks.unseal(key, jwt.encode(), mark) is not None
    again = parse_answer(_read(store, key_file, key))
    assert again is not None and again.checked == Checked(first.checked.jti, first.checked.exp, key)  # type: ignore[union-attr]


@pytest.mark.parametrize("version", [1, 2])
def test_a_refused_jwt_is_answered_with_the_reason_and_not_sealed(
    tmp_path: Path, trust: Trust, version: int
) -> None:
    store, key_file = _store(tmp_path)
    key, jwt = trust.pub("A"), trust.account_jwt("A", version)
    tampered = jwt[:-4] + ("AAAA" if not jwt.endswith("AAAA") else "BBBB")
    Path(store.path_for(key)).write_text(tampered)
    first = parse_answer(_read(store, key_file, key))
    assert first is not None and isinstance(first.checked, JWTError) and first.stamp is None
    assert str(first.checked) == str(check(Kind.ACCOUNT, tampered))
    assert XATTR not in os.listxattr(store.path_for(key))


def test_an_activation_is_sealed_under_its_cache_key(tmp_path: Path, trust: Trust) -> None:
    store, key_file = _store(tmp_path)
    jwt = trust.activation_jwt("A", "B", "svc.>")
    key = "ACTIVATIONHASH"
    Path(store.path_for(key)).parent.mkdir(parents=True, exist_ok=True)
    Path(store.path_for(key)).write_text(jwt + "\n")
    first = parse_answer(_read(store, key_file, key, Kind.ACTIVATION))
    assert first is not None and first.jwt == jwt and first.checked == check(Kind.ACTIVATION, jwt)


@pytest.mark.parametrize(
    "content", [None, b"", b"  \n", b"\xff\xfe not text", "dir", "fifo", b"x" * (2 * 1024 * 1024)]
)
def test_what_the_loop_must_report_is_left_to_it(tmp_path: Path, content: object) -> None:
    """No file, an empty, non-UTF-8, special or oversized one: None, and nothing sealed; the loop
    reads it as without workers and reports it there."""
    store, key_file = _store(tmp_path)
    key = "A" * 56
    path = store.path_for(key)
    if content == "dir":
        os.mkdir(path)
    elif content == "fifo":
        os.mkfifo(path)
    elif isinstance(content, bytes):
        Path(path).write_bytes(content)
    assert _read(store, key_file, key) is None


@pytest.mark.parametrize("job", ["", "[", "[1,2]", '["x","K","/p","/k"]', '["a",1,2,3]', "null"])
def test_malformed_jobs_are_left_to_the_loop(job: str) -> None:
    assert FileReader().read(job) is None


def test_without_the_key_file_nothing_is_read(tmp_path: Path, trust: Trust) -> None:
    store = DirectoryStore(tmp_path / "store")
    store.save(trust.pub("A"), trust.account_jwt("A"))
    assert _read(store, str(tmp_path / "none"), trust.pub("A")) is None


@pytest.mark.parametrize("answer", [None, [], ["checked"], ["checked", "j", "t", 1], ["other", 1], "x", 5])
def test_nonsense_answers_are_read_as_left_to_the_loop(answer: object) -> None:
    assert parse_answer(answer) is None


def test_the_checking_process_answers_in_order_and_survives_bad_jobs(tmp_path: Path, trust: Trust) -> None:
    store, key_file = _store(tmp_path)
    key, jwt = trust.pub("A"), trust.account_jwt("A")
    store.save(key, jwt)
    jobs = [f"a{jwt}", "zzz", "f[", first_job(Kind.ACCOUNT, key, store.path_for(key), key_file), "a"]
    done = subprocess.run(
        [sys.executable, "-m", "nats_account_server.checker"],
        input="".join(f"{job}\n" for job in jobs).encode(),
        capture_output=True,
        timeout=30,
        check=True,
    )
    answers = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert len(answers) == len(jobs)
    assert answers[0] == list(check(Kind.ACCOUNT, jwt))  # type: ignore[arg-type]
    assert answers[1] is None and answers[2] is None  # unknown code, broken file job
    first = parse_answer(answers[3])
    assert first is not None and first.jwt == jwt
    assert isinstance(answers[4], str)  # an empty JWT: the refusal's text


async def test_a_storm_is_read_by_checking_processes_and_served_as_inline(
    tmp_path: Path, trust: Trust
) -> None:
    """Past ``STORM`` inline checks the workers start; then misses skip the loop's file read, the
    responses match the inline ones, seals made by the workers are opened by the loop after the
    storm, and a hand edit is served by the next GET."""
    store, _ = _store(tmp_path)
    core = Core(store, load_trust(str(trust.operator_jwt_path), ""), cache=store.make_cache(100_000))
    core.verifier = Verifier(2)
    accounts = [(trust.pub("A"), trust.account_jwt("A", 1)), (trust.pub("B"), trust.account_jwt("B", 2))]
    try:
        for key, jwt in accounts:
            store.save(key, jwt)
        other = trust.account_jwt("C")
        for _ in range(STORM):  # the inline checks of a storm (of one JWT served under no key)
            await core.verifier.decode(Kind.ACCOUNT, other)
        starting = core.verifier._starting
        assert starting is not None
        await starting
        assert core.verifier.running and core.reads_off_loop()
        answered = sum(w.answered for w in core.verifier._pool)
        for key, jwt in accounts:
            entry = await core.entry(Kind.ACCOUNT, key)
            assert entry is not None and entry.jwt == jwt
            assert entry.jti == check(Kind.ACCOUNT, jwt).jti  # type: ignore[union-attr]
        assert sum(w.answered for w in core.verifier._pool) == answered + 2  # read by the workers
        key, jwt = accounts[0]
        newer = trust.account_jwt("A", 2, iat=2_000_000_000 - 10)
        Path(store.path_for(key)).write_text(newer)  # a hand edit: the next GET serves it
        entry = await core.entry(Kind.ACCOUNT, key)
        assert entry is not None and entry.jwt == newer
        assert await core.entry(Kind.ACCOUNT, "A" * 56) is None  # no file: 404 as inline
    finally:
        procs = [w.proc for w in core.verifier._pool]
        core.close()
        for proc in procs:
            await proc.wait()
    # after the storm the loop reads the files itself, and opens the workers' seals
    fresh = Core(store, load_trust(str(trust.operator_jwt_path), ""), cache=store.make_cache(100_000))
    try:
        assert not fresh.reads_off_loop()
        key, jwt = accounts[1]
        entry = fresh.cache.get(key)  # marked by a worker: served without a check
        assert entry is not None and entry.jwt == jwt
    finally:
        fresh.close()


async def test_idle_workers_exit_and_a_later_storm_starts_them_again(
    trust: Trust, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("nats_account_server.core.verifier.IDLE", 0.2)
    jwt = trust.account_jwt("A")
    verifier = Verifier(2)
    try:
        for _ in range(2):
            for _ in range(STORM):
                await verifier.decode(Kind.ACCOUNT, jwt)
            assert verifier._starting is not None
            await verifier._starting
            assert verifier.running
            procs = [w.proc for w in verifier._pool]
            assert await verifier.decode(Kind.ACCOUNT, jwt) == check(Kind.ACCOUNT, jwt)
            for _ in range(50):
                if not verifier.running:
                    break
                await asyncio.sleep(0.1)
            assert not verifier.running and verifier.inline == 0
            for proc in procs:
                assert await asyncio.wait_for(proc.wait(), 5) is not None
    finally:
        verifier.close()


def test_the_worker_count_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_ACCOUNT_SERVER_CHECK_WORKERS", "0")
    assert Verifier().workers == 0
    monkeypatch.setenv("NATS_ACCOUNT_SERVER_CHECK_WORKERS", "99")
    assert Verifier().workers == 4
    monkeypatch.setenv("NATS_ACCOUNT_SERVER_CHECK_WORKERS", "many")
    assert Verifier().workers >= 1


async def test_a_checking_process_that_dies_leaves_its_reads_to_the_loop(
    tmp_path: Path, trust: Trust
) -> None:
    """Killed under the server (OOM killer, an operator's kill): the reads it held and every later
    one are served by the loop, with the same responses."""
    store, _ = _store(tmp_path)
    core = Core(store, load_trust(str(trust.operator_jwt_path), ""), cache=store.make_cache(100_000))
    core.verifier = Verifier(2)
    accounts = [(trust.pub(name), trust.account_jwt(name, version)) for name, version in (("A", 1), ("B", 2))]
    try:
        for key, jwt in accounts:
            store.save(key, jwt)
        for _ in range(STORM):
            await core.verifier.decode(Kind.ACCOUNT, trust.account_jwt("C"))
        assert core.verifier._starting is not None
        await core.verifier._starting
        procs = [w.proc for w in core.verifier._pool]
        for proc in procs:
            proc.kill()
            await proc.wait()
        for key, jwt in accounts:
            entry = await core.entry(Kind.ACCOUNT, key)
            assert entry is not None and entry.jwt == jwt
        assert not core.verifier.running and not core.reads_off_loop()
    finally:
        core.close()
