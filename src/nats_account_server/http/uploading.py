"""`POST /jwt/v1/accounts/<key>` and `POST /jwt/v1/activations`: the body read, then the core's checks.

An account upload may wait for the running nats-servers (`?wait=`, see http/status.py); a body that
is too large, cut short or late is refused with its decision line logged like any other refusal
(core/uploads.py, which also holds the order of the checks).
"""

from __future__ import annotations

from typing import Any

from nats_account_server.core.service import Core, Failure
from nats_account_server.core.uploads import post_account, post_activation, refused_body
from nats_account_server.http.bodies import Bodies, BodyTooLarge
from nats_account_server.http.responses import TEXT, Response, plain
from nats_account_server.http.routing import ACCOUNTS
from nats_account_server.http.stack import ProtocolClosed
from nats_account_server.http.status import BadWait, json_response, parse_wait

__all__ = ["post_route"]


async def post_route(
    core: Core, bodies: Bodies, scope: Any, proto: Any, path: str, *, sign_subject: str, sign_timeout: float
) -> Response:
    client: str = scope.client  # "host:port", for the upload's decision line
    key = path[len(ACCOUNTS) :] if path.startswith(ACCOUNTS) else None
    wait: float | None = None
    if key is not None and scope.query_string:  # an upload that waits for the nats-servers
        try:
            wait = parse_wait(scope.query_string)
        except BadWait as exc:
            refused = refused_body(key, client, 400, str(exc))
            return plain(refused.status, refused.message)
    try:
        body = await bodies.read(scope, proto)
    except BodyTooLarge:
        refused = refused_body(key, client, 413, "request body too large")
        return plain(refused.status, refused.message)
    except (TimeoutError, Exception) as exc:
        reason = "client closed the connection" if isinstance(exc, ProtocolClosed) else str(exc)
        refused = refused_body(key, client, 400, "bad JWT in request", f"unable to read body: {reason}")
        return plain(refused.status, refused.message)
    try:
        if key is not None:
            answer = await post_account(
                core,
                key,
                body,
                client=client,
                sign_subject=sign_subject,
                sign_timeout=sign_timeout,
                wait=wait,
            )
        else:
            answer = await post_activation(core, body, client=client)
    except Failure as exc:
        return plain(exc.status, exc.message)
    if answer.report is not None:
        return json_response(200, answer.report.body())
    if answer.status == 200:
        return Response(200)
    return Response(answer.status, answer.body, [("content-type", TEXT)])
