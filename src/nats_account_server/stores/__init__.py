"""Key -> JWT stores (SPEC 4): memory, directory (atomic, optionally sharded), nsc, plus a watcher."""

from .base import ReadOnlyError, Store, StoreError, is_store_key
from .directory import DirectoryStore
from .memory import MemoryStore
from .nsc import NscStore
from .watch import StoreWatcher

__all__ = [
    "DirectoryStore",
    "MemoryStore",
    "NscStore",
    "ReadOnlyError",
    "Store",
    "StoreError",
    "StoreWatcher",
    "is_store_key",
]
