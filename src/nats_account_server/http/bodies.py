"""Reading a request's body (an upload, a delete request) under the size limit and the read deadline.

A body with a Content-Length is read in one await (the framing stops it at its length); a chunked
one is counted as it arrives, and refused whole when its framing breaks, never stored in part.
A body whose Content-Length is over the limit is refused before it is read; up to four times the
limit it is read and dropped first, so the client gets its 413.
"""

from __future__ import annotations

import asyncio
from typing import Any

from nats_account_server.http.deadlines import Deadlines

__all__ = ["Bodies", "BodyTooLarge", "BrokenBody"]


DRAIN_FACTOR = 4  # a body refused by its length is read and dropped up to this many times the limit


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
            if int(length) <= DRAIN_FACTOR * self.max_body:
                await self.drain(proto)
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

    async def drain(self, proto: Any) -> None:
        """Read and drop a body refused by its Content-Length, within the read deadline: a client
        that sends the whole body before it reads the answer then gets the 413, not a reset (closing
        a socket with unread data resets it)."""
        task = self.deadlines.begin()
        try:
            async for _ in proto:
                pass
        except asyncio.CancelledError:
            if not self.deadlines.end(task):
                raise
        except Exception:  # noqa: BLE001 - the client went away: the 413 is all that is left
            pass
        finally:
            self.deadlines.end(task)

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
