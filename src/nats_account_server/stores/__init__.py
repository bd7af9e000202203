"""Key -> JWT stores: memory, directory (atomic, optionally sharded), nsc, plus a watcher.

The watcher is imported on first use: a writable server starts it after it serves.
"""

from typing import TYPE_CHECKING, Any

from ..core.store import (
    AsyncSaveStore,
    GroupSaveStore,
    ReadOnlyError,
    Store,
    StoreError,
    StoreUnavailable,
    is_store_key,
)
from .directory import DirectoryStore
from .memory import MemoryStore
from .nsc import NscStore

if TYPE_CHECKING:
    from .watch import StoreWatcher

__all__ = [
    "AsyncSaveStore",
    "DirectoryStore",
    "GroupSaveStore",
    "MemoryStore",
    "NscStore",
    "ReadOnlyError",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "StoreWatcher",
    "is_store_key",
]


def __getattr__(name: str) -> Any:
    if name == "StoreWatcher":
        from .watch import StoreWatcher

        return StoreWatcher
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
