"""What the running nats-servers answered to one message sent over the system account.

A message with a reply subject reaches every nats-server of the cluster (and of the clusters
joined to it by gateways); each answers once, in nats-server's monitoring reply shape
(`{"server": {...}, "data": ...}` or `{..., "error": {...}}`). The NATS side collects the answers
until every server it knows of has answered, or the wait ends; these are the shapes it hands the
core, which reads them without knowing NATS.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from nats_account_server.records import record


@record(frozen=True)
class ServerAnswer:
    """One nats-server's answer: who it is (as its reply names itself) and what it said."""

    name: str
    id: str
    cluster: str
    version: str
    data: Any = None  # the reply's "data", when it has one
    error: str = ""  # the reply's error description ("" when it answered with data)

    def about(self) -> dict[str, str]:
        """The server as reports show it."""
        return {"server": self.name, "id": self.id, "cluster": self.cluster, "version": self.version}


@record(frozen=True)
class Heard:
    """The answers, one per server, and the servers known to exist that did not answer in time.

    `complete` holds when every server known when the wait ended had answered: the servers that
    answered a ping sent beside the message, the route peers they listed, and a server from each
    gateway they named. Servers reached only through leaf node connections are counted when they
    answer in time, never waited for.
    """

    answers: tuple[ServerAnswer, ...] = ()
    missing: tuple[str, ...] = field(default=())
    complete: bool = False
