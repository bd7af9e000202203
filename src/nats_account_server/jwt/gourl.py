"""Go's URL parsing (`net/url.Parse`), as far as the JWT library's checks of URLs use it.

Sans-IO and pure. A Go string is a byte string; a Python `str` is taken as its UTF-8 encoding, with any
lone surrogate read as U+FFFD (as Go's JSON decoding reads it). Fields that hold bytes which are not
UTF-8 (a host or path with `%c3` alone, say) come back with those bytes as `surrogateescape` characters.
"""

from __future__ import annotations

from nats_account_server.records import record

from .gotext import go_bytes, go_quote, go_text, quote_bytes

__all__ = ["URL", "URLError", "go_quote", "info_url_issue", "parse"]

_HEX = frozenset(b"0123456789abcdefABCDEF")
_ALNUM = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_SCHEME_LATER = frozenset(b"0123456789+-.")
_HOST_OK = _ALNUM | frozenset(b"-_.~!$&'()*+,;=:[]<>\"")
_USERINFO_OK = _ALNUM | frozenset(b"-._:~!$&'()*+,;=%@")

# Unescaping modes.
_PLAIN = 0  # path, fragment, user name and password: only the escapes are checked
_HOST = 1
_ZONE = 2


@record(frozen=True)
class URL:
    """The fields of a parsed URL that the library reads.

    `user` is the raw userinfo text before the last `@` of the authority (None when there is none);
    `host` is the unescaped host with its `:port`; `hostname` is `host` without a valid `:port` and
    without the brackets of an IPv6 literal; `path` is unescaped; `opaque` is the raw text after
    `scheme:` when it does not start with `/`. The scheme is lower-cased.
    """

    scheme: str
    opaque: str
    user: str | None
    host: str
    hostname: str
    path: str


class URLError(ValueError):
    """A URL that Go's parser refuses; `str()` is Go's whole text: `parse "<quoted url>": <reason>`.

    `url` is the text that the message quotes (the URL without its fragment, unless the fragment is
    what is wrong) and `reason` the part after the colon.
    """

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"parse {go_quote(url)}: {reason}")


class _Refused(Exception):
    """A reason for refusing, raised inside the parser and wrapped in a `URLError` by `parse`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _escape_error(piece: bytes) -> _Refused:
    return _Refused("invalid URL escape " + quote_bytes(piece))


def _unescape(s: bytes, mode: int) -> bytes:
    """Check the `%` escapes (and for a host or zone the characters) of `s` and decode the escapes.

    Checked from left to right, the first fault wins. A `%` needs two hex digits after it. In a host a
    `%XX` must encode a byte of 0x80 or more or be `%25`; in a zone any escape but of an ASCII byte
    that a host refuses (space and `%25` pass). A host or zone may hold raw bytes of 0x80 or more and
    the ASCII letters, digits and `-_.~!$&'()*+,;=:[]<>"`; any other ASCII byte is refused."""
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == 0x25:
            if i + 2 >= n or s[i + 1] not in _HEX or s[i + 2] not in _HEX:
                raise _escape_error(s[i : i + 3])
            piece = s[i : i + 3]
            if mode == _HOST and int(piece[1:2], 16) < 8 and piece != b"%25":
                raise _escape_error(piece)
            if mode == _ZONE and piece != b"%25":
                v = int(piece[1:], 16)
                if v != 0x20 and v not in _HOST_OK:
                    raise _escape_error(piece)
            i += 3
        else:
            if mode != _PLAIN and c < 0x80 and c not in _HOST_OK:
                raise _Refused("invalid character " + quote_bytes(bytes([c])) + " in host name")
            i += 1
    if b"%" not in s:
        return s
    out = bytearray()
    i = 0
    while i < n:
        if s[i] == 0x25:
            out.append(int(s[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(s[i])
            i += 1
    return bytes(out)


def _valid_optional_port(port: bytes) -> bool:
    """Empty, or `:` followed by digits only (possibly none)."""
    return port == b"" or (port[:1] == b":" and all(0x30 <= b <= 0x39 for b in port[1:]))


def _parse_host(host: bytes) -> bytes:
    """The unescaped host of an authority (`host[:port]`).

    A host starting with `[` needs a later `]`; after the last `]` only an optional port may follow;
    a `%25` before that `]` starts a zone, escaped more freely than the rest. Otherwise the text after
    the last `:` must be an optional port."""
    if host.startswith(b"["):
        i = host.rfind(b"]")
        if i < 0:
            raise _Refused("missing ']' in host")
        if not _valid_optional_port(host[i + 1 :]):
            raise _Refused("invalid port " + quote_bytes(host[i + 1 :]) + " after host")
        zone = host.find(b"%25", 0, i)
        if zone >= 0:
            return _unescape(host[:zone], _HOST) + _unescape(host[zone:i], _ZONE) + _unescape(host[i:], _HOST)
    else:
        i = host.rfind(b":")
        if i >= 0 and not _valid_optional_port(host[i:]):
            raise _Refused("invalid port " + quote_bytes(host[i:]) + " after host")
    return _unescape(host, _HOST)


def _hostname(host: bytes) -> bytes:
    """The host without a valid `:port` (after its last `:`) and without enclosing brackets."""
    colon = host.rfind(b":")
    if colon >= 0 and _valid_optional_port(host[colon:]):
        host = host[:colon]
    if host.startswith(b"[") and host.endswith(b"]"):
        host = host[1:-1]
    return host


def _scheme(raw: bytes) -> tuple[bytes, bytes]:
    """Split off `scheme:`: letters, then letters, digits, `+`, `-` or `.`, up to the first `:`.

    A `:` first is refused; any other character before the first `:` (or a digit, `+`, `-`, `.`
    first) means there is no scheme and the whole text is the rest."""
    for i, c in enumerate(raw):
        if c == 0x3A:
            if i == 0:
                raise _Refused("missing protocol scheme")
            return raw[:i], raw[i + 1 :]
        if c in _ALNUM and not 0x30 <= c <= 0x39:
            continue
        if c in _SCHEME_LATER and i > 0:
            continue
        break
    return b"", raw


def _parse_without_fragment(raw: bytes) -> tuple[bytes, bytes, bytes | None, bytes, bytes]:
    """Scheme, opaque, raw userinfo, host and path of a URL without its fragment."""
    if any(b < 0x20 or b == 0x7F for b in raw):
        raise _Refused("net/url: invalid control character in URL")
    if raw == b"*":
        return b"", b"", None, b"", b"*"
    scheme, rest = _scheme(raw)
    scheme = scheme.lower()
    rest = rest.split(b"?", 1)[0]
    if not rest.startswith(b"/"):
        if scheme:
            return scheme, rest, None, b"", b""
        if b":" in rest.split(b"/", 1)[0]:
            raise _Refused("first path segment in URL cannot contain colon")
    user: bytes | None = None
    host = b""
    if rest.startswith(b"//") and (scheme or not rest.startswith(b"///")):
        authority, slash, path = rest[2:].partition(b"/")
        rest = slash + path
        at = authority.rfind(b"@")
        host = _parse_host(authority[at + 1 :])
        if at >= 0:
            user = authority[:at]
            if not all(b in _USERINFO_OK for b in user):
                raise _Refused("net/url: invalid userinfo")
            name, _, password = user.partition(b":")
            _unescape(name, _PLAIN)
            _unescape(password, _PLAIN)
    return scheme, b"", user, host, _unescape(rest, _PLAIN)


def parse(text: str) -> URL:
    """Parse `text` as Go's `url.Parse` does, raising `URLError` where it returns an error.

    Rules, in order: the fragment is cut at the first `#`. In the rest: any byte below 0x20 or 0x7F is
    refused; `*` alone is a path; a scheme is split off (see `_scheme`); the query is cut at the first
    `?` and not checked. With a scheme, a rest not starting with `/` is opaque and not checked; without
    one, a colon in the first path segment is refused. `//` (but `///` only with a scheme) starts an
    authority up to the next `/`: the host after the last `@` is checked first, then the userinfo
    before it (letters, digits and `-._:~!$&'()*+,;=%@` only, then its escapes). The path's escapes
    are checked and decoded. Last the fragment's escapes are checked (its control bytes are not); an
    error there quotes the whole text, any other error the text without the fragment."""
    raw = go_bytes(text)
    head, _, fragment = raw.partition(b"#")
    try:
        scheme, opaque, user, host, path = _parse_without_fragment(head)
    except _Refused as exc:
        raise URLError(go_text(head), exc.reason) from None
    if fragment:
        try:
            _unescape(fragment, _PLAIN)
        except _Refused as exc:
            raise URLError(go_text(raw), exc.reason) from None
    return URL(
        scheme=go_text(scheme),
        opaque=go_text(opaque),
        user=None if user is None else go_text(user),
        host=go_text(host),
        hostname=go_text(_hostname(host)),
        path=go_text(path),
    )


def info_url_issue(s: str) -> str | None:
    """The library's issue with an info URL, None when there is none: a parse error gives
    `error parsing info url: <Go's error text>`; a URL without a hostname or a scheme gives
    `error parsing info url: no hostname or scheme`."""
    try:
        u = parse(s)
    except URLError as exc:
        return f"error parsing info url: {exc}"
    if u.hostname == "" or u.scheme == "":
        return "error parsing info url: no hostname or scheme"
    return None
