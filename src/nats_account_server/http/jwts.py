"""GET /jwt/v1/accounts/<key> and /jwt/v1/activations/<hash>: one code path for both kinds.

The parameter precedence: text > decode > (check -> If-None-Match -> notify).
A request without a query string takes the short path: one dict lookup and one response.
"""

from __future__ import annotations

import time

from nats_account_server.core.cache import Entry
from nats_account_server.core.kinds import Kind
from nats_account_server.core.service import Core, Failure, cache_key
from nats_account_server.http.responses import (
    JWT,
    TEXT,
    Headers,
    Response,
    flag,
    parse_query,
    plain,
)
from nats_account_server.jwt import JWTError, decoded_view, peek_claims
from nats_account_server.log import log, short_key


def not_found(kind: Kind, key: str) -> Response:
    if kind is Kind.ACCOUNT:
        return plain(404, "no matching account JWT")
    log.error(f"unable to find requested activation JWT for {key} - not found")
    return plain(404, "No Matching JWT", nosniff=True)


def jwt_headers(core: Core, entry: Entry) -> Headers:
    """ETag, Cache-Control (computed now: max-age follows the clock) and the content type."""
    headers: Headers = [("etag", entry.etag)]
    control = core.cache_control(entry)
    if control:
        headers.append(("cache-control", control))
    headers.append(("content-type", JWT))
    return headers


NOT_FOUND, NOT_MODIFIED, OK = 404, 304, 200


def decide(entry: Entry | None, if_none_match: str | None) -> int:
    """The one GET decision, for the hot path and the router alike: 404 without a JWT, 304 when
    If-None-Match holds its ETag (substring containment, so lists and W/"..." match; `*` does not),
    else 200."""
    if entry is None:
        return NOT_FOUND
    if if_none_match and entry.etag in if_none_match:
        return NOT_MODIFIED
    return OK


def answer(core: Core, kind: Kind, key: str, entry: Entry | None, if_none_match: str | None) -> Response:
    status = decide(entry, if_none_match)
    if entry is None:
        return not_found(kind, key)
    if status == NOT_MODIFIED:
        return Response(304, b"", jwt_headers(core, entry)[:-1])
    return Response(200, entry.body, jwt_headers(core, entry))


async def get_jwt(core: Core, kind: Kind, key: str, query: str, if_none_match: str | None) -> Response:
    if not query:
        return answer(core, kind, key, await core.entry(kind, key), if_none_match)
    params = parse_query(query)
    if params.get("jti") and kind is Kind.ACCOUNT:
        return plain(501, "lookup by jti is no longer supported")
    if flag(params, "text") or flag(params, "decode"):
        cached = core.cache.get(cache_key(kind, key))
        if cached is not None and core.source.settled:
            raw = cached.jwt
        else:
            loaded = await core.load(kind, key)
            if loaded is None:
                return not_found(kind, key)
            raw = loaded.jwt
        if flag(params, "text"):
            return Response(200, raw.encode(), [("content-type", TEXT)])
        try:
            return Response(200, decoded_view(raw).encode(), [("content-type", TEXT)])
        except JWTError as exc:
            log.error(f"{short_key(key)} - error decoding account claim - {exc}")
            return plain(500, "error decoding account claim")
    entry = await core.entry(kind, key)
    if entry is None:
        return not_found(kind, key)
    if kind is Kind.ACCOUNT and flag(params, "check") and 0 < entry.exp < time.time():
        return Response(404)
    if decide(entry, if_none_match) == NOT_MODIFIED:
        return Response(304, b"", jwt_headers(core, entry)[:-1])
    if flag(params, "notify"):
        issuer = ""
        if kind is Kind.ACTIVATION:
            issuer = peek_claims(entry.jwt).iss
        await core.notify(kind, key, entry.jwt, issuer)
    if log.trace_enabled:
        log.trace(f"returning JWT for - {short_key(key)}")
    return Response(200, entry.body, jwt_headers(core, entry))


async def get_jwt_safe(core: Core, kind: Kind, key: str, query: str, inm: str | None) -> Response:
    """Failures of the core become their one-line answer."""
    try:
        return await get_jwt(core, kind, key, query, inm)
    except Failure as exc:
        return plain(exc.status, exc.message)
