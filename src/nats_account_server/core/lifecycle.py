"""The life cycle every running part shares, and the one error that stops a start."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Service", "StartupError"]


class StartupError(Exception):
    """Anything that must stop startup with exit status 1 (the message says what and where)."""


class Service(Protocol):
    """A part that runs beside the core: started once after it was built, stopped once, in reverse."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
