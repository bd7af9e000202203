"""`GET /jwt/v1/accounts/<key>/status` and the `wait` parameter of an upload: how long to listen
for the nats-servers' answers, and the JSON both answer with.

`wait` is in milliseconds, an integer from 0 up; a larger value than `MAX_WAIT_MS` is taken as
that cap (a client cannot hold a request, and a reload waiting for it, for longer), anything else
(signs, spaces, fractions, an empty value) is a 400 with a one-line reason. The status route asks
for `DEFAULT_STATUS_WAIT_MS` unless it is given one.
"""

from __future__ import annotations

import json
import re
from typing import Any

from nats_account_server.core.service import Core, Failure
from nats_account_server.http.responses import Headers, Response, parse_query, plain
from nats_account_server.jwt import is_account_key
from nats_account_server.log import bounded

ACCOUNTS = "/jwt/v1/accounts/"
STATUS_TAIL = "/status"
MAX_WAIT_MS = 10_000
DEFAULT_STATUS_WAIT_MS = 1_000
JSON = "application/json"
_DIGITS = re.compile(r"[0-9]+")


class BadWait(ValueError):
    """A `wait` value that is not a number of milliseconds; `str()` is the client's one line."""


def is_status_path(path: str) -> bool:
    """`/jwt/v1/accounts/<key>/status`, with a non-empty key and nothing more."""
    return (
        path.startswith(ACCOUNTS)
        and path.endswith(STATUS_TAIL)
        and path.count("/") == 5
        and len(path) > len(ACCOUNTS) + len(STATUS_TAIL)
    )


def parse_wait(query: str, default_ms: int | None = None) -> float | None:
    """The `wait` of a query string in seconds (capped), `default_ms` when it has none (None: the
    request does not wait); raises BadWait."""
    value = parse_query(query).get("wait") if query else None
    if value is None:
        return None if default_ms is None else default_ms / 1000
    if not _DIGITS.fullmatch(value):
        raise BadWait(
            f'bad wait parameter "{bounded(value, 40)}": expected milliseconds, an integer from 0'
            f" (values above {MAX_WAIT_MS} wait {MAX_WAIT_MS})"
        )
    ms = int(value) if len(value) <= 12 else MAX_WAIT_MS  # no int() of a megabyte of digits
    return min(ms, MAX_WAIT_MS) / 1000


def json_response(status: int, body: dict[str, Any]) -> Response:
    """A report as indented JSON; never cached (it says what is true now)."""
    text = json.dumps(body, indent=2) + "\n"
    headers: Headers = [("content-type", JSON), ("cache-control", "no-store")]
    return Response(status, text.encode(), headers)


async def status_response(core: Core, path: str, query: str) -> Response:
    """The account's stored jti and what each nats-server runs (see core/applied.py): 400 for a
    malformed key or wait, 404 for an unknown account, 503 without a NATS connection."""
    key = path[len(ACCOUNTS) : -len(STATUS_TAIL)]
    if not is_account_key(key):
        return plain(400, f'bad account key "{bounded(key, 60)}": expected an account public key (A...)')
    try:
        wait = parse_wait(query, DEFAULT_STATUS_WAIT_MS)
    except BadWait as exc:
        return plain(400, str(exc))
    assert wait is not None  # a default is given
    from nats_account_server.core.applied import account_status  # only with a status request

    try:
        status = await account_status(core, key, wait)
    except Failure as exc:
        return plain(exc.status, exc.message)
    if status is None:
        return plain(404, "no matching account JWT")
    return json_response(200, status.body())
