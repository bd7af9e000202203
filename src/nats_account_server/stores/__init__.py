"""Key -> JWT stores (SPEC 4): memory, directory (atomic, optionally sharded), nsc, plus a watcher."""

from .base import (
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
from .watch import StoreWatcher, sees_attributes

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
    "sees_attributes",
    "is_store_key",
]
