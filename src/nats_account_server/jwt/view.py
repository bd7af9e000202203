"""Human-readable decoded view of a JWT (`?decode=true`).

The claims are shown as the JWT library reads them: member names matched in any case, repeated
members merged, unknown members dropped, empty members left out; so a hidden `"EXP"` shows as the
`exp` nats-server applies. The output is not JSON (dates follow `iat`/`exp`, embedded activation
tokens are expanded, never fetched); the outer signature is not verified.
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

from nats_account_server.records import is_record, members_of

from .claims import plain
from .codec import JWTError, Token, decode, decode_activation, split_token
from .layouts import Claims

# patterns compiled by their first use (re caches them): only ?decode= views need them
_TOKEN_LINE = r'^( *)"token": ("(?:[^"\\]|\\.)*"),?$'
_DATE_LINE = r'^( *"(?:iat|exp)": )(-?\d+)(,?)$'
_REGISTERED = ("jti", "iat", "iss", "name", "sub", "exp", "nbf", "aud")
_V1_TOP = ("type", "tags", "issuer_account")


def _pretty(obj: Any, *, sort: bool) -> str:
    return json.dumps(obj, indent=4, ensure_ascii=False, sort_keys=sort)


def _as_json(value: Any) -> Any:
    """A claims structure as JSON values, leaving out empty members (Go's `omitempty`)."""
    if is_record(value):
        out = {}
        for member in members_of(value):
            shown = _as_json(getattr(value, member.name))
            if shown not in (None, "", 0, False, [], {}):
                out[member.name] = shown
        return out
    if isinstance(value, dict):
        return {k: (_as_json(v) if v is not None else None) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v) if v is not None else None for v in value]
    return value


def claims_json(tok: Token) -> dict[str, Any]:
    """The claims in their version's layout: registered members at the top, the rest in `nats`."""
    if type(tok.claims) is Claims:  # a kind we do not host: the payload as sent, last member winning
        shown = plain(tok.payload)
        return shown if isinstance(shown, dict) else {}
    members = _as_json(tok.claims)
    if "signing_keys" in members and isinstance(members["signing_keys"], dict):
        keys = members["signing_keys"]
        members["signing_keys"] = [k if v is None else {"kind": "user_scope", **v} for k, v in keys.items()]
    top = {k: members.pop(k) for k in _REGISTERED if k in members}
    if tok.version == 1:
        top.update((k, members.pop(k)) for k in _V1_TOP if k in members)
        members.pop("version", None)
        if tok.kind == "activation" and "kind" in members:
            members["type"] = members.pop("kind")
    else:
        members.setdefault("type", tok.kind)
        members.setdefault("version", tok.version)
    top["nats"] = members
    return top


def _expand_token(match: re.Match[str]) -> str:
    """Replace an embedded import token by its verified activation claims (never fetched)."""
    indent, literal = match.group(1), match.group(2)
    comma = "," if match.group(0).endswith(",") else ""
    try:
        value = json.loads(literal)
        if not isinstance(value, str):
            raise JWTError("token is not a string")
        shown = _pretty(claims_json(decode_activation(value)), sort=True).replace("\n", "\n" + indent)
    except (JWTError, ValueError) as e:
        shown = f"<bad token - {str(e).splitlines()[0] if str(e) else type(e).__name__}>"
    return f'{indent}"token": {shown}{comma}'


def _add_date(match: re.Match[str]) -> str:
    prefix, digits, comma = match.group(1), match.group(2), match.group(3)
    try:
        day = datetime.datetime.fromtimestamp(int(digits), datetime.UTC).strftime("%Y-%m-%d")
    except (OverflowError, OSError, ValueError):
        return match.group(0)
    return f"{prefix}{digits} ({day}){comma}"


def decoded_view(raw: str) -> str:
    """Header, claims (sorted, with dates and expanded tokens) and signature; JWTError if undecodable."""
    tok = decode(raw, verify=False)
    body = _pretty(claims_json(tok), sort=True)
    body = re.sub(_TOKEN_LINE, _expand_token, body, flags=re.MULTILINE)
    body = re.sub(_DATE_LINE, _add_date, body, flags=re.MULTILINE)
    return f"{_pretty(tok.header, sort=False)}\n\r\n{body}\n\r\n{split_token(raw)[2]}\n"
