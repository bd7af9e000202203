"""Reading a request's body (an upload, a delete request) under the size limit and the read deadline.

A body with a Content-Length is read in one await (the framing stops it at its length); a chunked
one is counted as it arrives, and refused whole when its framing breaks, never stored in part.
"""

from __future__ import annotations

import asyncio
from typing import Any

from nats_account_server.http.deadlines import Deadlines

__all__ = ["Bodies", "BodyTooLarge", "BrokenBody"]


class BodyTooLarge(Exception):
    pass


class BrokenBody(Exception):
    pass


class Bodies:
    """How this server reads bodies: at most `max_body` bytes, each within the read timeout."""

    def __init__(self, max_body: int, read_timeout: float) -> None:
        self.max_body = max_body
        self.deadlines = Deadlines(read_timeout or None)  # the body read timeout lives there

    async def read(self, scope: Any, proto: Any) -> bytes:
        length = scope.headers.get("content-length")
        known = bool(length) and length.isdigit()
        if known and int(length) > self.max_body:
            raise BodyTooLarge
        task = self.deadlines.begin()
        try:
            if known:  # a bounded body in one await (the framing stops it at its length)
                body: bytes = await proto()
            else:
                body = await self.read_chunked(proto)
        except asyncio.CancelledError:
            if self.deadlines.end(task):
                raise TimeoutError("request body not received in time") from None
            raise
        finally:
            self.deadlines.end(task)
        if len(body) > self.max_body:
            raise BodyTooLarge
        return body

    async def read_chunked(self, proto: Any) -> bytes:
        """A chunked body, counted as it arrives. granian ends a clean body with one empty chunk
        and reports broken framing, trailers or a client gone before the last chunk as an empty
        chunk that is not the last: such a body is refused whole, never stored in part."""
        chunks: list[bytes] = []
        size = 0
        ended = False
        async for chunk in proto:
            if ended:
                raise BrokenBody("chunked body with broken framing, trailers or cut short")
            if not chunk:
                ended = True
                continue
            size += len(chunk)
            if size > self.max_body:
                raise BodyTooLarge
            chunks.append(chunk)
        return b"".join(chunks)
