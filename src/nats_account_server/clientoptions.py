"""Connection options shared by every nats-py client we open (system account, JetStream KV)."""

from __future__ import annotations

import ssl


def server_urls(servers: list[str]) -> list[str]:
    """Go's client takes a comma-joined list, so entries may themselves hold several URLs."""
    return [url.strip() for entry in servers for url in entry.split(",") if url.strip()]


def tls_context(root: str, cert: str, key: str) -> ssl.SSLContext | None:
    """Client TLS from `nats.tls`; None leaves nats-py's default (used for `tls://` URLs)."""
    if not root and not cert:
        return None
    ctx = ssl.create_default_context(cafile=root or None)
    if cert:
        ctx.load_cert_chain(cert, key or None)
    return ctx
