"""The seam between the core and NATS: what the core needs from a message bus.

The core publishes change notifications and asks other resolvers (lookup, signing service);
the NATS package implements this; without NATS the core gets `NoNats`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the answers' shape: imported where NATS collects them
    from nats_account_server.core.heard import Heard


class NotConnected(Exception):
    """No NATS connection right now; callers degrade (skip notification, answer 'not found')."""


class RequestTimeout(Exception):
    """Nobody answered a request in time."""


class NoResponders(Exception):
    """The NATS server told us nobody listens on the subject."""


class Notifier(Protocol):
    @property
    def configured(self) -> bool:
        """True when NATS servers are configured (even if not connected yet)."""
        ...

    @property
    def connected(self) -> bool: ...

    @property
    def outage(self) -> str:
        """Why there is no connection right now, as a log line says it ("" while connected): NATS
        is not configured, not connected yet, or the connection was lost and is being retried."""
        ...

    async def publish(self, subject: str, payload: bytes) -> None:
        """Fire-and-forget publish; raises on failure (turned into HTTP 500 by callers)."""
        ...

    async def request(self, subject: str, payload: bytes, timeout: float) -> bytes:
        """First reply; raises NotConnected, RequestTimeout, NoResponders or other errors."""
        ...

    async def request_many(self, subject: str, payload: bytes, timeout: float) -> bytes | None:
        """First non-empty reply before the timeout, or None (empty replies mean 'absent')."""
        ...

    async def ask_servers(self, subject: str, payload: bytes, timeout: float) -> Heard:
        """Send exactly one message with a reply subject and gather the nats-servers' answers until
        all of them answered or the timeout (see core/heard.py); raises NotConnected."""
        ...


class NoNats:
    """The notifier used when `nats.servers` is empty."""

    configured = False
    connected = False
    outage = "NATS is not configured"

    async def publish(self, subject: str, payload: bytes) -> None:
        raise NotConnected(self.outage)

    async def request(self, subject: str, payload: bytes, timeout: float) -> bytes:
        raise NotConnected(self.outage)

    async def request_many(self, subject: str, payload: bytes, timeout: float) -> bytes | None:
        return None

    async def ask_servers(self, subject: str, payload: bytes, timeout: float) -> Heard:
        raise NotConnected(self.outage)


def account_subject(account: str) -> str:
    return f"$SYS.ACCOUNT.{account}.CLAIMS.UPDATE"


def activation_subject(issuer: str, hash_: str) -> str:
    return f"$SYS.ACCOUNT.{issuer}.CLAIMS.ACTIVATE.{hash_}"


def lookup_subject(account: str) -> str:
    return f"$SYS.REQ.ACCOUNT.{account}.CLAIMS.LOOKUP"


def info_subject(account: str) -> str:
    """Where each nats-server tells about the account as it runs it (an error when not loaded)."""
    return f"$SYS.REQ.ACCOUNT.{account}.INFO"
