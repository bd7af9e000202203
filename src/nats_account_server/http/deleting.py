"""`DELETE /jwt/v1/accounts/<key>`: the operator-signed delete request nsc sends over NATS, as the body.

The URL's key must be among the request's accounts (so a request cannot be replayed against a route
it does not name); the request may name more, all deleted together (core/deletion.py). Answers: 200
`deleted N accounts`, 400 for a request that is refused (the reason), 404 when an account it names is
not stored (nothing deleted), 405 where this server does not delete (the reason says where to) or
deletion is not enabled, 413 for a body above `maxbodysize`, 503 when a KV store is unreachable.
"""

from __future__ import annotations

from typing import Any

from nats_account_server.core.deletion import DISABLED, delete_accounts
from nats_account_server.core.service import Core
from nats_account_server.core.uploads import via_http
from nats_account_server.http.bodies import Bodies, BodyTooLarge
from nats_account_server.http.responses import TEXT, Response, plain
from nats_account_server.http.stack import ProtocolClosed
from nats_account_server.jwt import is_account_key

__all__ = ["delete_answer", "delete_refusal", "delete_route"]


def delete_refusal(
    core: Core, writable: bool, readonly_reason: str, allowed: tuple[str, ...]
) -> Response | None:
    """The 405 of a server that does not delete (where to delete instead), or that has deletion off;
    None when DELETE is taken. ``allowed``: the route's methods, for the Allow header."""
    policy = core.deletion
    if policy.refused or not writable:
        reason = policy.refused or readonly_reason or "the store is read-only"
    elif not policy.allow:
        reason = f"{DISABLED} (store {{ allow_delete: true }})"
    else:
        return None
    allow = ", ".join((*allowed, "OPTIONS"))
    return Response(
        405, f"DELETE not allowed: {reason}\n".encode(), [("allow", allow), ("content-type", TEXT)]
    )


async def delete_answer(core: Core, key: str, body: bytes, client: str) -> Response:
    """Apply the request in ``body`` for the URL's ``key`` and answer its one line."""
    if not is_account_key(key):
        return plain(400, "the URL does not name an account public key")
    outcome = await delete_accounts(core, body, via=via_http(client), url_key=key, forward=True)
    return plain(outcome.status, outcome.message)


async def delete_route(core: Core, bodies: Bodies, scope: Any, proto: Any, key: str) -> Response:
    """A delete request in the body, read under the upload limits."""
    try:
        body = await bodies.read(scope, proto)
    except BodyTooLarge:
        return plain(413, "request body too large")
    except (TimeoutError, Exception) as exc:
        reason = "client closed the connection" if isinstance(exc, ProtocolClosed) else str(exc)
        return plain(400, f"unable to read body: {reason}")
    return await delete_answer(core, key, body, scope.client)
