"""Human-readable decoded view of a JWT (SPEC 5.5).

The output is intentionally not JSON (dates appended to iat/exp, embedded tokens expanded); the
signature of the outer token is not verified, as in v1.0.
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

from .codec import JWTError, b64decode_segment, decode_activation, json_object_segment, split_token

_TOKEN_LINE = re.compile(r'^( *)"token": ("(?:[^"\\]|\\.)*"),$', re.MULTILINE)
_DATE_LINE = re.compile(r'^( *"(?:iat|exp)": )(-?\d+),$', re.MULTILINE)


def _pretty(obj: Any, *, sort: bool) -> str:
    return json.dumps(obj, indent=4, ensure_ascii=False, sort_keys=sort)


def _expand_token(match: re.Match[str]) -> str:
    """Replace an embedded import token by its verified activation claims (never fetched)."""
    indent, literal = match.group(1), match.group(2)
    try:
        value = json.loads(literal)
        if not isinstance(value, str):
            raise JWTError("token is not a string")
        shown = _pretty(decode_activation(value).claims, sort=True).replace("\n", "\n" + indent)
    except (JWTError, ValueError) as e:
        shown = f"<bad token - {str(e).splitlines()[0] if str(e) else type(e).__name__}>"
    return f'{indent}"token": {shown},'


def _add_date(match: re.Match[str]) -> str:
    prefix, digits = match.group(1), match.group(2)
    try:
        day = datetime.datetime.fromtimestamp(int(digits), datetime.UTC).strftime("%Y-%m-%d")
    except (OverflowError, OSError, ValueError):
        return match.group(0)
    return f"{prefix}{digits} ({day}),"


def decoded_view(raw: str) -> str:
    """Header, claims (sorted, with dates and expanded tokens) and signature; JWTError if undecodable."""
    head_seg, payload_seg, sig_seg = split_token(raw)
    header = json_object_segment(head_seg, "header")
    claims = json_object_segment(payload_seg, "payload")
    b64decode_segment(sig_seg, "signature")
    body = _pretty(claims, sort=True)
    body = _TOKEN_LINE.sub(_expand_token, body)
    body = _DATE_LINE.sub(_add_date, body)
    return f"{_pretty(header, sort=False)}\n\r\n{body}\n\r\n{sig_seg}\n"
