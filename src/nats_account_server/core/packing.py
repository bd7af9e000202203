"""The core's packs: serving the store as one (built once per change) and merging one in.

The `<key>|<jwt>` lines themselves (their format and the check of one) are pack.py's; here is what
the core does with them. The body of `/jwt/v1/pack` and of NATS packs is read and joined on a worker
thread, so a large store's pack never holds up the event loop, and only the latest one is kept.
Merging (a replica's import, the JWT sync) runs every line through the newer-wins rule, 64 at a
time, so that a large pack into a durable store waits on grouped fsyncs, not one after the other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from nats_account_server.core.pack import format_pack, parse_pack_line
from nats_account_server.core.store import StoreError
from nats_account_server.core.verdict import Saved
from nats_account_server.log import log, short_key
from nats_account_server.oserrors import error_text

if TYPE_CHECKING:
    from nats_account_server.core.service import Core

__all__ = ["LatestPack", "merge"]


class LatestPack:
    """The latest pack: (its max, the core's generation it was built at, the job building it). One
    only, so that clients asking for many different `max` values cannot make the server keep many
    packs."""

    def __init__(self) -> None:
        self._built: tuple[int, int, asyncio.Future[bytes]] | None = None

    async def body(self, core: Core, max_items: int) -> bytes:
        """The pack as `<key>|<jwt>` lines, built again only when the store changed since (or the
        last build failed)."""
        built = self._built
        if (
            built is None
            or built[:2] != (max_items, core.generation)
            or (built[2].done() and built[2].exception() is not None)
        ):
            job = asyncio.ensure_future(asyncio.to_thread(lambda: format_pack(core.pack(max_items)).encode()))
            built = self._built = (max_items, core.generation, job)
        return await asyncio.shield(built[2])


async def merge(core: Core, body: str | list[str], progress: Callable[[int, int], None] | None = None) -> int:
    """Merge `<key>|<jwt>` lines under the newer-wins rule; bad lines and failed saves are skipped
    and logged. Returns how many were saved."""
    lines = [ln for ln in (body.split("\n") if isinstance(body, str) else body) if ln.strip()]
    total, saved, done = len(lines), 0, 0

    async def one(line: str) -> bool:
        nonlocal done
        try:
            return await _merge_line(core, line)
        finally:
            done += 1
            if progress is not None:
                progress(done, total)

    for start in range(0, total, 64):
        saved += sum(await asyncio.gather(*(one(line) for line in lines[start : start + 64])))
    return saved


async def _merge_line(core: Core, line: str) -> bool:
    item = parse_pack_line(line, core.trust)
    if isinstance(item, str):
        log.warn(f"skipping pack line: {item}")
        return False
    kind, key, tok = item
    try:
        return await core.save_if_newer(kind, key, tok) is Saved.SAVED
    except StoreError as exc:  # one unwritable key must not stop the rest
        log.error(f"{short_key(key)} - error saving JWT from pack - {error_text(exc)}")
        return False
