"""Asking every running nats-server at once, and knowing when all of them have answered.

nats-server answers a message with a reply subject on `$SYS.ACCOUNT.<a>.CLAIMS.UPDATE` (and on
`$SYS.REQ.ACCOUNT.<a>.CLAIMS.UPDATE`) from each server: "jwt updated" once it runs the JWT, "jwt
update skipped" when it does not have the account loaded, an error with its reason when it refuses
the JWT. `$SYS.REQ.ACCOUNT.<a>.INFO` is answered by each server too: the account as it runs it (its
JWT and decoded claims), or "Account <a> does not exist" when not loaded; unlike a CONNZ request it
never makes a server load the account. Both hold for nats-server 2.10 and 2.15 alike.

How many answers to expect: a ping (`$SYS.REQ.SERVER.PING`, answered with each server's statistics)
goes out just before the message, on a second reply subject. Each server's statistics list its
route peers by name and the gateways (remote clusters) it has; once a server of every named cluster
has answered the ping, the servers known are those that answered plus the peers they listed, and
the wait ends as soon as all of them have answered the message. The ping travels the same route as
the message to each server, so a server's ping answer is never far behind its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from nats_account_server.core.heard import Heard, ServerAnswer
from nats_account_server.natsio.census import is_no_responders

__all__ = ["PING", "Roster", "answer_of", "ask"]

PING = "$SYS.REQ.SERVER.PING"
ACCOUNT_SERVER = "nats-account-server"  # our siblings answer claim updates too: not nats-servers
CLOSED_CHECK = 0.25  # seconds between looks at the connection while no answer comes


class Roster:
    """The nats-servers known to exist, from the ping answers heard so far."""

    def __init__(self) -> None:
        self.heard: dict[str, str] = {}  # name -> cluster, of the servers that answered the ping
        self.peers: set[str] = set()  # route peers they listed
        self.clusters: set[str] = set()  # their clusters and the gateways they named

    def add(self, reply: dict[str, Any]) -> None:
        server = reply.get("server")
        stats = reply.get("statsz")
        if not isinstance(server, dict) or not isinstance(stats, dict):
            return
        name, cluster = str(server.get("name", "")), str(server.get("cluster", ""))
        if not name:
            return
        self.heard[name] = cluster
        self.clusters.add(cluster)
        for route in stats.get("routes") or ():
            if isinstance(route, dict) and route.get("name"):
                self.peers.add(str(route["name"]))
        for gateway in stats.get("gateways") or ():
            if isinstance(gateway, dict) and gateway.get("name"):
                self.clusters.add(str(gateway["name"]))

    @property
    def known(self) -> set[str]:
        return set(self.heard) | self.peers

    @property
    def settled(self) -> bool:
        """A server of every cluster named so far has answered the ping."""
        return bool(self.heard) and self.clusters <= set(self.heard.values())


def _json(msg: Msg) -> dict[str, Any] | None:
    try:
        body = json.loads(msg.data)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def answer_of(reply: dict[str, Any]) -> ServerAnswer | None:
    """A nats-server's monitoring reply as an answer; None for anything else (our siblings' replies,
    messages without a server section)."""
    server = reply.get("server")
    if not isinstance(server, dict):
        return None
    name = str(server.get("name", ""))
    if not name or name == ACCOUNT_SERVER:
        return None
    error = reply.get("error")
    description = ""
    if isinstance(error, dict):
        description = str(error.get("description") or f"error {error.get('code', '')}".strip())
    elif error:
        description = str(error)
    return ServerAnswer(
        name=name,
        id=str(server.get("id", "")),
        cluster=str(server.get("cluster", "")),
        version=str(server.get("ver", "")),
        data=reply.get("data"),
        error=description,
    )


def _keep(answers: dict[str, ServerAnswer], answer: ServerAnswer) -> None:
    """One answer per server: a server that answers twice (a full resolver's own handler besides
    the generic one) counts with its refusal, if either refused."""
    key = answer.id or answer.name
    before = answers.get(key)
    if before is None or (answer.error and not before.error):
        answers[key] = answer


async def ask(nc: Client, subject: str, payload: bytes, timeout: float) -> Heard:
    """Send `payload` on `subject` once, with a reply subject, and gather the answers (see the
    module's docstring); a connection closed while waiting ends the wait with what was heard."""
    base = nc.new_inbox()
    queue: asyncio.Queue[Msg] = asyncio.Queue()

    async def put(msg: Msg) -> None:
        queue.put_nowait(msg)

    sub = await nc.subscribe(f"{base}.*", cb=put)
    roster = Roster()
    answers: dict[str, ServerAnswer] = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(timeout, 0.0)
    try:
        await nc.publish(PING, b"", reply=f"{base}.ping")
        await nc.publish(subject, payload, reply=f"{base}.answer")
        while (remaining := deadline - loop.time()) > 0:
            try:  # a closed connection (the server stops) ends the wait within a tick
                msg = await asyncio.wait_for(queue.get(), min(remaining, CLOSED_CHECK))
            except TimeoutError:
                if nc.is_closed:
                    break
                continue
            is_answer = msg.subject.endswith(".answer")
            if is_no_responders(msg):  # nobody listens (not a system account user?): nothing to hear
                if is_answer:
                    break
                continue
            reply = _json(msg)
            if reply is None:
                continue
            if is_answer:
                answer = answer_of(reply)
                if answer is not None:
                    _keep(answers, answer)
            else:
                roster.add(reply)
            if roster.settled and roster.known <= {a.name for a in answers.values()}:
                break
    finally:
        with contextlib.suppress(nats.errors.Error, OSError):
            await sub.unsubscribe()
    names = {a.name for a in answers.values()}
    missing = tuple(sorted(roster.known - names))
    complete = roster.settled and not missing  # no server heard from is never "all answered"
    return Heard(tuple(sorted(answers.values(), key=lambda a: a.name)), missing, complete)
