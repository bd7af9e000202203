"""Pack lines: the `<key>|<jwt>` format shared by `/jwt/v1/pack`, replicas and NATS sync.

Parsing and checking a line is pure, so its rules are tested without servers.
"""

from __future__ import annotations

from nats_account_server.core.acceptance import Refused, accept
from nats_account_server.core.kinds import Kind, kind_of
from nats_account_server.core.trust import Trust
from nats_account_server.jwt import Token


def format_pack(items: list[tuple[str, str]]) -> str:
    return "\n".join(f"{key}|{jwt}" for key, jwt in items)


def parse_pack_line(line: str, trust: Trust) -> tuple[Kind, str, Token] | str:
    """A line that passes the acceptance rule under its key, or the reason it must be skipped."""
    parts = line.split("|")
    if len(parts) != 2:
        return f'line in package didn\'t contain 2 entries: "{line[:80]}"'
    key, jwt = parts[0].strip(), parts[1].strip()
    kind = kind_of(key)
    if kind is None:
        return f"invalid key {key[:60]!r}"
    try:
        return kind, key, accept(trust, kind, jwt, key, stored=True)
    except Refused as exc:
        return f"{key[:12]} - {exc}"
