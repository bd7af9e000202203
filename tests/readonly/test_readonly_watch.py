"""Watching read-only stores with the real server process and a real
nats-server: file edits become ``$SYS.ACCOUNT.<key>.CLAIMS.UPDATE`` notifications, everything else
stays silent, and GET serves the new content."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path

import httpx
import pytest
from readonly_helpers import (
    NscFolder,
    Updates,
    get_jwt,
    nsc_write,
    replace_via_temp,
    subject,
    subscribe_updates,
)

from nats_account_server.jwt.activation import activation_hash
from tests.support.natsserver import NatsServer
from tests.support.procs import ServerProcess, start_server
from tests.support.trust import Trust

CONNECTED = "connected to NATS for account and activation notifications"
QUIET = 1.5  # seconds to wait before asserting that nothing was announced
WITHIN = 1.0  # a change MUST be announced within 1 s


async def start(
    *args: object, tmp_path: Path, nats: NatsServer, config_text: str | None = None
) -> ServerProcess:
    """Our server connected to ``nats``, its store watcher running (debug line), off the event loop."""

    def _start() -> ServerProcess:
        proc = start_server(
            *[os.fspath(a) if isinstance(a, Path) else str(a) for a in args],
            "-nats",
            nats.url,
            "-D",
            config_text=config_text,
            tmp_path=tmp_path,
            timeout=20,
        )
        proc.wait_for_line(CONNECTED, 10)
        proc.wait_for_line("[DBG] watching ", 10)
        return proc

    return await asyncio.to_thread(_start)


async def expect(updates: Updates, pub: str, jwt: str, since: float, within: float = WITHIN) -> None:
    """The next notification is ``jwt`` for ``pub`` and arrived within ``within`` s of ``since``."""
    subj, payload, at = await updates.next(timeout=within + 4)  # report lateness, not a bare timeout
    assert (subj, payload) == (subject(pub), jwt)
    assert at - since <= within, f"notification took {at - since:.3f}s"


# ------------------------------------------------------------------ read-only directory store


async def test_modify_in_place_notifies_within_1s(
    tmp_path: Path, tmp_store: Path, any_trust: Trust, plain_nats: NatsServer, http: httpx.AsyncClient
) -> None:
    """Rewriting ``<dir>/<key>.jwt`` publishes the new JWT; GET serves it."""
    a = any_trust.pub("A")
    path = tmp_store / f"{a}.jwt"
    path.write_text(any_trust.account_jwt("A"))
    proc = await start("-dir", tmp_store, "-ro", tmp_path=tmp_path, nats=plain_nats)
    assert (await get_jwt(http, proc.url, a)).status_code == 200  # now in the response cache
    async with subscribe_updates(plain_nats.url) as updates:
        for n in range(3):
            new = any_trust.account_jwt("A", tags=[f"edit-{n}"])
            t0 = time.monotonic()
            path.write_text(new)  # truncate + write in place
            assert (await get_jwt(http, proc.url, a)).text == new  # right after the edit: not cached
            await expect(updates, a, new, t0)
            assert (await get_jwt(http, proc.url, a)).text == new
        await updates.none_within(0.5)  # one notification per edit


async def test_write_temp_and_rename_notifies(
    tmp_path: Path, tmp_store: Path, any_trust: Trust, plain_nats: NatsServer, http: httpx.AsyncClient
) -> None:
    """A file replaced the way editors and ``git pull`` do it (new inode, moved into place) is
    announced too."""
    a, b = any_trust.pub("A"), any_trust.pub("B")
    (tmp_store / f"{a}.jwt").write_text(any_trust.account_jwt("A"))
    proc = await start("-dir", tmp_store, "-ro", tmp_path=tmp_path, nats=plain_nats)
    await get_jwt(http, proc.url, a)
    async with subscribe_updates(plain_nats.url) as updates:
        new = any_trust.account_jwt("A", tags=["renamed"])
        t0 = time.monotonic()
        replace_via_temp(tmp_store / f"{a}.jwt", new)
        assert (await get_jwt(http, proc.url, a)).text == new
        await expect(updates, a, new, t0)
        # a file that did not exist before, moved into place (git checkout of a new account)
        jwt_b = any_trust.account_jwt("B")
        t0 = time.monotonic()
        replace_via_temp(tmp_store / f"{b}.jwt", jwt_b)
        await expect(updates, b, jwt_b, t0)
        assert (await get_jwt(http, proc.url, b)).text == jwt_b
        # moved in from outside the store (mv from another folder of the same file system)
        outside = tmp_path / "staging.jwt"
        newer = any_trust.account_jwt("B", tags=["moved"])
        outside.write_text(newer)
        t0 = time.monotonic()
        os.rename(outside, tmp_store / f"{b}.jwt")
        await expect(updates, b, newer, t0)
        await updates.none_within(0.5)


async def test_new_file_is_served_and_announced(
    tmp_path: Path, tmp_store: Path, any_trust: Trust, plain_nats: NatsServer, http: httpx.AsyncClient
) -> None:
    """A new account file is served without restart and announced on first sight."""
    c = any_trust.pub("C")
    proc = await start("-dir", tmp_store, "-ro", tmp_path=tmp_path, nats=plain_nats)
    assert (await get_jwt(http, proc.url, c)).status_code == 404
    async with subscribe_updates(plain_nats.url) as updates:
        jwt_c = any_trust.account_jwt("C")
        t0 = time.monotonic()
        (tmp_store / f"{c}.jwt").write_text(jwt_c)
        assert (await get_jwt(http, proc.url, c)).text == jwt_c  # served at once: misses are not cached
        await expect(updates, c, jwt_c, t0)


async def test_sharded_new_shard_folder_notifies(
    tmp_path: Path, tmp_store: Path, any_trust: Trust, plain_nats: NatsServer, http: httpx.AsyncClient
) -> None:
    """Sharded store: a shard folder created after startup is watched (its first file is announced)."""
    a = any_trust.pub("A")
    conf = f'store {{ dir: "{tmp_store}", readonly: true, shard: true }}\n'
    proc = await start(tmp_path=tmp_path, nats=plain_nats, config_text=conf)
    async with subscribe_updates(plain_nats.url) as updates:
        jwt_a = any_trust.account_jwt("A")
        t0 = time.monotonic()
        (tmp_store / a[-2:]).mkdir()
        (tmp_store / a[-2:] / f"{a}.jwt").write_text(jwt_a)
        await expect(updates, a, jwt_a, t0)
        assert (await get_jwt(http, proc.url, a)).text == jwt_a
        # and later edits inside the new shard folder
        new = any_trust.account_jwt("A", tags=["again"])
        t0 = time.monotonic()
        replace_via_temp(tmp_store / a[-2:] / f"{a}.jwt", new)
        await expect(updates, a, new, t0)
        # a whole shard folder moved into place at once (e.g. restored from a backup)
        b = any_trust.pub("B")
        staging = tmp_path / "staging" / b[-2:]
        staging.mkdir(parents=True)
        jwt_b = any_trust.account_jwt("B")
        (staging / f"{b}.jwt").write_text(jwt_b)
        if (tmp_store / b[-2:]).exists():
            pytest.skip("A and B share a shard folder")
        t0 = time.monotonic()
        os.rename(staging, tmp_store / b[-2:])
        await expect(updates, b, jwt_b, t0)


async def test_silent_changes(
    tmp_path: Path, tmp_store: Path, any_trust: Trust, plain_nats: NatsServer, http: httpx.AsyncClient
) -> None:
    """Activations, non-``.jwt`` files, deletions and unchanged content announce nothing."""
    a, b = any_trust.pub("A"), any_trust.pub("B")
    jwt_a = any_trust.account_jwt("A")
    (tmp_store / f"{a}.jwt").write_text(jwt_a)
    (tmp_store / f"{b}.jwt").write_text(any_trust.account_jwt("B"))
    act = any_trust.activation_jwt("A", "B", "foo")
    act_key = activation_hash(any_trust.pub("A"), b, "foo")
    (tmp_store / f"{act_key}.jwt").write_text(act)
    proc = await start("-dir", tmp_store, "-ro", tmp_path=tmp_path, nats=plain_nats)
    async with subscribe_updates(plain_nats.url) as updates:
        # activation files: modified, replaced and created
        (tmp_store / f"{act_key}.jwt").write_text(any_trust.activation_jwt("A", "B", "foo", name="x"))
        replace_via_temp(tmp_store / f"{act_key}.jwt", any_trust.activation_jwt("A", "B", "foo", name="y"))
        other = activation_hash(any_trust.pub("A"), any_trust.pub("C"), "bar")
        (tmp_store / f"{other}.jwt").write_text(any_trust.activation_jwt("A", "C", "bar"))
        # non-.jwt files holding account JWTs, and editor leftovers
        (tmp_store / f"{a}.txt").write_text(any_trust.account_jwt("A", tags=["txt"]))
        (tmp_store / f"{a}.jwt.bak").write_text(any_trust.account_jwt("A", tags=["bak"]))
        (tmp_store / f".{a}.jwt.swp").write_text(any_trust.account_jwt("A", tags=["swp"]))
        (tmp_store / f"{a}.jwt~").write_text(any_trust.account_jwt("A", tags=["tilde"]))
        (tmp_store / "README").write_text("hello")
        # a .jwt file whose name is not an account key
        (tmp_store / "notakey.jwt").write_text(any_trust.account_jwt("C"))
        # unchanged content: in place, via rename, and a touch
        (tmp_store / f"{a}.jwt").write_text(jwt_a)
        replace_via_temp(tmp_store / f"{a}.jwt", jwt_a)
        os.utime(tmp_store / f"{a}.jwt")
        # a deletion
        (tmp_store / f"{b}.jwt").unlink()
        await updates.none_within(QUIET)
        assert (await get_jwt(http, proc.url, b)).status_code == 404  # deleted: not served from the cache
        # the subscription works: a real change right after all this is the first message
        new = any_trust.account_jwt("A", tags=["real"])
        t0 = time.monotonic()
        (tmp_store / f"{a}.jwt").write_text(new)
        await expect(updates, a, new, t0)
        await updates.none_within(0.5)
    assert not proc.find_lines("error trying to send notification")


async def test_recreated_after_delete_notifies(
    tmp_path: Path, tmp_store: Path, any_trust: Trust, plain_nats: NatsServer, http: httpx.AsyncClient
) -> None:
    """A file deleted and written again (with the same content) is announced: it was gone meanwhile."""
    a = any_trust.pub("A")
    jwt_a = any_trust.account_jwt("A")
    (tmp_store / f"{a}.jwt").write_text(jwt_a)
    proc = await start("-dir", tmp_store, "-ro", tmp_path=tmp_path, nats=plain_nats)
    async with subscribe_updates(plain_nats.url) as updates:
        (tmp_store / f"{a}.jwt").unlink()
        await updates.none_within(0.5)
        assert (await get_jwt(http, proc.url, a)).status_code == 404
        t0 = time.monotonic()
        (tmp_store / f"{a}.jwt").write_text(jwt_a)
        await expect(updates, a, jwt_a, t0)


async def test_without_nats_edits_are_served(
    tmp_path: Path, tmp_store: Path, any_trust: Trust, http: httpx.AsyncClient
) -> None:
    """No NATS configured: nothing is announced, but the cache still follows the files."""
    a = any_trust.pub("A")
    (tmp_store / f"{a}.jwt").write_text(any_trust.account_jwt("A"))
    proc = await asyncio.to_thread(start_server, "-dir", tmp_store, "-ro", "-D", tmp_path=tmp_path)
    await asyncio.to_thread(proc.wait_for_line, "[DBG] watching ", 10)
    assert (await get_jwt(http, proc.url, a)).status_code == 200
    for n in range(5):
        new = any_trust.account_jwt("A", tags=[f"offline-{n}"])
        if n % 2:
            replace_via_temp(tmp_store / f"{a}.jwt", new)
        else:
            (tmp_store / f"{a}.jwt").write_text(new + "\n")  # an editor's trailing newline is not served
        assert (await get_jwt(http, proc.url, a)).text == new
        assert (await get_jwt(http, proc.url, a)).text == new  # and the cached copy is the new one
    (tmp_store / f"{a}.jwt").unlink()
    assert (await get_jwt(http, proc.url, a)).status_code == 404
    assert not proc.find_lines("error trying to send notification")


async def test_invalid_or_misnamed_jwt_is_not_announced(
    tmp_path: Path, tmp_store: Path, any_trust: Trust, plain_nats: NatsServer, http: httpx.AsyncClient
) -> None:
    """The changed file is decoded as an account JWT first; failures are logged at INFO and
    nothing is sent (a half-written or misnamed file must not reach the nats-servers)."""
    a, b = any_trust.pub("A"), any_trust.pub("B")
    (tmp_store / f"{a}.jwt").write_text(any_trust.account_jwt("A"))
    proc = await start("-dir", tmp_store, "-ro", tmp_path=tmp_path, nats=plain_nats)
    async with subscribe_updates(plain_nats.url) as updates:
        since = proc.mark()
        (tmp_store / f"{a}.jwt").write_text("garbage")
        await asyncio.to_thread(
            proc.wait_for_line,
            f"[INF] error trying to send notification from file change for {a[:8]}",
            5,
            since=since,
        )
        (tmp_store / f"{b}.jwt").write_text(any_trust.account_jwt("C"))  # B's file holds C's JWT
        user = any_trust.user_jwt("a")
        replace_via_temp(tmp_store / f"{a}.jwt", user)  # a user JWT is not an account JWT
        await updates.none_within(QUIET)
        assert len(proc.find_lines("error trying to send notification from file change", since=since)) >= 3
        fixed = any_trust.account_jwt("A", tags=["fixed"])
        t0 = time.monotonic()
        (tmp_store / f"{a}.jwt").write_text(fixed + "\n")
        await expect(updates, a, fixed, t0)


# ------------------------------------------------------------------ nsc store


async def test_nsc_rewrite_notifies(
    tmp_path: Path, nsc_folder: NscFolder, plain_nats: NatsServer, http: httpx.AsyncClient
) -> None:
    """``nsc edit account`` rewrites ``accounts/<N>/<N>.jwt`` in place -> notification + GET."""
    trust = nsc_folder.trust
    a = trust.pub("A")
    proc = await start("-nsc", nsc_folder.dir, tmp_path=tmp_path, nats=plain_nats)
    assert (await get_jwt(http, proc.url, a)).status_code == 200
    async with subscribe_updates(plain_nats.url) as updates:
        new = trust.account_jwt("A", tags=["nsc-edit"])
        t0 = time.monotonic()
        nsc_write(nsc_folder.account_path("A"), new)
        assert (await get_jwt(http, proc.url, a)).text == new  # right after the edit
        await expect(updates, a, new, t0)
        # replaced via rename (a git checkout of the nsc folder)
        newer = trust.account_jwt("A", tags=["git"])
        t0 = time.monotonic()
        replace_via_temp(nsc_folder.account_path("A"), newer)
        await expect(updates, a, newer, t0)
        assert (await get_jwt(http, proc.url, a)).text == newer
        await updates.none_within(0.5)


async def test_nsc_new_account_notifies_and_is_served(
    tmp_path: Path, nsc_folder: NscFolder, plain_nats: NatsServer, http: httpx.AsyncClient
) -> None:
    """``nsc add account C``: a new account folder is watched, announced and served without restart."""
    trust = nsc_folder.trust
    c = trust.pub("C")
    proc = await start("-nsc", nsc_folder.dir, tmp_path=tmp_path, nats=plain_nats)
    assert (await get_jwt(http, proc.url, c)).status_code == 404
    async with subscribe_updates(plain_nats.url) as updates:
        jwt_c = trust.account_jwt("C")
        t0 = time.monotonic()
        nsc_folder.add_account("C")
        await expect(updates, c, jwt_c, t0)
        assert (await get_jwt(http, proc.url, c)).text == jwt_c
        # users added to it afterwards are not announced
        nsc_folder.add_user("C", "c")
        await updates.none_within(QUIET)


async def test_nsc_silent_changes(
    tmp_path: Path, nsc_folder: NscFolder, plain_nats: NatsServer, http: httpx.AsyncClient
) -> None:
    """An nsc store announces nothing for users, the operator JWT, ``.nsc``, other files,
    unchanged content or deletions."""
    trust = nsc_folder.trust
    a, b = trust.pub("A"), trust.pub("B")
    proc = await start("-nsc", nsc_folder.dir, tmp_path=tmp_path, nats=plain_nats)
    async with subscribe_updates(plain_nats.url) as updates:
        nsc_write(nsc_folder.dir / "accounts" / "A" / "users" / "a.jwt", trust.user_jwt("a", tags=["x"]))
        # an account JWT in the wrong places: users/, directly under accounts/, a misnamed file
        nsc_write(nsc_folder.dir / "accounts" / "A" / "users" / "C.jwt", trust.account_jwt("C"))
        nsc_write(nsc_folder.dir / "accounts" / "C.jwt", trust.account_jwt("C"))
        nsc_write(nsc_folder.dir / "accounts" / "A" / "other.jwt", trust.account_jwt("C"))
        nsc_write(nsc_folder.dir / "accounts" / "A" / "A.jwt.bak", trust.account_jwt("A", tags=["bak"]))
        nsc_write(nsc_folder.operator_jwt_path, trust.make_operator_jwt())
        nsc_write(nsc_folder.dir / ".nsc", (nsc_folder.dir / ".nsc").read_text())
        # unchanged content
        nsc_write(nsc_folder.account_path("A"), nsc_folder.account_path("A").read_text())
        # deletion of a whole account (nsc delete account)
        shutil.rmtree(nsc_folder.dir / "accounts" / "B")
        await updates.none_within(QUIET)
        assert (await get_jwt(http, proc.url, b)).status_code == 404
        assert (await get_jwt(http, proc.url, trust.pub("C"))).status_code == 404
        new = trust.account_jwt("A", tags=["real"])
        t0 = time.monotonic()
        nsc_write(nsc_folder.account_path("A"), new)
        await expect(updates, a, new, t0)
        await updates.none_within(0.5)
