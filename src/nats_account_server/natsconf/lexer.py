"""Character-level scanning for the nats-server configuration language.

The language is context sensitive (a bare word is a key in one place and a value in another), so
instead of a free-running token stream the parser drives a :class:`Scanner` and asks it for the
kind of token it expects at the current position. Everything here is regex based so that large
inputs are scanned in linear time and nothing recurses.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from typing import Any

from .errors import ParseError

BLANKS = " \t\r\f\v"
WHITESPACE = BLANKS + "\n"

_BLANKS_RE = re.compile(r"[ \t\r\f\v]*")
_SPACE_RE = re.compile(r"[ \t\r\f\v\n]*")
# An unquoted value runs until whitespace or one of the value terminators.
_TOKEN_RE = re.compile(r"[^ \t\r\f\v\n,;\]}]*")
# A bare key also stops at separators and structural characters, so ``http{...}`` works.
_KEY_RE = re.compile(r"[^ \t\r\f\v\n=:{}\[\],;]*")
_DQ_RE = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)"', re.S)
_SQ_RE = re.compile(r"'([^']*)'")
_BLOCK_END_RE = re.compile(r"\n[ \t\r\f\v]*(\))[ \t\r\f\v]*(?=\n|\Z)")

_INT_RE = re.compile(r"(-?)([0-9]+)([A-Za-z]*)")
_FLOAT_RE = re.compile(r"-?[0-9]+\.[0-9]+(?:[eE][+-]?[0-9]+)?")
_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")
_LEADING_DOT_RE = re.compile(r"-?\.[0-9]")
_TRAILING_DOT_RE = re.compile(r"-?[0-9]+\.")
_HEX = frozenset("0123456789abcdefABCDEF")

_INT_MIN = -(2**63)
_INT_MAX = 2**63 - 1
_SIMPLE_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", '"': '"', "\\": "\\"}
_BOOLEANS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def clip(text: str, limit: int = 40) -> str:
    """Shorten user text quoted in error messages so a huge token cannot flood the log."""
    return text if len(text) <= limit else text[:limit] + "..."


def _size_suffixes() -> dict[str, int]:
    """Decimal single letters and binary ``b``/``i``/``ib`` variants, as nats-server reads sizes."""
    table: dict[str, int] = {}
    for power, letter in enumerate("kmgtpe", start=1):
        table[letter] = 1000**power
        for tail in ("b", "i", "ib"):
            table[letter + tail] = 1024**power
    return table


SIZE_SUFFIXES = _size_suffixes()


class Scanner:
    """A cursor over the text that knows how to read each kind of token and report errors by line.

    ``line_override`` pins every reported line to one number; it is used when re-parsing an
    environment variable's text so errors point at the ``$VAR`` reference in the real file.
    """

    def __init__(self, text: str, *, line_override: int | None = None) -> None:
        self.text = text
        self.pos = 0
        self.line_override = line_override

    # -- position and errors ------------------------------------------------------------------

    def line(self, pos: int | None = None) -> int:
        """1-based line of ``pos``; computed on demand because it is only needed for errors."""
        if self.line_override is not None:
            return self.line_override
        at = self.pos if pos is None else pos
        return self.text.count("\n", 0, at) + 1

    def error(self, what: str, pos: int | None = None) -> ParseError:
        return ParseError.syntax(self.line(pos), what)

    def peek(self) -> str:
        """The current character, or ``""`` at end of input."""
        return self.text[self.pos : self.pos + 1]

    def describe(self) -> str:
        """Human wording of the current character for 'unexpected ...' messages."""
        c = self.peek()
        if c == "":
            return "EOF"
        if c == "\n":
            return "new line"
        return repr(c)[1:-1] if not c.isprintable() else c

    def at_eof(self) -> bool:
        return self.pos >= len(self.text)

    def at_comment(self) -> bool:
        return self.text.startswith("#", self.pos) or self.text.startswith("//", self.pos)

    # -- skipping -----------------------------------------------------------------------------

    def skip_blanks(self) -> None:
        """Skip spaces and tabs but stop at a newline, which may be significant."""
        m = _BLANKS_RE.match(self.text, self.pos)
        assert m is not None
        self.pos = m.end()

    def skip_comment(self) -> None:
        """Skip a ``#``/``//`` comment up to (not including) its newline."""
        nl = self.text.find("\n", self.pos)
        self.pos = len(self.text) if nl < 0 else nl

    def skip_space(self, *, comments: bool = True) -> bool:
        """Skip whitespace, newlines and (optionally) comments; return whether a newline was crossed."""
        crossed = False
        while True:
            m = _SPACE_RE.match(self.text, self.pos)
            assert m is not None
            if "\n" in m.group():
                crossed = True
            self.pos = m.end()
            if comments and self.at_comment():
                self.skip_comment()
                continue
            return crossed

    # -- tokens -------------------------------------------------------------------------------

    def read_bare_key(self) -> str:
        m = _KEY_RE.match(self.text, self.pos)
        assert m is not None
        self.pos = m.end()
        return m.group()

    def read_token(self) -> tuple[str, int]:
        """Read a raw unquoted value (no escape processing yet); returns the text and its start."""
        start = self.pos
        m = _TOKEN_RE.match(self.text, start)
        assert m is not None
        self.pos = m.end()
        return m.group(), start

    def read_quoted(self) -> str:
        """Read a double-quoted (escapes honoured) or single-quoted (raw) string at the cursor."""
        start = self.pos
        if self.peek() == "'":
            m = _SQ_RE.match(self.text, start)
            if m is None:
                raise self.error("unexpected EOF processing single-quoted string", start)
            self.pos = m.end()
            return m.group(1)
        m = _DQ_RE.match(self.text, start)
        if m is None:
            raise self.error("unexpected EOF processing double-quoted string", start)
        self.pos = m.end()
        return self.unescape(m.group(1), start + 1)

    def read_block(self) -> str:
        """Read a ``( ... )`` block string; only a ``)`` alone on its own line closes it."""
        start = self.pos
        m = _BLOCK_END_RE.search(self.text, start + 1)
        if m is None:
            raise self.error("unexpected EOF processing block string", start)
        self.pos = m.end()
        return self.text[start + 1 : m.start(1)]

    # -- conversions --------------------------------------------------------------------------

    def unescape(self, raw: str, base: int) -> str:
        """Apply the ``\\t \\n \\r \\" \\\\ \\xHH`` escapes; anything else is an error.

        ``\\xHH`` denotes a byte, so a run like ``\\xc3\\xa9`` becomes ``é`` when the bytes form UTF-8
        (as they would in the Go original); otherwise each byte maps to the code point of equal value.
        """
        if "\\" not in raw:
            return raw
        parts: list[str | int] = []
        i = 0
        while True:
            j = raw.find("\\", i)
            if j < 0:
                parts.append(raw[i:])
                break
            parts.append(raw[i:j])
            c = raw[j + 1 : j + 2]
            if c in _SIMPLE_ESCAPES:
                parts.append(_SIMPLE_ESCAPES[c])
                i = j + 2
            elif c == "x":
                hh = raw[j + 2 : j + 4]
                if len(hh) != 2 or not set(hh) <= _HEX:
                    raise self.error(f"invalid hex escape '\\x{hh}': expected two hex digits", base + j)
                parts.append(int(hh, 16))
                i = j + 4
            elif c == "":
                raise self.error("invalid escape at end of string", base + j)
            else:
                raise self.error(
                    f"invalid escape character '{c}'; only \\t, \\n, \\r, \\\", \\\\ and \\xHH are allowed",
                    base + j,
                )
        return _join_escaped(parts)

    def convert_token(self, raw: str, start: int) -> Any:
        """Turn a raw unquoted value into a bool, int, float, datetime or string."""
        lowered = raw.lower()
        if lowered in _BOOLEANS:
            return _BOOLEANS[lowered]
        if raw[:1] and raw[:1] in "0123456789-.":
            number = self._convert_number(raw, start)
            if number is not None:
                return number
        return self.unescape(raw, start)

    def _convert_number(self, raw: str, start: int) -> Any:
        """Numeric forms; ``None`` means 'not a number after all, treat as a string'."""
        m = _INT_RE.fullmatch(raw)
        if m is not None:
            sign, digits, suffix = m.groups()
            if suffix and suffix.lower() not in SIZE_SUFFIXES:
                return None
            digits = digits.lstrip("0") or "0"
            if len(digits) > 19:  # also keeps int() clear of Python's max-str-digits limit
                raise self.error(f"integer '{clip(raw)}' is out of range", start)
            value = int(digits) * SIZE_SUFFIXES.get(suffix.lower(), 1)
            value = -value if sign else value
            if not _INT_MIN <= value <= _INT_MAX:
                raise self.error(f"integer '{clip(raw)}' is out of range", start)
            return value
        if _FLOAT_RE.fullmatch(raw):
            f = float(raw)
            if math.isinf(f):
                raise self.error(f"float '{clip(raw)}' is out of range", start)
            return f
        m = _DATE_RE.fullmatch(raw)
        if m is not None:
            try:
                y, mo, d, h, mi, s = (int(g) for g in m.groups())
                return _dt.datetime(y, mo, d, h, mi, s, tzinfo=_dt.UTC)
            except ValueError as e:
                raise self.error(f"invalid datetime '{clip(raw)}': {e}", start) from None
        if _LEADING_DOT_RE.match(raw):
            raise self.error(f"floats must start with a digit, not '.' in '{clip(raw)}'", start)
        if _TRAILING_DOT_RE.fullmatch(raw):
            raise self.error(f"floats must end with a digit: '{clip(raw)}'", start)
        return None


def _join_escaped(parts: list[str | int]) -> str:
    """Join text and ``\\xHH`` byte values, decoding byte runs as UTF-8 when they are valid."""
    if all(isinstance(p, str) or p < 0x80 for p in parts):
        return "".join(p if isinstance(p, str) else chr(p) for p in parts)
    buf = bytearray()
    for p in parts:
        if isinstance(p, str):
            buf += p.encode("utf-8", "surrogatepass")
        else:
            buf.append(p)
    try:
        return buf.decode("utf-8")
    except UnicodeDecodeError:
        return "".join(p if isinstance(p, str) else chr(p) for p in parts)
