"""Our server and an operator-mode nats-server wired to each other, for the end-to-end NATS tests.

The order is the one of a real setup: our server first, pointed at the port nats-server will listen
on (NATS is not up yet: it keeps retrying) and connecting as the system account's user; the accounts
pushed to it over HTTP as ``nsc push`` does; then nats-server with the operator trust and a resolver;
ready once our server has connected to NATS for JWT syncing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx

from .natsserver import NatsServer
from .ports import free_port
from .procs import ServerProcess
from .trust import Trust

__all__ = ["SYNC_READY", "Resolver", "StartNats", "StartServer", "start_operator_stack"]

StartServer = Callable[..., ServerProcess]  # the NATS tests' ``account_server`` fixture
StartNats = Callable[..., NatsServer]  # the ``nats_factory`` fixture
Resolver = str | Mapping[str, object]  # as ``Trust.nats_config`` takes it
SYNC_READY = "connected to NATS for JWT syncing"


async def start_operator_stack(
    trust: Trust,
    account_server: StartServer,
    nats_factory: StartNats,
    http: httpx.AsyncClient,
    resolver: Resolver | None = None,
    *,
    accounts: Iterable[str] = ("SYS", "A", "B"),
    signer: str = "operator",
    creds: Path | None = None,
    **config: Any,
) -> tuple[ServerProcess, NatsServer]:
    """Our server trusting ``trust``, ``accounts`` pushed to it, then nats-server on the port our server
    was pointed at; returns once our server is connected to NATS for JWT syncing.

    * ``resolver``: nats-server's resolver (``None``: ``URL(...)`` of our server);
    * ``accounts`` are signed by ``signer`` ("operator" or "signing_key"), SYS always by the operator;
    * ``creds``: the system user's creds our server connects with (``None``: written now);
    * ``config``: more ``server_config`` keywords for our server (``nats_extra=``, ``extra=``, ...).
    """
    port = free_port()
    proc = account_server(
        f"nats://127.0.0.1:{port}", trust=trust, creds=creds or trust.creds("sys"), **config
    )
    for name in accounts:
        jwt = trust.account_jwt(name, signer="operator" if name == "SYS" else signer)
        resp = await http.post(
            f"{proc.url}/jwt/v1/accounts/{trust.pub(name)}",
            content=jwt,
            headers={"Content-Type": "application/jwt"},
        )
        assert resp.status_code == 200, (name, resp.text)
    server = nats_factory(
        trust.nats_config(f"URL({proc.resolver_url})" if resolver is None else resolver), port=port
    )
    await asyncio.to_thread(proc.wait_for_line, SYNC_READY, 15)
    return proc, server
