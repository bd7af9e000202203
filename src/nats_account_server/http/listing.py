"""`GET /jwt/v1/list/accounts` and `/jwt/v1/list/activations`: the store, a page at a time, as JSON.

A route of its own, so the resolver probe `GET /jwt/v1/accounts` keeps its empty 200. Query:
`limit` (1 to 10,000, default 1,000) and `after` (the `next` of the previous page); the page is built
on a worker thread (core/listing.py), never on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import re

from nats_account_server.core.listing import DEFAULT_LIMIT, MAX_LIMIT, page
from nats_account_server.core.service import Core
from nats_account_server.http.responses import Response, plain

__all__ = ["LIST_ACCOUNTS", "LIST_ACTIVATIONS", "list_route"]

LIST_ACCOUNTS = "/jwt/v1/list/accounts"
LIST_ACTIVATIONS = "/jwt/v1/list/activations"
# patterns compiled by the first list request (re caches them)
_LIMIT = r"[0-9]{1,6}"
_AFTER = r"[A-Za-z0-9=_-]{0,128}"  # the alphabets of account keys and activation hashes


async def list_route(core: Core, path: str, params: dict[str, str]) -> Response:
    value = params.get("limit", "")
    if value and not re.fullmatch(_LIMIT, value) or value and not 1 <= int(value) <= MAX_LIMIT:
        return plain(400, f'bad limit parameter "{value[:32]}": a number from 1 to {MAX_LIMIT}')
    limit = int(value) if value else DEFAULT_LIMIT
    after = params.get("after", "")
    if not re.fullmatch(_AFTER, after):
        return plain(400, "bad after parameter: pass the next value of the previous page")
    accounts = path == LIST_ACCOUNTS
    body = await asyncio.to_thread(page, core.store, accounts=accounts, after=after, limit=limit)
    return Response(200, json.dumps(body, indent=1).encode() + b"\n", [("content-type", "application/json")])
