"""Pack lines: the `<key>|<jwt>` format shared by `/jwt/v1/pack`, replicas and NATS sync.

Parsing and checking a line is pure, so the rules of SPEC 4.6 are tested without servers.
"""

from __future__ import annotations

from nats_account_server.jwt import (
    JWTError,
    Token,
    activation_hash,
    decode_account,
    decode_activation,
    is_account_key,
    is_activation_hash,
)
from nats_account_server.kinds import Kind
from nats_account_server.trust import Trust


def format_pack(items: list[tuple[str, str]]) -> str:
    return "\n".join(f"{key}|{jwt}" for key, jwt in items)


def parse_pack_line(line: str, trust: Trust) -> tuple[Kind, str, Token] | str:
    """A checked line, or the reason it must be skipped."""
    parts = line.split("|")
    if len(parts) != 2:
        return f'line in package didn\'t contain 2 entries: "{line[:80]}"'
    key, jwt = parts[0].strip(), parts[1].strip()
    try:
        if is_account_key(key):
            tok = decode_account(jwt)
            if tok.sub != key:
                return f"{key[:12]} - JWT subject {tok.sub[:12]} does not match the key"
            if trust.configured and not trust.trusts(tok.iss):
                return f"{key[:12]} - untrusted issuer {tok.iss[:12]}"
            return Kind.ACCOUNT, key, tok
        if is_activation_hash(key):
            tok = decode_activation(jwt)
            subject = str(tok.nats.get("subject", ""))
            if activation_hash(tok.iss, tok.sub, subject) != key:
                return f"{key[:12]} - activation hash does not match the JWT"
            return Kind.ACTIVATION, key, tok
    except (JWTError, ValueError) as exc:
        return f"{key[:12]} - {exc}"
    return f"invalid key {key[:60]!r}"
