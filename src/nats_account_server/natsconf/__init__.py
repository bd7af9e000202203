"""Parser for the nats-server configuration file format.

Only two entry points: :func:`parse` for text and :func:`parse_file` for a path. Both return a plain
tree of dict/list/str/int/float/bool/datetime or raise :class:`ParseError` - never anything else -
so the CLI can report a bad config with one ``except`` and exit 1.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..oserrors import os_error
from .errors import ParseError
from .files import MAX_CONFIG_SIZE, read_config_text
from .parser import MAX_DEPTH, Parser, _Shared

__all__ = ["MAX_CONFIG_SIZE", "MAX_DEPTH", "ParseError", "parse", "parse_file"]


def parse(text: str, *, filename: str | None = None, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Parse configuration ``text``.

    ``filename`` is the file the text came from; relative ``include`` paths resolve against its
    directory (against the current directory when it is ``None``). ``env`` replaces ``os.environ``
    for ``$VAR`` fallback lookups, which keeps tests hermetic.
    """
    shared = _Shared(os.environ if env is None else env)
    try:
        # The root file counts as being "included" so that a file including itself is a cycle at once.
        includes = (os.path.realpath(filename),) if filename else ()
    except (OSError, ValueError):
        includes = ()
    try:
        return Parser(text, filename=filename, shared=shared, includes=includes).document()
    except RecursionError:  # belt and braces: depth is capped well below the interpreter limit
        raise ParseError.syntax(0, "configuration nested too deeply") from None


def parse_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and parse a UTF-8 configuration file; unreadable files are reported as ParseError too,
    as are special files and files over ``MAX_CONFIG_SIZE`` bytes (see files.py: never a hang)."""
    name = os.fspath(path)
    try:
        text = read_config_text(name)
    except UnicodeDecodeError:
        raise ParseError(f"error reading config file '{name}', not valid UTF-8 text") from None
    except (OSError, ValueError) as e:
        reason = os_error(e, known=name) if isinstance(e, OSError) else str(e)
        raise ParseError(f"error reading config file '{name}', {reason}") from None
    return parse(text, filename=name)
