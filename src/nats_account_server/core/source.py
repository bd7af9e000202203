"""Where the core finds the JWT it serves: the local store, or a replica's primary in front of it.

The core asks its source for every read it cannot answer from a ready response, and asks it how long
a response stays right (`fresh_until`) and which Cache-Control it carries. The local source's
responses stay right until a change drops them; a replica's are only fresh for a while after the
primary vouched for them, so `settled` tells the GET hot path whether it may skip the core.
"""

from __future__ import annotations

import math
from typing import Protocol

from nats_account_server.core.acceptance import Refused, accept_account
from nats_account_server.core.cache import Entry, cache_control
from nats_account_server.core.kinds import Kind
from nats_account_server.core.notifier import Notifier, lookup_subject
from nats_account_server.core.trust import Trust
from nats_account_server.jwt import is_account_key
from nats_account_server.log import log, short_key
from nats_account_server.records import record

__all__ = ["Loaded", "Local", "LocalSource", "Source"]


@record(frozen=True)
class Loaded:
    """A raw JWT and whether its response may be cached."""

    jwt: str
    cacheable: bool


class Local(Protocol):
    """What a source may ask of the core: its store's copy, and to store a JWT the source brought."""

    def load_local(self, key: str) -> str | None: ...

    async def save(self, key: str, jwt: str) -> None: ...

    async def deleted_since(self, key: str, iat: int) -> bool: ...


class Source(Protocol):
    #: True when a ready response stays right until a change drops it; False when responses are
    #: only fresh for a while, so each GET must go through the core
    settled: bool

    @property
    def reachable(self) -> bool | None:
        """Whether the primary answered the latest request (replicas); None where there is none."""
        ...

    async def load(self, kind: Kind, key: str, local: Local) -> Loaded | None:
        """The JWT for `key`, or None."""
        ...

    def fresh_until(self, key: str) -> float:
        """Monotonic deadline until which a ready response for `key` may be served as is."""
        ...

    def vouch(self, key: str) -> None:
        """An authority (a NATS update from the primary's side) just confirmed our copy of `key`."""
        ...

    def cache_control(self, entry: Entry) -> str | None:
        """The Cache-Control of a response (None: send none)."""
        ...


class LocalSource:
    """The store, then (for accounts it lacks) our NATS lookup, whose answer is judged by the one
    acceptance rule as a stored copy and served without being cached."""

    settled = True
    reachable = None

    def __init__(self, trust: Trust, notifier: Notifier, lookup_timeout: float = 1.0) -> None:
        self.trust = trust
        self.notifier = notifier
        self.lookup_timeout = lookup_timeout

    async def load(self, kind: Kind, key: str, local: Local) -> Loaded | None:
        jwt = local.load_local(key)
        if jwt:
            return Loaded(jwt, True)
        if kind is not Kind.ACCOUNT or not self.notifier.connected or not is_account_key(key):
            return None
        reply = await self.notifier.request_many(lookup_subject(key), b"", self.lookup_timeout)
        if not reply:
            return None
        answer = reply.decode(errors="replace").strip()
        try:
            tok = accept_account(self.trust, answer, key, stored=True)
        except Refused as exc:
            log.warn(f"{short_key(key)} - ignoring the answer to our lookup - {exc}")
            return None
        if await local.deleted_since(key, tok.iat):  # a peer's copy of what was deleted here
            log.debug(f"{short_key(key)} - ignoring the answer to our lookup - the account was deleted here")
            return None
        return Loaded(answer, False)

    def fresh_until(self, key: str) -> float:
        return math.inf

    def vouch(self, key: str) -> None:
        return None

    def cache_control(self, entry: Entry) -> str | None:
        return cache_control(entry.exp)
