"""Response shapes shared by the routes: plain-text errors, Cache-Control, query flags."""

from __future__ import annotations

from dataclasses import field
from urllib.parse import parse_qsl

from nats_account_server.records import record

Headers = list[tuple[str, str]]

TEXT = "text/plain"
TEXT_UTF8 = "text/plain; charset=utf-8"
JWT = "application/jwt"


@record
class Response:
    """What a route answers: status, body and headers."""

    status: int
    body: bytes = b""
    headers: Headers = field(default_factory=list)
    bulk: bool = False  # sent in paced chunks (the pack), not in one piece


def plain(status: int, message: str, *, nosniff: bool = False) -> Response:
    """A handler error: the message plus a newline, as text/plain."""
    headers: Headers = [("content-type", TEXT_UTF8 if nosniff else TEXT)]
    if nosniff:
        headers.append(("x-content-type-options", "nosniff"))
    return Response(status, (message + "\n").encode() if message else b"", headers)


NOT_FOUND = plain(404, "404 page not found")


def parse_query(query: str) -> dict[str, str]:
    """First value wins, as in Go's url.Values.Get."""
    out: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        out.setdefault(name, value)
    return out


def flag(params: dict[str, str], name: str) -> bool:
    """Only the literal `true`, in any case, enables a parameter."""
    return params.get(name, "").lower() == "true"
