"""Checks of first reads, in worker processes where the process has cores to spare.

A GET of a JWT the cache does not hold yet (a never-verified file after a restart: the reconnect
storm of an upgrade) spends its time reading the file, often from the disk (the page cache does not
hold a store nobody read since the restart), then decoding and verifying the JWT, then sealing the
file's verified mark. In worker processes all of that runs on the other cores, and a read waiting
for the disk holds up no hit. Worker threads would not do: the decoding around the signature check
holds the GIL, and measured on this project's JWTs two threads checked no faster than one.

A worker gets one job a line on its stdin and answers one JSON line on its stdout, in order: the
loop's share is a pipe write and a line read. The jobs are a JWT to check (its jti, exp and sub, or
the refusal) and, for file stores, a file to read first (see ``stores/firstread.py``). With one
usable core (or ``NATS_ACCOUNT_SERVER_CHECK_WORKERS=0``) there is nothing to run in parallel, so
everything runs inline, as it also does until the workers are up, if one fails, and once a storm is
over: workers idle for ``IDLE`` seconds exit, and their memory (~24 MiB each) is returned.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import sys
import time
from typing import Any

import orjson

from nats_account_server.core.checks import CODES, Checked, check, result_of
from nats_account_server.core.kinds import Kind
from nats_account_server.jwt import JWTError

__all__ = ["Verifier", "usable_cores"]

MAX_WORKERS = 4
STORM = 256  # first reads checked inline before the workers start: a quiet server never starts them
IDLE = 30.0  # seconds without a job after which the workers exit
WORKERS_ENV = "NATS_ACCOUNT_SERVER_CHECK_WORKERS"
WORKER_MODULE = "nats_account_server.checker"


def usable_cores() -> int:
    """The cores this process may run on (its affinity, e.g. `taskset`), else the machine's."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_workers() -> int:
    """``NATS_ACCOUNT_SERVER_CHECK_WORKERS`` when set to a number, else one per usable core (at
    most ``MAX_WORKERS``); fewer than two means inline."""
    wanted = os.environ.get(WORKERS_ENV, "").strip()
    if wanted.isdigit():
        return min(MAX_WORKERS, int(wanted))
    return min(MAX_WORKERS, usable_cores())


class _Worker:
    """One checking process and the jobs it was sent, answered in order. What one loop iteration
    sends goes in one write, and every answer that arrived is read at once."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._out: list[bytes] = []
        self.answered = 0
        self.reader = asyncio.ensure_future(self._read())

    def send(self, job: str) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()
        self.waiting.append(answer)
        if not self._out:
            loop.call_soon(self._flush)
        self._out.append(f"{job}\n".encode())
        return answer

    def _flush(self) -> None:
        out, self._out = self._out, []
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.write(b"".join(out))

    @property
    def load(self) -> int:
        return len(self.waiting)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        pending = b""
        with contextlib.suppress(Exception):
            while chunk := await self.proc.stdout.read(1 << 16):
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    answered = orjson.loads(line)
                    answer = self.waiting.popleft()
                    self.answered += 1
                    if not answer.done():
                        answer.set_result(answered)
        while self.waiting:  # the worker is gone: its jobs fail over to the loop
            answer = self.waiting.popleft()
            if not answer.done():
                answer.set_exception(ConnectionError("the checking process exited"))

    def close(self) -> None:
        """Stop the process now: a job still waiting is done by the loop itself."""
        self.reader.cancel()
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()


class Verifier:
    """Checks JWTs and runs first reads: in worker processes with more than one core, else inline."""

    def __init__(self, cores: int | None = None) -> None:
        self.workers = default_workers() if cores is None else min(MAX_WORKERS, cores)
        self._pool: list[_Worker] = []
        self._starting: asyncio.Task[None] | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._last = 0.0
        self.inline = 0  # checks made inline while workers could have made them

    @property
    def running(self) -> bool:
        """True while workers take jobs (``run`` then answers from one of them)."""
        return bool(self._pool)

    async def decode(self, kind: Kind, jwt: str) -> Checked | JWTError:
        """The checked claims of `jwt`, or the reason it is refused."""
        if self.workers < 2 or "\n" in jwt:
            return check(kind, jwt)
        if not self._pool:
            self.inline += 1
            if self.inline >= STORM and self._starting is None:  # checked inline until they are up
                self._starting = asyncio.ensure_future(self._start())
            return check(kind, jwt)
        try:
            answered = await self.run(f"{CODES[kind]}{jwt}")
        except ConnectionError:
            answered = None
        return check(kind, jwt) if answered is None else result_of(answered)

    async def run(self, job: str) -> Any:
        """A worker's answer to the one-line `job`; ConnectionError when no worker can take it (the
        caller then does it inline)."""
        if not self._pool:
            raise ConnectionError("no checking process is running")
        worker = min(self._pool, key=lambda w: w.load)
        if worker.reader.done():  # exited: no more workers, every check inline from now on
            self.close()
            self.workers = 1
            raise ConnectionError("the checking process exited")
        self._last = time.monotonic()
        return await worker.send(job)

    async def _start(self) -> None:
        try:
            for _ in range(self.workers):
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    WORKER_MODULE,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
                )
                self._pool.append(_Worker(proc))
        except OSError:
            self.close()
            self.workers = 1
            return
        self._last = time.monotonic()
        self._idle = asyncio.get_running_loop().call_later(IDLE, self._check_idle)

    def _check_idle(self) -> None:
        """After ``IDLE`` seconds without a job the storm is over: the workers exit, and the next
        storm starts them again after ``STORM`` inline checks."""
        left = self._last + IDLE - time.monotonic()
        if left > 0 or any(w.load for w in self._pool):
            self._idle = asyncio.get_running_loop().call_later(max(left, 1.0), self._check_idle)
            return
        self._idle = None
        self.close()
        self.inline = 0

    def close(self) -> None:
        if self._starting is not None:
            self._starting.cancel()
            self._starting = None
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        for worker in self._pool:
            worker.close()
        self._pool = []
