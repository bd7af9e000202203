"""The values a configuration key may take: range checks, converters and Go's ``%v`` rendering.

A setting's field (in ``config``) names its range check and, where the plain converters by type do
not fit, its converter. A check gets the dotted key and the converted value and returns what is
wrong with it, naming the key, or None. A converter gets the Go member name and the parsed value and
returns it typed, or raises UnparsableValue with the original loader's message, values shown as
Go's ``%v`` showed them. They live apart from the settings, and import nothing of the package, so
that what a value may be reads in one place and ``config`` holds only the keys and their mapping.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import math
import re
import urllib.parse
from collections.abc import Callable
from typing import Any, Literal

__all__ = [
    "BOOL_WORDS",
    "COLOR_WORDS",
    "MAX_DURATION",
    "SCALARS",
    "Check",
    "Colors",
    "UnparsableValue",
    "between",
    "bucket",
    "colors",
    "duration",
    "go_value",
    "kv_count",
    "nats_servers",
    "one_of",
    "port",
    "primary",
    "quote",
    "subject",
    "to_colors",
    "to_word",
]

Check = Callable[[str, Any], str | None]
"""A range check: (dotted key, value) -> what is wrong with the value, or None when it is fine."""


class UnparsableValue(Exception):
    """A value of a type its key cannot take; ``str(e)`` is the message (``config`` raises it again
    as a ConfigError)."""


# --------------------------------------------------------------------------------------------------
# Range checks, one per kind of value. Each returns the problem (naming the key) or None.

MAX_DURATION = 2**31 - 1
"""Longest duration in ms (about 24.8 days): more overflows the socket options a timeout sets."""


def quote(v: str) -> str:
    return json.dumps(v, ensure_ascii=False)


def between(lo: int, hi: int | None) -> Check:
    """Integers in ``lo..hi`` (no upper bound when ``hi`` is None)."""
    shown = f"{lo}-{hi}" if hi is not None else f"{lo} or more"

    def check(key: str, v: Any) -> str | None:
        if lo <= v and (hi is None or v <= hi):
            return None
        return f"{key} {v} is out of range ({shown})"

    return check


port = between(0, 65535)
duration = between(0, MAX_DURATION)  # ms; where 0 has a meaning (off, "use reconnectwait") it is kept


def kv_count(what: str, hi: int) -> Check:
    """``store.kv.replicas`` / ``history``, with the messages they had as cross-field checks."""

    def check(key: str, v: Any) -> str | None:
        return None if 1 <= v <= hi else f"kv {what} must be between 1 and {hi}, not {v}"

    return check


_BUCKET_RE = re.compile(r"[a-zA-Z0-9_-]+")


def bucket(key: str, v: Any) -> str | None:
    if not v or _BUCKET_RE.fullmatch(v):
        return None
    return f"invalid kv bucket name {v!r} (letters, digits, '-' and '_' only)"


_SUBJECT_TOKEN_RE = re.compile(r"[^\s.]+")


def subject(key: str, v: Any) -> str | None:
    """A subject one can publish to: dot-separated tokens, no spaces, no wildcards ("" = unset)."""
    tokens = v.split(".") if v else []
    if all(_SUBJECT_TOKEN_RE.fullmatch(t) and t not in ("*", ">") for t in tokens):
        return None
    return f"{key} {quote(v)} is not a NATS subject (dot-separated tokens without spaces or wildcards)"


_HOSTNAME_RE = re.compile(r"[\w-]+(?:\.[\w-]+)*\.?")


def _url_problem(url: str, schemes: tuple[str, ...], *, exact: bool = False) -> str | None:
    """Why ``url`` is not ``scheme://host[:port]...`` with a usable host and a port in 1-65535;
    ``exact``: the scheme as written (nats-py matches ``nats://`` case-sensitively), not lowered."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return "its port or IPv6 address does not parse"
    scheme = url.partition("://")[0] if exact and "://" in url else parts.scheme
    if scheme not in schemes:
        return f"the scheme {scheme}:// is not one of them" if scheme else "it has no scheme"
    host = parts.hostname or ""
    if not host:
        return "it has no host"
    if parts.netloc.rpartition("@")[2].startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"{host!r} is not an IPv6 address"
    elif not _HOSTNAME_RE.fullmatch(host) or host == "none":  # nats-py refuses the host "none"
        return f"{host!r} is not a host name"
    if port is not None and not 1 <= port <= 65535:
        return f"port {port} is out of range (1-65535)"
    return None


def primary(key: str, v: Any) -> str | None:
    """``http(s)://host[:port][/path]``; a query or fragment would garble the URLs built on it."""
    if not v:
        return None
    why = _url_problem(v, ("http", "https"))
    if why is None and (urllib.parse.urlsplit(v).query or "#" in v):
        why = "it must not have a query or fragment"
    return None if why is None else f"{key} {quote(v)} is not an http:// or https:// URL: {why}"


_NATS_SCHEMES = ("nats", "tls", "ws", "wss")


def nats_servers(key: str, v: Any) -> str | None:
    """Each entry holds one or more comma-joined URLs (as ``natsclient.server_urls`` splits them):
    ``nats|tls|ws|wss://host[:port]`` or a bare ``host[:port]`` (nats-py prefixes ``nats://``), all
    of them websocket or none (nats-py refuses a mix). Anything else nats-py would refuse for ever.
    """
    websocket: set[bool] = set()
    for entry in v:
        urls = [u.strip() for u in entry.split(",") if u.strip()]
        if not urls:
            return f"{key} entry {quote(entry)} holds no URL"
        for url in urls:
            full = url if "://" in url else f"nats://{url}"
            why = _url_problem(full, _NATS_SCHEMES, exact=True)
            if why is not None:
                forms = "nats://, tls://, ws://, wss:// or host:port"
                return f"{key} entry {quote(url)} is not a NATS server URL ({forms}): {why}"
            websocket.add(full.startswith(("ws://", "wss://")))
    if len(websocket) > 1:
        return f"{key} mixes websocket (ws://, wss://) and other URLs, which the NATS client refuses"
    return None


def one_of(*allowed: str) -> Check:
    """A word from ``allowed`` (the converter has lowered it: values are case-insensitive)."""
    shown = ", ".join(quote(a) for a in allowed)

    def check(key: str, v: Any) -> str | None:
        return None if v in allowed else f"{key} {quote(str(v))} is not one of {shown}"

    return check


Colors = bool | Literal["always"]
"""``logging.colors``: True = only when stderr is a terminal (as the original), False = never,
``"always"`` = even into a file or a pipe (a terminal multiplexer or a colour-aware log viewer)."""

COLOR_WORDS = ("true", "false", "auto", "always", "never")


def to_colors(name: str, v: Any) -> Colors:
    """``colors``: a boolean as ever, or ``auto`` (= true), ``always`` or ``never`` (= false)."""
    word = v.lower() if isinstance(v, str) else None
    if word == "always":
        return "always"
    return word == "auto" or (word != "never" and _to_bool(name, v))


def colors(key: str, v: Any) -> str | None:
    if v is True or v is False or v == "always":
        return None
    return f'{key} {quote(str(v))} is not one of true, false, "always"'


# --------------------------------------------------------------------------------------------------
# Converters: a parsed value to its field's type, or UnparsableValue.

_ATOI_RE = re.compile(r"[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _to_bool(name: str, v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        return v.lower() == "true"
    raise UnparsableValue(f"error parsing {name} option {go_value(v)}")


def _to_int(name: str, v: Any) -> int:
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, str) and _ATOI_RE.fullmatch(v) and _INT64_MIN <= int(v) <= _INT64_MAX:
        return int(v)
    raise UnparsableValue(f"unable to parse integer {go_value(v)} for key {name}")


def _to_str(name: str, v: Any) -> str:
    if isinstance(v, str):
        return v
    raise UnparsableValue(f"error parsing {name} option {go_value(v)}")


def _to_str_list(name: str, v: Any) -> list[str]:
    if isinstance(v, list):
        if not all(isinstance(e, str) for e in v):
            raise UnparsableValue(f"error parsing {name} option {go_value(v)}, contents are not convertable")
        return list(v)
    if isinstance(v, str):
        return [v]
    raise UnparsableValue(f"error parsing {name} option {go_value(v)}, single element is not convertable")


def to_word(name: str, v: Any) -> str:
    return _to_str(name, v).lower()


SCALARS: dict[Any, Any] = {bool: _to_bool, int: _to_int, str: _to_str, list[str]: _to_str_list}
"""The converter of each plain field type."""

BOOL_WORDS = ("true", "false")
"""The words a quoted boolean may be; any other is taken as false with a warning."""


# --------------------------------------------------------------------------------------------------
# Go ``%v`` rendering, so error messages read like the originals'.


def _go_float(v: float) -> str:
    """Go's shortest ``%v`` for float64 (``%g`` rules: exponent form below 1e-4 or from 1e6 on)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "-0" if math.copysign(1.0, v) < 0 else "0"
    import decimal  # only to render a float in a message

    d = decimal.Decimal(repr(v))
    exp = d.adjusted()
    sign = "-" if v < 0 else ""
    if exp < -4 or exp >= 6:
        digits = "".join(str(n) for n in d.as_tuple().digits).rstrip("0") or "0"
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return sign + f"{abs(d).normalize():f}"


def go_value(v: Any) -> str:
    """Render a parsed config value the way Go's ``%v`` shows it in the original error messages."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return _go_float(v)
    if isinstance(v, datetime.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")
    if isinstance(v, list):
        return "[" + " ".join(go_value(e) for e in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{go_value(v[k])}" for k in sorted(v, key=str)) + "]"
    return str(v)
