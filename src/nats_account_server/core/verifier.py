"""Checks of first reads (decoding and the Ed25519 signature), in worker processes where the
process has cores to spare.

A GET of a JWT the cache does not hold yet (a never-verified file after a restart: the reconnect
storm of an upgrade) spends most of its time decoding and verifying the JWT (~70 µs of ~180). In
worker processes those checks run on the other cores while the event loop keeps answering hits.
Worker threads would not do: PyNaCl releases the GIL for the signature check only, the decoding
around it holds it, and measured on this project's JWTs two threads checked no faster than one. A
worker gets the JWT (one line on its stdin) and answers its jti, exp and sub, or the refusal (one
line on its stdout): the loop's share is a pipe write and a line read. With one usable core there
is nothing to run in parallel, so the check then runs inline, as it does until a worker is up and
if one ever fails.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import sys
from typing import NamedTuple

import orjson

from nats_account_server.core.kinds import Kind, decode_kind
from nats_account_server.jwt import JWTError

__all__ = ["Checked", "Verifier", "usable_cores"]

MAX_WORKERS = 4
STORM = 256  # first reads checked inline before the workers start: a quiet server never starts them
_KINDS = {"a": Kind.ACCOUNT, "v": Kind.ACTIVATION}
_CODES = {kind: code for code, kind in _KINDS.items()}


class Checked(NamedTuple):
    """What a response needs of a verified JWT."""

    jti: str
    exp: int
    sub: str


def usable_cores() -> int:
    """The cores this process may run on (its affinity, e.g. `taskset`), else the machine's."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def check(kind: Kind, jwt: str) -> Checked | JWTError:
    try:
        tok = decode_kind(kind, jwt)
    except JWTError as exc:
        return exc
    return Checked(tok.jti, tok.exp, tok.sub)


class _Worker:
    """One checking process and the checks it was sent, answered in order. What one loop
    iteration sends goes in one write, and every answer that arrived is read at once."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.waiting: collections.deque[asyncio.Future[Checked | JWTError]] = collections.deque()
        self._out: list[bytes] = []
        self.answered = 0
        self.reader = asyncio.ensure_future(self._read())

    def send(self, kind: Kind, jwt: str) -> asyncio.Future[Checked | JWTError]:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Checked | JWTError] = loop.create_future()
        self.waiting.append(answer)
        if not self._out:
            loop.call_soon(self._flush)
        self._out.append(f"{_CODES[kind]}{jwt}\n".encode())
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
                    result: Checked | JWTError = (
                        JWTError(answered) if isinstance(answered, str) else Checked(*answered)
                    )
                    answer = self.waiting.popleft()
                    self.answered += 1
                    if not answer.done():
                        answer.set_result(result)
        while self.waiting:  # the worker is gone: its checks fail over to the loop
            answer = self.waiting.popleft()
            if not answer.done():
                answer.set_exception(ConnectionError("the checking process exited"))

    def close(self) -> None:
        """Stop the process now: a check still waiting is answered by the loop's own check."""
        self.reader.cancel()
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()


class Verifier:
    """Checks JWTs: in worker processes with more than one core, else inline."""

    def __init__(self, cores: int | None = None) -> None:
        self.workers = min(MAX_WORKERS, usable_cores() if cores is None else cores)
        self._pool: list[_Worker] = []
        self._starting: asyncio.Task[None] | None = None
        self.inline = 0  # checks made inline while workers could have made them

    async def decode(self, kind: Kind, jwt: str) -> Checked | JWTError:
        """The checked claims of `jwt`, or the reason it is refused."""
        if self.workers < 2 or "\n" in jwt:
            return check(kind, jwt)
        if not self._pool:
            self.inline += 1
            if self.inline >= STORM and self._starting is None:  # checked inline until they are up
                self._starting = asyncio.ensure_future(self._start())
            return check(kind, jwt)
        worker = min(self._pool, key=lambda w: w.load)
        if worker.reader.done():  # exited: no more workers, every check inline from now on
            self.workers = 1
            return check(kind, jwt)
        try:
            return await worker.send(kind, jwt)
        except ConnectionError:
            return check(kind, jwt)

    async def _start(self) -> None:
        try:
            for _ in range(self.workers):
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    __name__,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
                )
                self._pool.append(_Worker(proc))
        except OSError:
            self.close()
            self.workers = 1

    def close(self) -> None:
        if self._starting is not None:
            self._starting.cancel()
        for worker in self._pool:
            worker.close()
        self._pool = []


def main() -> None:
    """A checking process: one JWT a line in, one JSON answer a line out (the claims a response
    needs, or the refusal's text), until stdin closes. The answers to what one read brought are
    written together."""
    pending = b""
    while chunk := os.read(0, 1 << 16):
        *lines, pending = (pending + chunk).split(b"\n")
        answers = []
        for line in lines:
            text = line.decode()
            result = check(_KINDS[text[:1]], text[1:])
            answers.append(json.dumps(str(result) if isinstance(result, JWTError) else list(result)))
        out = memoryview("\n".join([*answers, ""]).encode())
        while out:
            out = out[os.write(1, out) :]


if __name__ == "__main__":
    main()
