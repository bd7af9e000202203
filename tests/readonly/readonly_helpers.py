"""Helpers for the read-only store tests: an nsc operator folder built the way nsc builds it, file edits
the way people and tools make them, and a NATS subscriber with bounded waits."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import nats
from nats.aio.client import Client
from nats.aio.msg import Msg

from tests.support.trust import Trust

UPDATES = "$SYS.ACCOUNT.*.CLAIMS.UPDATE"
# nsc (store.go) writes files with ioutil.WriteFile(0600) and directories with MkdirAll(0700)
NSC_FILE_MODE = 0o600
NSC_DIR_MODE = 0o700


def nsc_write(path: Path, data: str) -> None:
    """What nsc's ``Store.Write`` does: MkdirAll(parent, 0700) then truncate-and-write in place (0600)."""
    path.parent.mkdir(mode=NSC_DIR_MODE, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, NSC_FILE_MODE)
    try:
        os.write(fd, data.encode())
    finally:
        os.close(fd)


def replace_via_temp(path: Path, data: str) -> None:
    """How editors and ``git checkout`` replace a file: write a sibling temp file, rename it over."""
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    tmp.write_text(data)
    os.replace(tmp, path)


class NscFolder:
    """``<stores>/<Op>``: ``.nsc``, ``<Op>.jwt``, ``accounts/<A>/<A>.jwt``, ``accounts/<A>/users/<u>.jwt``.

    Account folders are named after the account *name* (as nsc does), never after the key, so the
    server has to find accounts by the JWT ``sub``.
    """

    def __init__(self, stores: Path, trust: Trust, name: str | None = None) -> None:
        self.trust = trust
        self.name = name or trust.operator_name
        self.dir = stores / self.name
        self.dir.mkdir(mode=NSC_DIR_MODE, parents=True)
        # exactly what nsc's CreateStore serializes (json.Marshal of store.Info, Go field order)
        info = {"managed": False, "name": self.name, "kind": "operator", "version": "1"}
        nsc_write(self.dir / ".nsc", json.dumps(info, separators=(",", ":")))
        nsc_write(self.operator_jwt_path, trust.operator_jwt)
        (self.dir / "accounts").mkdir(mode=NSC_DIR_MODE)

    @property
    def operator_jwt_path(self) -> Path:
        return self.dir / f"{self.name}.jwt"

    def account_path(self, name: str) -> Path:
        return self.dir / "accounts" / name / f"{name}.jwt"

    def add_account(self, name: str, jwt: str | None = None, *, users: tuple[str, ...] = ()) -> str:
        """Write account ``name`` (a Trust account) and its users; returns the account JWT."""
        jwt = jwt if jwt is not None else self.trust.account_jwt(name)
        nsc_write(self.account_path(name), jwt)
        for user in users:
            self.add_user(name, user)
        return jwt

    def add_user(self, account: str, user: str) -> Path:
        path = self.dir / "accounts" / account / "users" / f"{user}.jwt"
        nsc_write(path, self.trust.user_jwt(user))
        return path


class Updates:
    """Collects ``$SYS.ACCOUNT.*.CLAIMS.UPDATE`` messages with their arrival times."""

    def __init__(self) -> None:
        self.msgs: list[tuple[float, Msg]] = []
        self._event = asyncio.Event()

    async def handle(self, msg: Msg) -> None:
        self.msgs.append((time.monotonic(), msg))
        self._event.set()

    async def next(self, timeout: float = 5.0) -> tuple[str, str, float]:
        """(subject, payload, arrival time) of the next unread message; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while not self.msgs:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no notification within {timeout}s")
            self._event.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._event.wait(), remaining)
        at, msg = self.msgs.pop(0)
        return msg.subject, msg.data.decode(), at

    async def none_within(self, wait: float = 1.5) -> None:
        await asyncio.sleep(wait)
        assert not self.msgs, [(m.subject, m.data[:40]) for _, m in self.msgs]


@contextlib.asynccontextmanager
async def subscribe_updates(url: str) -> AsyncIterator[Updates]:
    nc: Client = await nats.connect(url, connect_timeout=2, allow_reconnect=False)
    try:
        updates = Updates()
        await nc.subscribe(UPDATES, cb=updates.handle)
        await nc.flush()
        yield updates
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.close(), 5)


def subject(pub: str) -> str:
    return f"$SYS.ACCOUNT.{pub}.CLAIMS.UPDATE"


async def get_jwt(http: httpx.AsyncClient, base: str, pub: str) -> httpx.Response:
    return await http.get(f"{base}/jwt/v1/accounts/{pub}")
