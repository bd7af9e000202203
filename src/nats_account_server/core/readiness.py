"""Readiness: whether this instance can do its job now, part by part.

`/healthz` only says the process answers; readiness is what a load balancer or an orchestrator
should route by. It counts the store (usable: readable, and writable where it should be) and the
phases of the start that are not done yet (a replica's initial import). The NATS connection is
reported but only counted on request: nats-servers may need this server to start before NATS is
up (a URL resolver looks up its system account here), so a NATS outage must not take it out of
rotation by default.
"""

from __future__ import annotations

import asyncio

from nats_account_server.core.notifier import Notifier
from nats_account_server.core.store import Store
from nats_account_server.records import record

__all__ = ["Part", "Readiness", "Report"]


@record(frozen=True)
class Part:
    """One part of the answer: its name, its state in a few words, and whether it is a problem."""

    name: str
    state: str
    failing: bool = False


@record(frozen=True)
class Report:
    """The state of every part of the start; ready when no part fails."""

    parts: tuple[Part, ...]

    @property
    def ready(self) -> bool:
        return not any(part.failing for part in self.parts)

    def text(self) -> str:
        """`ready` or `not ready`, then one `name: state` line per part."""
        head = "ready" if self.ready else "not ready"
        return "\n".join([head, *(f"{part.name}: {part.state}" for part in self.parts)]) + "\n"


class Readiness:
    """The store and notifier of one instance, and the start phases still running."""

    def __init__(self, store: Store, notifier: Notifier) -> None:
        self.store = store
        self.notifier = notifier
        self._pending: dict[str, str] = {}  # phase -> its state while it runs
        self._done: dict[str, str] = {}  # phase -> its state once done

    def begin(self, phase: str, state: str) -> None:
        """A start phase that keeps the instance unready until `end`."""
        self._done.pop(phase, None)
        self._pending[phase] = state

    def end(self, phase: str, state: str = "done") -> None:
        self._pending.pop(phase, None)
        self._done[phase] = state

    @property
    def starting(self) -> bool:
        """True while a start phase runs: the resolver probe then answers 503 as well."""
        return bool(self._pending)

    @property
    def starting_state(self) -> str:
        return "; ".join(f"{phase} {state}" for phase, state in self._pending.items())

    async def report(self, *, count_nats: bool = False) -> Report:
        """The parts as they are now; the store is checked from a worker thread (a stat of a hung
        network filesystem must not stop the event loop)."""
        problem = await asyncio.to_thread(self.store.health)
        parts = [Part("store", problem or "ok", problem is not None)]
        parts += [Part(phase, state, True) for phase, state in self._pending.items()]
        parts += [Part(phase, state) for phase, state in self._done.items()]
        parts.append(self._nats(count_nats))
        return Report(tuple(parts))

    def _nats(self, counted: bool) -> Part:
        if not self.notifier.configured:
            return Part("nats", "not configured")
        if self.notifier.connected:
            return Part("nats", "connected")
        if counted:
            return Part("nats", "not connected", True)
        return Part("nats", "not connected (not counted; /readyz?nats=true counts it)")
