"""Recursive-descent parser for the nats-server configuration language.

Structure (maps, arrays, entries, terminators), ``$VAR`` resolution and ``include`` live here; the
character-level work lives in :mod:`.lexer`. Each nesting level costs two Python frames and is
capped at :data:`MAX_DEPTH`, so hostile input yields a :class:`ParseError`, never a RecursionError.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from ..oserrors import os_reason
from .errors import ParseError
from .files import RefusedFile, read_config_text
from .lexer import BLANKS, Scanner, clip

MAX_DEPTH = 200
"""Deepest allowed nesting of maps/arrays (includes and env re-parses count as one level each)."""

MAX_INCLUDE_DEPTH = 32
"""Include chains longer than this are almost certainly loops through differently spelled paths."""

_VAR_NAME_RE = re.compile(r"[A-Za-z0-9_\-]+")


class _Shared:
    """State shared by the parser of a document and every sub-parser it spawns (includes, env)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        # Env values are re-parsed with no surrounding scope, so one result per name is valid;
        # caching keeps ``A=[$B,$B]`` chains linear instead of exponential.
        self.env_cache: dict[str, Any] = {}


class Table(dict[str, Any]):
    """A parsed map that also remembers where each key was set, so a message about a value can name
    its line. Only the key's offset is kept; the line is counted when asked for (parsing stays linear).

    ``referenced`` holds the keys whose value a ``$key`` reference used: such a key defines a
    variable, so a check for unknown keys must not take it for a misspelled setting.
    """

    __slots__ = ("referenced", "where")

    def __init__(self) -> None:
        super().__init__()
        self.where: dict[str, tuple[str | None, Scanner, int]] = {}
        self.referenced: set[str] = set()

    def position(self, key: str) -> tuple[str | None, int] | None:
        """(file, 1-based line) of the entry that set ``key``; None for a key it did not parse."""
        found = self.where.get(key)
        if found is None:
            return None
        filename, scanner, pos = found
        return filename, scanner.line(pos)


class Parser:
    """Parses one text (a file, an included file or an environment variable's value)."""

    def __init__(
        self,
        text: str,
        *,
        filename: str | None,
        shared: _Shared,
        depth: int = 0,
        includes: tuple[str, ...] = (),
        env_stack: tuple[str, ...] = (),
        line_override: int | None = None,
    ) -> None:
        self.s = Scanner(text, line_override=line_override)
        self.filename = filename
        self.shared = shared
        self.depth = depth
        self.includes = includes
        self.env_stack = env_stack
        self.scopes: list[Table] = []

    # -- entry points -------------------------------------------------------------------------

    def document(self) -> Table:
        """Parse a whole file: top-level entries, optionally wrapped in one pair of braces."""
        s = self.s
        if s.text.startswith("\ufeff"):
            s.pos = 1
        top = Table()
        self.scopes.append(top)
        s.skip_space()
        if s.peek() == "{":
            s.pos += 1
            self._enter(s.pos - 1)
            self._entries(top, closing=True)
            self.depth -= 1
            s.skip_space()
            if not s.at_eof():
                raise s.error(f"unexpected '{s.describe()}' after the closing top-level brace")
        else:
            self._entries(top, closing=False)
        return top

    def single_value(self) -> Any:
        """Parse text that must hold exactly one value (an environment variable's content)."""
        s = self.s
        s.skip_space()
        if s.at_eof():
            return ""
        value = self._value()
        s.skip_space()
        if not s.at_eof():
            raise s.error(f"unexpected '{s.describe()}' after value")
        return value

    # -- structure ----------------------------------------------------------------------------

    def _enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.s.error(f"nesting deeper than {MAX_DEPTH} levels", pos)

    def _entries(self, target: Table, *, closing: bool) -> None:
        """Read ``key value`` entries into ``target`` until ``}`` (closing) or EOF (top level)."""
        s = self.s
        while True:
            s.skip_space()
            c = s.peek()
            if c == "":
                if closing:
                    raise s.error("unexpected EOF processing map")
                return
            if c == "}":
                if not closing:
                    raise s.error("unexpected '}' outside of a map")
                s.pos += 1
                return
            if c in "=:":
                raise s.error(f"unexpected key separator '{c}'")
            if c in "{[],;":
                raise s.error(f"unexpected '{c}' where a key was expected")
            key_pos = s.pos
            if c in "\"'":
                key = s.read_quoted()
            else:
                key = s.read_bare_key()
                if key == "include" and self._include_directive(target, key_pos):
                    self._entry_end(closing)
                    continue
            self._separator(key, key_pos)
            target[key] = self._value()
            target.where[key] = (self.filename, s, key_pos)
            self._entry_end(closing)

    def _separator(self, key: str, key_pos: int) -> None:
        """Consume ``=``, ``:`` or whitespace between a key and its value and check a value follows."""
        s = self.s
        s.skip_blanks()
        explicit = s.peek() in ("=", ":")
        if explicit:
            s.pos += 1
            s.skip_blanks()
        if s.peek() == "\n":
            # A value may sit on the next line after an explicit separator; without one only an
            # Allman-style map brace may, so a lone word on a line is not silently a key/value pair.
            save = s.pos
            s.skip_space(comments=False)
            if not explicit and s.peek() != "{":
                s.pos = save
        c = s.peek()
        if c == "" or c == "\n" or c in "}],;" or s.at_comment():
            raise s.error(f"missing value for key '{clip(key)}'", key_pos)

    def _entry_end(self, closing: bool) -> None:
        """After a value: require a newline, ``;``, ``,``, comment, EOF or (in a map) ``}``."""
        s = self.s
        s.skip_blanks()
        c = s.peek()
        if c == "" or (c == "}" and closing):
            return
        if c in "\n,;":
            s.pos += 1
            return
        if s.at_comment():
            s.skip_comment()
            return
        raise s.error(f"expected a new line, ';' or ',' after a value, got '{s.describe()}'")

    def _value(self) -> Any:
        s = self.s
        c = s.peek()
        if c == "{":
            s.pos += 1
            return self._map(s.pos - 1)
        if c == "[":
            s.pos += 1
            return self._array(s.pos - 1)
        if c in ("'", '"'):
            return s.read_quoted()
        if c == "(":
            return s.read_block()
        raw, start = s.read_token()
        if raw == "":
            raise s.error(f"expected a value, got '{s.describe()}'")
        if raw.startswith("$"):
            return self._variable(raw[1:], start)
        return s.convert_token(raw, start)

    def _map(self, pos: int) -> Table:
        self._enter(pos)
        result = Table()
        self.scopes.append(result)
        self._entries(result, closing=True)
        self.scopes.pop()
        self.depth -= 1
        return result

    def _array(self, pos: int) -> list[Any]:
        """Elements separated by ``,`` or newlines; trailing comma ok, empty element an error."""
        self._enter(pos)
        s = self.s
        items: list[Any] = []
        s.skip_space()
        if s.peek() == ",":
            raise s.error("empty array element")
        while s.peek() != "]":
            if s.at_eof():
                raise s.error("unexpected EOF processing array")
            items.append(self._value())
            crossed = s.skip_space()
            c = s.peek()
            if c == ",":
                s.pos += 1
                s.skip_space()
                if s.peek() == ",":
                    raise s.error("empty array element")
            elif c == "":
                raise s.error("unexpected EOF processing array")
            elif c != "]" and not crossed:
                raise s.error(f"expected ',' or ']' after an array element, got '{s.describe()}'")
        s.pos += 1
        self.depth -= 1
        return items

    # -- variables ----------------------------------------------------------------------------

    def _variable(self, name: str, pos: int) -> Any:
        """Resolve ``$name``: enclosing maps innermost first, then the environment."""
        if not _VAR_NAME_RE.fullmatch(name):
            raise self.s.error(f"invalid variable name '${clip(name)}'", pos)
        for scope in reversed(self.scopes):
            if name in scope:
                scope.referenced.add(name)
                return scope[name]
        if name in self.shared.env:
            return self._env_value(name, pos)
        line = self.s.line(pos)
        raise ParseError(f"variable reference for '{name}' on line {line} can not be found", line=line)

    def _env_value(self, name: str, pos: int) -> Any:
        """Parse an environment variable's text as a config value, so ``PORT=8080`` is an int."""
        cache = self.shared.env_cache
        if name in cache:
            return cache[name]
        line = self.s.line(pos)
        if name in self.env_stack:
            raise ParseError.syntax(line, f"environment variable '{name}' refers to itself")
        if self.depth + 1 > MAX_DEPTH:
            raise ParseError.syntax(line, f"nesting deeper than {MAX_DEPTH} levels")
        sub = Parser(
            self.shared.env[name],
            filename=self.filename,
            shared=self.shared,
            depth=self.depth + 1,
            includes=self.includes,
            env_stack=(*self.env_stack, name),
            line_override=line,
        )
        try:
            value = sub.single_value()
        except ParseError as e:
            if e.what is None:
                raise
            raise ParseError.syntax(line, f"in environment variable '{name}': {e.what}") from None
        cache[name] = value
        return value

    # -- include ------------------------------------------------------------------------------

    def _include_directive(self, target: Table, key_pos: int) -> bool:
        """Handle ``include <path>`` if this ``include`` word is one; False means it is a plain key."""
        s = self.s
        save = s.pos
        if s.peek() == "" or s.peek() not in BLANKS:
            return False
        s.skip_blanks()
        c = s.peek()
        if c == "" or c in "\n=:{[}],;" or s.at_comment():
            s.pos = save
            return False
        if c in "\"'":
            path = s.read_quoted()
        else:
            raw, start = s.read_token()
            path = s.unescape(raw, start)
        self._include(path, key_pos, target)
        return True

    def _include(self, path: str, pos: int, target: Table) -> None:
        """Parse ``path`` (relative to the including file's directory) and merge its entries."""
        line = self.s.line(pos)

        def fail(reason: str) -> ParseError:
            return ParseError(f"error parsing include file '{path}', {reason}", line=line)

        if len(self.includes) >= MAX_INCLUDE_DEPTH or self.depth + 1 > MAX_DEPTH:
            raise fail("includes nested too deeply")
        try:
            full, real, text = _load_include(self.filename, path, self.includes)
        except _IncludeFailure as e:
            raise fail(str(e)) from None
        sub = Parser(
            text, filename=full, shared=self.shared, depth=self.depth + 1, includes=(*self.includes, real)
        )
        try:
            included = sub.document()
        except ParseError as e:
            raise fail(str(e)) from None
        target.update(included)
        target.where.update(included.where)
        target.referenced.update(included.referenced)


class _IncludeFailure(Exception):
    """Internal: why an include file could not be read (becomes the ``<reason>`` of the parse error)."""


def _load_include(including: str | None, path: str, active: tuple[str, ...]) -> tuple[str, str, str]:
    """Resolve and read an include file; returns (path used, real path, text).

    Only regular files of at most ``MAX_CONFIG_SIZE`` bytes are read, checked on the open file
    (``files.read_config_text``), so ``include /dev/zero``, a FIFO or a huge file cannot hang or
    exhaust the parser.
    """
    try:
        base = os.path.dirname(os.path.abspath(including)) if including else os.getcwd()
        full = os.path.join(base, path)
        real = os.path.realpath(full)
        if real in active:
            raise _IncludeFailure("include cycle")
        try:
            return full, real, read_config_text(full)
        except FileNotFoundError:
            raise _IncludeFailure(f"open {full}: no such file or directory") from None
        except RefusedFile as e:
            raise _IncludeFailure(f"open {full}: {e}") from None
    except UnicodeDecodeError:
        raise _IncludeFailure(f"{path}: not valid UTF-8 text") from None
    except (OSError, ValueError) as e:
        text = os_reason(e) if isinstance(e, OSError) else str(e)
        raise _IncludeFailure(f"open {path}: {text}") from None
