"""Lookups that several resolvers answer, ended as soon as all of them have said "absent".

Every resolver on `$SYS.REQ.ACCOUNT.<a>.CLAIMS.LOOKUP` answers each lookup once: the JWT, or an
empty message when it has none (nats-server's full resolver, our siblings on a shared KV bucket).
Waiting for the request timeout on every miss made an unknown account cost a full second. The
census counts the answers of lookups heard to their timeout: a probe when the connection comes
up, and the rest of every lookup answered early, heard in the background. A lookup that has heard
that many answers has heard everyone, and ends at once. More answers than counted mean that a
resolver joined: that lookup is heard to its end, and counts again. A joined resolver slower than
all the others is counted by the next background count; one that leaves makes one lookup wait its
timeout, which counts again. Our own responder does not hear our lookups (the connection does not
echo), so it is never counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from nats_account_server.core.notifier import lookup_subject
from nats_account_server.jwt.nkeys import encode_public_key
from nats_account_server.log import log

__all__ = ["Census", "is_no_responders"]


def is_no_responders(msg: Msg) -> bool:
    """The server's own answer that nobody subscribes to the subject."""
    return not msg.data and msg.headers is not None and msg.headers.get("Status") == "503"


class Census:
    """The number of resolvers that answered the latest lookup heard to its end (None: unknown)."""

    def __init__(self) -> None:
        self.expected: int | None = None
        self._tails: set[asyncio.Task[None]] = set()

    def heard_all(self, answers: int) -> bool:
        return self.expected is not None and answers >= self.expected

    def forget(self) -> None:
        """A new connection may reach other resolvers: count again before ending lookups early."""
        self.expected = None

    async def probe(self, nc: Client, timeout: float) -> None:
        """Count the resolvers with a lookup of an account nobody has (a fresh random key)."""
        key = encode_public_key("A", os.urandom(32))
        try:
            await self.request(nc, lookup_subject(key), b"", timeout)
        except Exception as exc:  # never raised into a task nobody awaits
            log.debug(f"counting the resolvers that answer account lookups failed - {exc!r}")
            return
        if self.expected is not None:
            log.debug(f"account lookups are answered by {self.expected} resolvers")

    async def request(self, nc: Client, subject: str, payload: bytes, timeout: float) -> bytes | None:
        """The first non-empty answer; None when every resolver answered empty, nobody answered in
        time, or nobody listens."""
        inbox = nc.new_inbox()
        try:
            sub = await nc.subscribe(inbox)
        except nats.errors.Error:
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        answers, handed = 0, False
        try:
            await nc.publish(subject, payload, reply=inbox)
            while (remaining := deadline - loop.time()) > 0:
                try:
                    msg = await sub.next_msg(timeout=remaining)
                except (TimeoutError, nats.errors.TimeoutError):
                    break
                if is_no_responders(msg):
                    self.expected = 0
                    return None
                answers += 1
                if self.expected is not None and answers > self.expected:
                    self.expected = None  # someone joined since the count: hear this one out
                if msg.data or self.heard_all(answers):
                    self._hear_rest(sub, answers, deadline)
                    handed = True
                    return bytes(msg.data) or None
            self.expected = answers
            return None
        except nats.errors.Error:
            return None
        finally:
            if not handed:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()

    def _hear_rest(self, sub: Subscription, answers: int, deadline: float) -> None:
        task = asyncio.create_task(self._count_rest(sub, answers, deadline))
        self._tails.add(task)
        task.add_done_callback(self._tails.discard)

    async def _count_rest(self, sub: Subscription, answers: int, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        try:
            while (remaining := deadline - loop.time()) > 0:
                try:
                    await sub.next_msg(timeout=remaining)
                except (TimeoutError, nats.errors.TimeoutError):
                    break
                answers += 1
            self.expected = answers
        except nats.errors.Error:
            pass  # the connection went: the next connection counts again
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def close(self) -> None:
        for task in list(self._tails):
            task.cancel()
        for task in list(self._tails):
            with contextlib.suppress(BaseException):
                await task
