"""The store seam: what the core needs of a key -> JWT store, and what each store can do.

Stores are plain key -> JWT maps. They never judge JWT content (the core does), but they refuse keys
that could not possibly be ours, so that no URL fragment ever becomes a file path. What differs
between stores is stated in the interface, never guessed from a class: how writes reach them
(`writes`), the response cache that fits them (`make_cache`), whether they run something of their
own (`start`/`stop`, e.g. a KV watch) and whether their files are watched for hand edits (`watcher`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from enum import Enum
from typing import Protocol, TypeVar, cast, runtime_checkable

from ..jwt import is_account_key, is_activation_hash
from .cache import Cache

__all__ = [
    "Version",
    "OnChange",
    "OnDelete",
    "Watcher",
    "Writes",
    "AsyncSaveStore",
    "AsyncDeletingStore",
    "DeletingStore",
    "GroupSaveStore",
    "PagedStore",
    "ReadOnlyError",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "deleting",
    "is_store_key",
]

R = TypeVar("R")
Version = tuple[int, str]  # (iat, jti) of a saved JWT: what the newer-wins rule compares
OnChange = Callable[[str, str], Awaitable[None]]  # (key, jwt) of a file that changed
OnDelete = Callable[[str], None]  # key of a file that went ("": a whole tree)


class Writes(Enum):
    """How a store's writes reach it, which decides where the core runs them."""

    INLINE = "inline"  # in memory: cheap, on the event loop
    THREADED = "threaded"  # files: from worker threads, one by one
    GROUPED = "grouped"  # files: from worker threads, a group of writes sharing fsyncs (GroupSaveStore)
    # a network round trip (JetStream KV): awaited (AsyncSaveStore); other instances write the same
    # store, their writes reach us through `start`'s callback, and `load` is a local, cheap read
    NETWORKED = "networked"


class Watcher(Protocol):
    """Follows a store's files and reports hand edits until `stop` is set."""

    async def run(self, stop: asyncio.Event) -> None: ...


class StoreError(Exception):
    """An IO or configuration failure of a store (the "error saving JWT" cases)."""


class ReadOnlyError(StoreError):
    """Raised by ``save`` on read-only stores; a distinct type so handlers can map it to a 4xx."""

    def __init__(self, message: str = "store is read-only") -> None:
        super().__init__(message)


class StoreUnavailable(StoreError):
    """A networked store (JetStream KV) cannot be reached right now: answer 503, nothing was written."""


@runtime_checkable
class Store(Protocol):
    """What the core needs from a store; implementations serialize their own access."""

    readonly: bool
    supports_pack: bool
    description: str
    #: False when others than this server and the operator can write entries (a shared JetStream KV
    #: bucket): each entry read then passes the acceptance rule before it is served or packed.
    entries_vetted: bool
    writes: Writes

    def load(self, key: str) -> str | None:
        """The stored JWT, or None when absent (also for keys that are not store keys)."""
        ...

    def save(self, key: str, jwt: str) -> None:
        """Store ``jwt`` under ``key``; raises ReadOnlyError / StoreError."""
        ...

    def pack(self, max: int = -1) -> list[tuple[str, str]]:
        """(key, jwt) pairs; ``max`` < 0 means no limit, 0 means none."""
        ...

    def account_keys(self) -> list[str]:
        """Keys of the stored account JWTs (activations excluded)."""
        ...

    def counts(self) -> tuple[int, int]:
        """(accounts, activations) stored. Blocking (a directory walk for file stores): call it
        from a worker thread."""
        ...

    def health(self) -> str | None:
        """Why the store cannot serve JWTs (or store them, when it is writable) right now; None when
        it can. Blocking (a stat for file stores): call it from a worker thread."""
        ...

    def make_cache(self, capacity: int) -> Cache:
        """The response cache that suits this store (memory: a map of ready responses; files: an
        index checked against the file on each hit, so hand edits are served at once)."""
        ...

    def watcher(self, on_change: OnChange, on_delete: OnDelete) -> Watcher | None:
        """What follows hand edits of the store's files; None when nobody else edits it."""
        ...

    async def start(self, on_remote_change: Callable[[str, str], None]) -> None:
        """Whatever the store runs of its own, before the server serves (a KV store catches up on
        the bucket and reports other instances' writes through ``on_remote_change``)."""
        ...

    async def stop(self) -> None:
        """Stop what ``start`` began; ``close`` then releases the rest."""
        ...

    def close(self) -> None:
        """Release resources; the store must not be used afterwards."""
        ...


@runtime_checkable
class AsyncSaveStore(Store, Protocol):
    """A store whose writes are network calls (JetStream KV); reads stay local and synchronous."""

    async def save_async(self, key: str, jwt: str, keep: Callable[[str], R | None] | None = None) -> R | None:
        """Write ``jwt`` unless ``keep(current_jwt)`` says otherwise; returns that verdict, None if written.

        ``keep`` is re-applied to the freshest stored value whenever a concurrent writer wins the race,
        so callers get compare-and-set semantics across processes. Raises StoreUnavailable when the
        store cannot be reached.
        """
        ...


def is_store_key(key: object) -> bool:
    """True for a valid account public key or an activation hash: the only keys a store accepts.

    Checked before any path is built: this is what keeps ``..``, separators, NUL bytes and
    seeds away from the filesystem.
    """
    return isinstance(key, str) and (is_account_key(key) or is_activation_hash(key))


@runtime_checkable
class GroupSaveStore(Store, Protocol):
    """A blocking store that writes a group of JWTs in one go (``DirectoryStore``): shared fsyncs."""

    def save_many(
        self, items: Sequence[tuple[str, str]], versions: Sequence[Version | None] | None = None
    ) -> list[StoreError | None]:
        """Store each (key, jwt), remembering its version if given; one error or None per item, in
        order. Raises ReadOnlyError."""
        ...

    def saved_version(self, key: str) -> Version | None:
        """The version our latest save of ``key`` stored, while its file is still exactly what that
        save wrote (one stat instead of a read and a decode); None otherwise."""
        ...


@runtime_checkable
class PagedStore(Store, Protocol):
    """A store that lists its keys a page at a time, in key order, without holding every key: what the
    HTTP listing uses (a store without it is listed from ``account_keys``)."""

    def keys_after(self, after: str, limit: int, *, accounts: bool = True) -> list[str]:
        """Up to ``limit`` keys greater than ``after`` in key order: account keys, or with
        ``accounts=False`` activation hashes. Blocking: call it from a worker thread."""
        ...


@runtime_checkable
class DeletingStore(PagedStore, Protocol):
    """What every writable store does besides saving: delete a key and remember that it did.

    A deletion leaves a tombstone, the ``iat`` of the JWT deleted: a copy of that JWT (or an older
    one) arriving later from a pack or a sync peer must not bring the account back, while a newer
    JWT does. Read-only stores do not delete (they are not DeletingStores to the core: see
    ``deleting``)."""

    def delete(self, key: str, iat: int, *, hard: bool) -> bool:
        """Stop serving ``key`` and keep ``iat`` as its tombstone; soft (``hard=False``) keeps the
        JWT aside in the store, hard removes it. False when nothing was stored under ``key``.
        Blocking; raises ReadOnlyError / StoreError."""
        ...

    def tombstone(self, key: str) -> int | None:
        """The ``iat`` kept when ``key`` was last deleted, None when it never was. Blocking."""
        ...


@runtime_checkable
class AsyncDeletingStore(DeletingStore, Protocol):
    """A deleting store whose writes are network calls (JetStream KV)."""

    async def delete_async(self, key: str, iat: int, *, hard: bool) -> bool:
        """``delete`` as a network call: every instance reading the same store stops serving the key."""
        ...

    async def tombstone_async(self, key: str) -> int | None:
        """``tombstone``, asking the network store when the key is deleted there."""
        ...


def deleting(store: Store) -> DeletingStore | None:
    """The delete capability of a store: every writable store has it, a read-only one never."""
    return None if store.readonly else cast(DeletingStore, store)
