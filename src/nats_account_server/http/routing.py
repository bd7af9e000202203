"""Which paths the HTTP side serves, with which methods, and the names metrics give them.

The method map decides a 404 (no route), a 405 and its Allow header (a route without the method),
and the preflight's answer; the route names are a fixed set, whatever paths clients send, so the
request metrics stay bounded. What each route answers is App.route's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nats_account_server.http.listing import LIST_ACCOUNTS, LIST_ACTIVATIONS
from nats_account_server.http.status import is_status_path

if TYPE_CHECKING:
    from nats_account_server.core.service import Core

__all__ = ["ACCOUNTS", "ACTIVATIONS", "ROUTE_NAMES", "route_methods", "route_name"]

ACCOUNTS = "/jwt/v1/accounts/"
ACTIVATIONS = "/jwt/v1/activations/"
ROUTE_NAMES = {
    "/jwt/v1/accounts": "probe",
    ACCOUNTS: "probe",
    "/jwt/v1/activations": "activations",
    "/jwt/v1/help": "help",
    "/jwt/v1/operator": "operator",
    "/jwt/v1/pack": "pack",
    "/healthz": "healthz",
    "/readyz": "readyz",
    "/metrics": "metrics",
    LIST_ACCOUNTS: "list",
    LIST_ACTIVATIONS: "list",
}


def route_name(path: str, core: Core, writable: bool) -> str:
    """The route of a path as metrics label it: a fixed set, whatever clients send."""
    if route_methods(path, core, writable) is None:
        return "other"
    if is_status_path(path):
        return "status"
    if path.startswith(ACCOUNTS) and path != ACCOUNTS:
        return "account"
    if path.startswith(ACTIVATIONS):
        return "activation"
    return ROUTE_NAMES[path]


def route_methods(path: str, core: Core, writable: bool) -> tuple[str, ...] | None:
    """The methods registered for a path, or None when no route has that path; `writable` decides
    whether POST routes exist."""
    if path.startswith(ACCOUNTS) and path.count("/") == 4 and path != ACCOUNTS:
        if not writable:
            return ("GET",)
        return ("GET", "POST", "DELETE") if core.deletion.allow else ("GET", "POST")
    if is_status_path(path):
        return ("GET",)
    if path.startswith(ACTIVATIONS) and path.count("/") == 4 and path != ACTIVATIONS:
        return ("GET",)
    if path in ("/healthz", "/readyz"):
        return ("GET", "HEAD")  # load balancers probe with HEAD
    if path in ("/metrics", LIST_ACCOUNTS, LIST_ACTIVATIONS):
        return ("GET",)
    if path in ("/jwt/v1/accounts", ACCOUNTS, "/jwt/v1/help"):
        return ("GET",)
    if path == "/jwt/v1/activations":
        return ("POST",) if writable else None
    if path == "/jwt/v1/operator":
        return ("GET",) if core.trust.operator_jwt else None
    if path == "/jwt/v1/pack":
        return ("GET",) if core.store.supports_pack else None
    return None
