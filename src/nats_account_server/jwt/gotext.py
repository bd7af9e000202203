"""Go's quoting of a string (`strconv.Quote`, the `%q` verb), used in the library's issue texts."""

from __future__ import annotations

_NAMED = {0x07: "\\a", 0x08: "\\b", 0x0C: "\\f", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x0B: "\\v"}


def go_bytes(text: str) -> bytes:
    """`text` as the Go string it stands for: UTF-8, lone surrogates read as U+FFFD."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text).encode("utf-8")


def go_text(raw: bytes) -> str:
    """Bytes back as text; bytes that are not UTF-8 become `surrogateescape` characters."""
    return raw.decode("utf-8", "surrogateescape")


def quote_bytes(raw: bytes) -> str:
    """Go's quoting of a byte string: each byte that is not part of valid UTF-8 is written `\\xNN`."""
    out = ['"']
    for c in go_text(raw):
        n = ord(c)
        if c in ('"', "\\"):
            out.append("\\" + c)
        elif 0xDC80 <= n <= 0xDCFF:
            out.append(f"\\x{n - 0xDC00:02x}")
        elif c == " " or c.isprintable():
            out.append(c)
        elif n in _NAMED:
            out.append(_NAMED[n])
        elif n < 0x20 or n == 0x7F:
            out.append(f"\\x{n:02x}")
        elif n < 0x10000:
            out.append(f"\\u{n:04x}")
        else:
            out.append(f"\\U{n:08x}")
    out.append('"')
    return "".join(out)


def go_quote(s: str) -> str:
    """Go's `strconv.Quote`: double quotes; `\\"` and `\\\\` escaped; `\\a \\b \\f \\n \\r \\t \\v` by name;
    other bytes below 0x20 and 0x7F as `\\xNN`; other non-printable characters as `\\uNNNN` or
    `\\UNNNNNNNN`; printable characters (non-ASCII too) kept. A lone surrogate is read as U+FFFD, which
    is printable and kept."""
    return quote_bytes(go_bytes(s))
