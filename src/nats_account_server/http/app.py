"""The RSGI application: the GET hot path, CORS, and every other request to its route; the routes call
the core.

RSGI (granian's native interface) is used instead of ASGI because it hands the response to the
Rust side in one call, which is what lets the GET hot path reach the performance targets. Which
paths and methods exist is routing.py's, how bodies are read bodies.py's; the POST routes are
uploading.py's, the DELETE route deleting.py's.
"""

from __future__ import annotations

import re
import time
from time import perf_counter
from typing import Any

from nats_account_server.core.kinds import Kind
from nats_account_server.core.observed import Observed
from nats_account_server.core.service import Core, Failure
from nats_account_server.http.bodies import Bodies
from nats_account_server.http.deleting import delete_refusal, delete_route
from nats_account_server.http.help import HELP
from nats_account_server.http.jwts import NOT_MODIFIED, decide, get_jwt_safe
from nats_account_server.http.listing import LIST_ACCOUNTS, LIST_ACTIVATIONS, list_route
from nats_account_server.http.notallowed import not_allowed_body
from nats_account_server.http.responses import (
    JWT,
    NOT_FOUND,
    TEXT,
    Headers,
    Response,
    flag,
    parse_query,
    plain,
)
from nats_account_server.http.routing import ACCOUNTS, ACTIVATIONS, route_methods, route_name
from nats_account_server.http.status import is_status_path, status_response
from nats_account_server.http.uploading import post_route
from nats_account_server.jwt import JWTError, decoded_view
from nats_account_server.log import bounded, log
from nats_account_server.metrics import metrics

ACCOUNTS_LEN = len(ACCOUNTS)
UNKNOWN_ACCOUNT = b"no matching account JWT\n"
VARY = ("vary", "Origin")
UNKNOWN_ACCOUNT_HEADERS: Headers = [("content-type", TEXT), VARY]
PROBE_HEADERS: Headers = [
    ("cache-control", "no-cache, no-store, must-revalidate"),
    ("pragma", "no-cache"),
    ("expires", "0"),
]
RETRY: Headers = [("retry-after", "1")]
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")


class App:
    """Dispatches requests; `writable` decides whether POST routes exist."""

    def __init__(
        self,
        core: Core,
        *,
        writable: bool,
        max_body: int = 1 << 20,
        read_timeout: float = 5.0,
        sign_subject: str = "",
        sign_timeout: float = 1.0,
        readonly_reason: str = "",
    ) -> None:
        self.core = core
        self.writable = writable
        self.readonly_reason = readonly_reason  # why POST routes are missing, for the 405's body
        self.bodies = Bodies(max_body, read_timeout)  # uploads' and delete requests' limits
        self.sign_subject = sign_subject
        self.sign_timeout = sign_timeout
        self.help = HELP.encode()
        self.cache_ready = core.cache.ready
        # trace logging (per-request lines) and responses that are only fresh for a while (a
        # replica's) need the full path
        self.hot = not log.trace_enabled and core.source.settled
        self.active = 0
        self.metrics = metrics
        self.requests = metrics.requests
        self.observed = Observed(core, metrics)

    # ------------------------------------------------------------------ RSGI

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        self.active += 1  # a reload waits for the requests in flight before it closes the core
        started = perf_counter()
        method: str = scope.method
        route, status = "account", 0
        try:
            # hot path: a plain GET of a cached account, no query, no CORS, no replica freshness
            if self.hot and method == "GET" and not scope.query_string:
                path = scope.path
                headers = scope.headers  # each scope attribute is a call into granian: read it once
                if path.startswith(ACCOUNTS) and "origin" not in headers and "host" in headers:
                    key = path[ACCOUNTS_LEN:]
                    entry = self.cache_ready(key) or self.core.cached(key)
                    if entry is None and key and "/" not in key:
                        self.metrics.cache_misses += 1
                        try:  # a miss: load once here instead of through the general router
                            entry = await self.core.miss(Kind.ACCOUNT, key)
                        except Failure as exc:
                            failed = plain(exc.status, exc.message)
                            proto.response_bytes(failed.status, [*failed.headers, VARY], failed.body)
                            status = failed.status
                            return
                        if entry is None:
                            proto.response_bytes(404, UNKNOWN_ACCOUNT_HEADERS, UNKNOWN_ACCOUNT)
                            status = 404
                            return
                    elif entry is not None:
                        self.metrics.cache_hits += 1
                    if entry is not None:
                        ok, not_modified = entry.hot_headers()
                        if decide(entry, headers.get("if-none-match")) == NOT_MODIFIED:
                            proto.response_empty(304, not_modified)
                            status = 304
                        else:
                            proto.response_bytes(200, ok, entry.body)
                            status = 200
                        return
            route, status = await self.handle(scope, proto)
        finally:
            self.active -= 1
            if status:  # 0: the request failed before an answer (the client went away)
                self.requests.observe(route, method, status, perf_counter() - started)

    async def handle(self, scope: Any, proto: Any) -> tuple[str, int]:
        """Every request the hot path does not answer; returns its route (as metrics name it) and
        status."""
        started = time.monotonic() if log.trace_enabled else 0.0
        headers = scope.headers
        origin = headers.get("origin")
        path: str = scope.path
        try:
            if "host" not in headers and scope.http_version == "1.1":  # RFC 9112 3.2: a 400
                log.debug(f"{scope.client}: {scope.method} {bounded(path)} - request without Host header")
                resp = plain(400, "missing Host header")
            elif scope.method == "OPTIONS" and origin and headers.get("access-control-request-method"):
                resp = self.preflight(headers, origin)
            else:
                resp = await self.route(scope, proto)
        except Exception as exc:  # a bug must cost one request, never the server
            log.error(f"{bounded(path)} - internal error - {exc!r}")
            resp = plain(500, "internal server error")
        out = [*resp.headers, VARY]  # never mutate shared constant responses
        if origin:
            out.append(("access-control-allow-origin", origin))
            out.append(("access-control-expose-headers", "Authorization"))
        if resp.bulk:
            await self.send_bulk(proto, resp.status, out, resp.body)
        else:
            proto.response_bytes(resp.status, out, resp.body)
        if log.trace_enabled:  # one line per request, as an access log: who, what, the answer, how long
            qs = f"?{scope.query_string}" if scope.query_string else ""
            took = (time.monotonic() - started) * 1000
            log.trace(
                f"{scope.client}: {scope.method} {bounded(path + qs)} - {resp.status}"
                f" - {len(resp.body)} bytes - {took:.2f} ms"
            )
        return route_name(path, self.core, self.writable), resp.status

    async def send_bulk(self, proto: Any, status: int, headers: Headers, body: bytes) -> None:
        """A large body through the core's bulk lane, so lookups are never stuck behind it."""
        out = proto.response_stream(status, [*headers, ("content-length", str(len(body)))])
        async for chunk in self.core.bulk.chunks(body):
            await out.send_bytes(chunk)

    def preflight(self, headers: Any, origin: str) -> Response:
        method = str(headers.get("access-control-request-method", "")).upper()
        out: Headers = []
        if method in ("GET", "POST", "DELETE"):
            out.append(("access-control-allow-methods", method))
        requested = headers.get("access-control-request-headers")
        if requested:
            out.append(("access-control-allow-headers", requested))
        return Response(200, b"", out)

    # --------------------------------------------------------------- routing

    async def route(self, scope: Any, proto: Any) -> Response:
        path: str = scope.path
        method: str = scope.method
        if method == "GET" and path.startswith(ACCOUNTS) and path.count("/") == 4 and path != ACCOUNTS:
            return await get_jwt_safe(
                self.core,
                Kind.ACCOUNT,
                path[len(ACCOUNTS) :],
                scope.query_string,
                scope.headers.get("if-none-match"),
            )
        if method == "GET" and is_status_path(path):
            return await status_response(self.core, path, scope.query_string)
        allowed = route_methods(path, self.core, self.writable)
        if allowed is None:
            return NOT_FOUND
        if method == "DELETE" and path.startswith(ACCOUNTS) and path.count("/") == 4 and path != ACCOUNTS:
            refused = delete_refusal(self.core, self.writable, self.readonly_reason, allowed)
            return refused or await delete_route(self.core, self.bodies, scope, proto, path[len(ACCOUNTS) :])
        if method not in allowed:
            allow = ", ".join((*allowed, "OPTIONS"))
            status = 200 if method == "OPTIONS" else 405
            return Response(
                status,
                b"" if status == 200 else not_allowed_body(method, path, allowed, self.readonly_reason),
                [("allow", allow), ("content-type", TEXT)],
            )
        if method == "POST":
            return await post_route(
                self.core,
                self.bodies,
                scope,
                proto,
                path,
                sign_subject=self.sign_subject,
                sign_timeout=self.sign_timeout,
            )
        if path.startswith(ACTIVATIONS):
            return await get_jwt_safe(
                self.core,
                Kind.ACTIVATION,
                path[len(ACTIVATIONS) :],
                scope.query_string,
                scope.headers.get("if-none-match"),
            )
        if path in ("/jwt/v1/accounts", ACCOUNTS):
            log.trace("server sent resolver check")
            readiness = self.core.readiness
            if readiness.starting:  # whoever probes waits until the start is done
                return Response(503, f"{readiness.starting_state}\n".encode(), [*PROBE_HEADERS, *RETRY])
            return Response(200, b"", list(PROBE_HEADERS))
        if path == "/healthz":
            return Response(200)  # HEAD as GET: no body either way
        if path == "/readyz":
            report = await self.core.readiness.report(
                count_nats=flag(parse_query(scope.query_string), "nats")
            )
            headers: Headers = [("content-type", TEXT), ("cache-control", "no-store")]
            if not report.ready:
                headers += RETRY
            body = b"" if method == "HEAD" else report.text().encode()
            return Response(200 if report.ready else 503, body, headers)
        if path == "/metrics":
            await self.observed.refresh()
            body, content_type = self.metrics.exposition()
            return Response(200, body, [("content-type", content_type)])
        if path == "/jwt/v1/help":
            return Response(200, self.help, [("content-type", TEXT)])
        if path == "/jwt/v1/operator":
            return self.operator(parse_query(scope.query_string))
        if path in (LIST_ACCOUNTS, LIST_ACTIVATIONS):
            return await list_route(self.core, path, parse_query(scope.query_string))
        return await self.pack(parse_query(scope.query_string))

    # ---------------------------------------------------------------- routes

    def operator(self, params: dict[str, str]) -> Response:
        raw = self.core.trust.operator_jwt
        if flag(params, "text"):
            return Response(200, raw.encode(), [("content-type", TEXT)])
        if flag(params, "decode"):
            try:
                return Response(200, decoded_view(raw).encode(), [("content-type", TEXT)])
            except JWTError:
                return plain(500, "error decoding operator claim")
        return Response(200, raw.encode(), [("content-type", JWT)])

    async def pack(self, params: dict[str, str]) -> Response:
        """Every stored JWT as `<key>|<jwt>` lines (built off the event loop, see `Core.pack_body`)."""
        limit = self.core.max_pack
        value = params.get("max")
        if value is None:
            wanted = limit
        else:
            if not _INTEGER.fullmatch(value):  # Go's Atoi: no spaces or `_`, which int() accepts
                return plain(400, f'bad max parameter "{value}"')
            wanted = int(value)
            if limit >= 0 and (wanted > limit or wanted < 0):
                if wanted > limit:
                    return plain(400, f'bad max parameter "{value}", no more than {limit} are allowed')
                wanted = limit
        try:
            body = await self.core.pack_body(wanted)
        except Failure as exc:
            return plain(exc.status, exc.message)
        return Response(200, body, [("content-type", TEXT)], bulk=True)
