"""A page of the stored accounts or activations, in key order: what `GET /jwt/v1/list/...` shows.

Pages are cut by key: a page is the first `limit` keys above `after` (the previous page's last key),
so a client walks a store of any size with constant memory on both sides, and keys added or removed
between pages never shift the rest. Each entry shows the key and the registered claims nats-server
and operators look at (`jti`, `iat`, `exp`, `name`), read without re-verifying the signature (every
JWT was checked when it was stored); a stored file that cannot be read shows as an error entry.
"""

from __future__ import annotations

import bisect
from typing import Any

from nats_account_server.core.store import PagedStore, Store, StoreError
from nats_account_server.jwt import JWTError, is_account_key, peek_claims

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "page"]

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000


def _keys(store: Store, accounts: bool, after: str, limit: int) -> list[str]:
    if isinstance(store, PagedStore):  # every store that can hold many keys pages by itself
        return store.keys_after(after, limit, accounts=accounts)
    if accounts:  # an nsc folder: its accounts are few and already indexed
        keys = store.account_keys()
    else:
        keys = sorted(k for k, _ in store.pack(-1) if not is_account_key(k))
    start = bisect.bisect_right(keys, after)
    return keys[start : start + limit]


def _entry(store: Store, key: str) -> dict[str, Any] | None:
    try:
        jwt = store.load(key)
    except StoreError:
        return {"key": key, "error": "error loading JWT"}
    if not jwt:
        return None  # removed since the keys were listed
    try:
        claims = peek_claims(jwt)
    except (JWTError, ValueError) as exc:
        return {"key": key, "error": f"error decoding JWT - {exc}"}
    return {"key": key, "jti": claims.jti, "iat": claims.iat, "exp": claims.exp, "name": claims.name}


def page(store: Store, *, accounts: bool, after: str, limit: int) -> dict[str, Any]:
    """`{"accounts"|"activations": [...], "next": <key to pass as after>|null}`; `next` is null on the
    last page. Blocking (file reads): call it from a worker thread."""
    keys = _keys(store, accounts, after, limit)
    entries = [e for e in (_entry(store, k) for k in keys) if e is not None]
    return {
        "accounts" if accounts else "activations": entries,
        "next": keys[-1] if len(keys) == limit and keys else None,
    }
