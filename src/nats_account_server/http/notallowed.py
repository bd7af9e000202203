"""What a 405 says: which method was refused, why, and where to send it instead.

A server takes no uploads when it is a replica, serves an nsc folder or has a read-only store;
`readonly_reason` says which, from the settings, once per instance, and `not_allowed_body` puts
it in the answer, so that an `nsc push` to the wrong server tells its user where to push.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nats_account_server.log import bounded

if TYPE_CHECKING:
    from nats_account_server.config import Settings

__all__ = ["not_allowed_body", "readonly_reason"]

ACCOUNTS_ROUTE = "/jwt/v1/accounts/"
ACTIVATIONS_ROUTE = "/jwt/v1/activations"


def readonly_reason(settings: Settings) -> str:
    """Why a server with these settings takes no uploads ("": it takes them)."""
    store = settings.store
    if settings.primary:
        primary = settings.primary
        return f"this server is a replica (-primary) and takes no uploads; push to the primary {primary}"
    if store.nsc:
        return f"the store is the nsc folder {store.nsc}, served read-only (-nsc); change accounts with nsc"
    if not store.readonly:
        return ""
    push = "push to a writable account server"
    if store.dir:
        push += f" or change the files in {store.dir}"
    elif store.kv.enabled:
        push += " of the same KV bucket"
    return f"the store is read-only (store {{ readonly: true }} or -ro); {push}"


def not_allowed_body(method: str, path: str, allowed: tuple[str, ...], reason: str) -> bytes:
    """The one line of a 405: ``allowed`` are the path's methods (OPTIONS aside), ``reason`` is
    `readonly_reason` of the server."""
    shown = bounded(method)
    if method == "POST" and reason and path.startswith(ACCOUNTS_ROUTE) and path != ACCOUNTS_ROUTE:
        line = f"POST not allowed: {reason}"
    elif method == "POST" and path in (ACCOUNTS_ROUTE, ACCOUNTS_ROUTE.rstrip("/")):
        line = f"POST not allowed on {path}: upload an account JWT to {ACCOUNTS_ROUTE}<account public key>"
    elif path == ACTIVATIONS_ROUTE:
        line = (
            f"{shown} not allowed on {ACTIVATIONS_ROUTE}: POST an activation JWT there;"
            f" GET one at {ACTIVATIONS_ROUTE}/<hash>"
        )
    else:
        line = f"{shown} not allowed on {bounded(path)}: allowed are {', '.join((*allowed, 'OPTIONS'))}"
    return (line + "\n").encode()
