"""Container health check: exit 0 when the account server answers ``GET /healthz`` with 200, else 1.

Usage: ``python3 healthcheck.py [URL]``. Without a URL it asks ``https://127.0.0.1:9090/healthz`` and,
when the server does not speak TLS there, ``http://127.0.0.1:9090/healthz``. Certificates are not
verified: the probe runs beside the server, over loopback, and asks whether it answers, not who it
is. Only the standard library is used, so it runs with any Python of the image (no curl needed).
"""

from __future__ import annotations

import http.client
import ssl
import sys
import urllib.parse

DEFAULT_URLS = ("https://127.0.0.1:9090/healthz", "http://127.0.0.1:9090/healthz")
TIMEOUT = 2.0  # seconds per attempt; two attempts stay below the image's HEALTHCHECK --timeout


def healthy(url: str, timeout: float = TIMEOUT) -> bool:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(host, parts.port or 443, timeout=timeout, context=context)
    else:
        conn = http.client.HTTPConnection(host, parts.port or 80, timeout=timeout)
    try:
        conn.request("GET", parts.path or "/healthz")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):  # ssl.SSLError and timeouts are OSErrors
        return False
    finally:
        conn.close()


def main(argv: list[str]) -> int:
    urls = argv[1:] or list(DEFAULT_URLS)
    return 0 if any(healthy(url) for url in urls) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
