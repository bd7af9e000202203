"""What a checking process computes for a JWT, and how its answers travel: shared by the core's
worker pool (``verifier.py``), the file stores' first reads and the checking process itself."""

from __future__ import annotations

import os
from typing import Any, NamedTuple

from nats_account_server.core.kinds import Kind, decode_kind
from nats_account_server.jwt import JWTError

__all__ = ["CODES", "KINDS", "Checked", "FirstRead", "Stamp", "answer_of", "check", "result_of", "stamp_of"]

KINDS = {"a": Kind.ACCOUNT, "v": Kind.ACTIVATION}
CODES = {kind: code for code, kind in KINDS.items()}


class Checked(NamedTuple):
    """What a response needs of a verified JWT."""

    jti: str
    exp: int
    sub: str


Stamp = tuple[int, int, int, int]  # a file's inode, size, mtime and ctime (ns): any change shows


def stamp_of(st: os.stat_result) -> Stamp:
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


class FirstRead(NamedTuple):
    """A checking process's first read of a store file: the JWT, its check, and the file's stamp
    (inode, size, mtime, ctime) once it carries a valid verified mark (None when it does not)."""

    jwt: str
    checked: Checked | JWTError
    stamp: Stamp | None


def check(kind: Kind, jwt: str) -> Checked | JWTError:
    try:
        tok = decode_kind(kind, jwt)
    except JWTError as exc:
        return exc
    return Checked(tok.jti, tok.exp, tok.sub)


def answer_of(result: Checked | JWTError) -> Any:
    """A check's result as a worker answers it: the refusal's text, or the three claims."""
    return str(result) if isinstance(result, JWTError) else list(result)


def result_of(answered: Any) -> Checked | JWTError:
    return JWTError(answered) if isinstance(answered, str) else Checked(*answered)
