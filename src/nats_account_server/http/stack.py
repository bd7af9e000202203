"""The parts of granian the HTTP side uses, imported in one place."""

from __future__ import annotations

from granian._granian import SocketHolder
from granian.constants import HTTPModes, Interfaces, SSLProtocols
from granian.http import HTTP1Settings
from granian.rsgi import ProtocolClosed  # type: ignore[attr-defined]  # re-exported untyped
from granian.server.embed import Server

__all__ = [
    "HTTP1Settings",
    "HTTPModes",
    "Interfaces",
    "ProtocolClosed",
    "SSLProtocols",
    "Server",
    "SocketHolder",
]
