"""A checking process (``python -m nats_account_server.checker``): the worker the core's
``Verifier`` starts during a storm of first reads.

One job a line in, one JSON answer a line out, in order, until stdin closes; the answers to what
each job is written as soon as it is ready. A job starts with its code: ``a``/``v`` and a JWT to check
(an account, an activation), ``f`` and a file to read first (``stores/firstread.py``).
"""

from __future__ import annotations

import os
from typing import Any

import orjson

from nats_account_server.core.checks import KINDS, answer_of, check
from nats_account_server.stores.firstread import FileReader


def _answer(reader: FileReader, job: str) -> Any:
    """The answer to one job; None (the loop does the job itself) for anything unexpected."""
    try:
        if job[:1] == "f":
            return reader.read(job[1:])
        return answer_of(check(KINDS[job[:1]], job[1:]))
    except Exception:  # noqa: BLE001 - a worker never dies of one job; the loop redoes it
        return None


def main() -> None:
    reader = FileReader()
    pending = b""
    while chunk := os.read(0, 1 << 16):
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:  # each answer at once: the loop serves it while the next job is done
            out = memoryview(orjson.dumps(_answer(reader, line.decode())) + b"\n")
            while out:
                out = out[os.write(1, out) :]


if __name__ == "__main__":
    main()
