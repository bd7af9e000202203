"""First reads of store files in a checking process: read, check and seal off the event loop.

During a storm of first reads (every file never verified, or verified before a restart and not in
the page cache) the file index sends each read of a file it holds no ready response for to a
checking process (``core/verifier.py``) as one job: the process reads the file and its verified
mark, opens the mark (a file verified before) or checks the JWT and seals the file's mark, and
answers what the response needs. The event loop's share is a pipe write and a JSON line.

What the process cannot settle the way the loop would (no file, an unreadable or special file, an
empty one, bytes that are not UTF-8 text, a mark that can't be written) it answers ``None``, and the
loop reads the file itself, as without workers, so every such case is reported exactly as before.
"""

from __future__ import annotations

import os
from typing import Any

import orjson

from ..core.checks import CODES, KINDS, Checked, FirstRead, check, stamp_of
from ..core.kinds import Kind
from ..jwt import JWTError
from .files import open_file, read_fd
from .marks import XATTR, Marks, mark_of

__all__ = ["FileReader", "first_job", "parse_answer"]


def first_job(kind: Kind, name: str, path: str, key_file: str) -> str:
    """The job line for the first read of `path`, served under the cache key `name`."""
    return "f" + orjson.dumps([CODES[kind], name, path, key_file]).decode()


def parse_answer(answer: Any) -> FirstRead | None:
    """The process's answer; None when it left the read to the loop (or answered nonsense)."""
    if not isinstance(answer, list) or not answer:
        return None
    try:
        if answer[0] == "refused":
            return FirstRead(answer[1], JWTError(answer[2]), None)
        if answer[0] == "checked":
            jwt, jti, exp, sub, stamp = answer[1:]
            return FirstRead(jwt, Checked(jti, exp, sub), None if stamp is None else tuple(stamp))
    except (TypeError, ValueError):
        return None
    return None


class FileReader:
    """The checking process's side: the marks of each store it was sent files of, by key file."""

    def __init__(self) -> None:
        self._marks: dict[str, Marks | None] = {}

    def read(self, job: str) -> Any:
        """The answer to a job made by ``first_job`` (its "f" removed): a JSON-ready list, or None."""
        try:
            code, name, path, key_file = orjson.loads(job)
            kind = KINDS[code]
        except (ValueError, TypeError, KeyError):
            return None
        if not (isinstance(name, str) and isinstance(path, str) and isinstance(key_file, str)):
            return None
        if key_file not in self._marks:
            self._marks[key_file] = Marks.existing(key_file)
        marks = self._marks[key_file]
        if marks is None:
            return None
        try:
            fd, st = open_file(path)
        except OSError:
            return None  # absent, special, too large, unreadable: the loop reports it
        try:
            return self._read(kind, name, marks, fd, path, st)
        except (OSError, UnicodeDecodeError):
            return None  # unreadable, not text, no mark on this file: the loop sees to it
        finally:
            os.close(fd)

    @staticmethod
    def _read(kind: Kind, name: str, marks: Marks, fd: int, path: str, st: os.stat_result) -> Any:
        """One open file: its bytes and mark, then the check and the seal on the same descriptor
        (a file replaced meanwhile is another inode: its stamp differs at the next hit)."""
        data = read_fd(fd, path, st.st_size)
        text = data.decode("utf-8").strip()
        body = text.encode()
        if not text or body != data.strip():
            return None
        mark = mark_of(fd)
        if mark is not None and (opened := marks.unseal(name, body, mark)) is not None:
            exp, etag = opened  # verified before (this process or an earlier one)
            return ["checked", text, etag[1:-1], exp, name.removeprefix("~"), stamp_of(st)]
        result = check(kind, text)
        if isinstance(result, JWTError):
            return ["refused", text, str(result)]
        os.setxattr(fd, XATTR, marks.seal(name, body, result.exp, f'"{result.jti}"'))
        return ["checked", text, result.jti, result.exp, result.sub, stamp_of(os.fstat(fd))]
