"""String values a payload spells with escapes, where the raw literal decides the meaning.

A latency `sampling` of `"headers"` means *headers* only when its raw JSON text, lower-cased, is
exactly `"headers"`; the same word written with an escape (`"\\u0068eaders"`) is just a string. A
parsed value no longer shows its spelling, so a payload holding an escaped spelling of the word
anywhere is parsed once more, noting which string values were escaped; the reader of `sampling` then
compares the value it is given with those very objects. Payloads without such a spelling (all that
honest tools write) only pay for a byte search.
"""

from __future__ import annotations

import json
import json.scanner
import re
from collections.abc import Callable
from typing import Any

from . import gojson

_SCANSTRING: Callable[[str, int, bool], tuple[str, int]] = getattr(json.decoder, "scanstring")  # noqa: B009
# Seven characters that may read as "headers": letters of the word, or any ASCII letter escaped (no
# other character lower-cases to one of them). It may also match inside a longer string (after an
# escaped quote): that only costs a needless second parse.
_MAYBE_HEADERS = re.compile(rb'"(?=[hedarsHEDARS\\])(?:[hedarsHEDARS]|\\u00[4-7][0-9a-fA-F]){7}"')
_LETTER_ESCAPE = re.compile(rb"\\u00[4-7][0-9a-fA-F]")  # the only way to escape an ASCII letter


def has_escaped_headers(data: bytes) -> bool:
    """Whether some string literal of the JSON text may spell "headers" (in any case) with an escape."""
    if b"\\u00" not in data or _LETTER_ESCAPE.search(data) is None:
        return False  # the usual case: no escapes, or only of `<`, `>`, `&` (as Go writes them)
    for match in _MAYBE_HEADERS.finditer(data):
        literal = match.group()
        if b"\\" in literal and _reads_as_headers(literal):
            return True
    return False


def _reads_as_headers(literal: bytes) -> bool:
    try:
        return str(json.loads(literal)).lower() == "headers"
    except ValueError:  # not a literal after all: let the second parse decide
        return True


def loads_marking_headers(data: bytes) -> tuple[Any, tuple[str, ...]]:
    """`gojson.loads` of a text that parsed before, plus the string values that spell "headers" with
    an escape (the objects held in the parsed value)."""
    text = data.decode("utf-8", errors="nas-go-replace")
    marked: list[str] = []

    def parse_string(s: str, end: int, strict: bool) -> tuple[str, int]:
        value, after = _SCANSTRING(s, end, strict)
        if "\\" in s[end:after] and value.lower() == "headers":
            marked.append(value)
        return value, after

    decoder = json.JSONDecoder(
        object_pairs_hook=gojson.Object,
        parse_float=gojson.Number,
        parse_int=gojson._integer,
        parse_constant=gojson._no_constant,
    )
    decoder.parse_string = parse_string  # type: ignore[attr-defined]
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    try:
        value = decoder.decode(text)
    except RecursionError:
        value = gojson._deep(text, decoder)
    except json.JSONDecodeError as exc:
        raise gojson.DecodeError(f"invalid JSON: {exc.msg} at offset {exc.pos}") from None
    if "\\ud" in text or "\\uD" in text:
        try:
            value = gojson._clean(value)
        except RecursionError:
            raise gojson.DecodeError("exceeded max depth") from None
    return value, tuple(marked)
