"""Keys of a configuration file that set nothing: each is warned about with its place, never fatal.

The original account server ignored unknown keys silently, so a misspelled ``htttp`` block left
the defaults in force without a word. A file still loads as it always did (a stray key never
stops a start), but each such key yields a warning naming the file and line that set it and, when
there is one, the key probably meant. A key that a ``$key`` reference uses defines a variable and
is not stray. A setting given twice in different cases (``port`` and ``Port``) is reported too:
only one of the two is taken.
"""

from __future__ import annotations

import functools
import json
import typing
from collections.abc import Mapping
from typing import Any

from nats_account_server.records import is_record_class, members_of

__all__ = ["MAX_PER_MAP", "located", "placements", "stray_keys", "where"]

MAX_PER_MAP = 20
"""Stray keys named per map; the others are counted in one more warning (and their lines never
looked up: counting a line scans the file), so a generated file cannot flood the log."""

_SHOWN = 64  # characters of a key a warning quotes


def where(tree: Mapping[str, Any], key: str) -> str:
    """``<file> line <n>`` of the entry that set ``key`` when the parser recorded it, else ""."""
    from nats_account_server.natsconf.parser import Table  # only on the (rare) way to a message

    position = tree.position(key) if isinstance(tree, Table) else None
    if position is None:
        return ""
    filename, line = position
    return f"{filename} line {line}" if filename else f"line {line}"


def located(kind: str, at: str, problem: str) -> str:
    """``configuration <kind> in <at>: <problem>``, without the ``in`` part when ``at`` is ""."""
    return f"configuration {kind} in {at}: {problem}" if at else f"configuration {kind}: {problem}"


@functools.cache
def placements(root: type) -> Mapping[str, tuple[str, ...]]:
    """Lower-case setting name -> its dotted keys in the settings dataclass ``root`` (``port`` ->
    ``http.port``), to point a key written in the wrong block to the block it belongs in."""
    found: dict[str, list[str]] = {}

    def walk(cls: type, path: str) -> None:
        hints = typing.get_type_hints(cls)
        for f in members_of(cls):
            if "name" not in f.metadata:
                continue
            low = str(f.metadata["name"]).lower()
            found.setdefault(low, []).append(path + low)
            kind = hints[f.name]
            if is_record_class(kind):
                walk(kind, f"{path}{low}.")

    walk(root, "")
    return {name: tuple(keys) for name, keys in found.items()}


def _shown(key: str) -> str:
    return json.dumps(key if len(key) <= _SHOWN else key[:_SHOWN] + "...", ensure_ascii=False)


def _hint(
    low: str, here: Mapping[str, str | None], path: str, elsewhere: Mapping[str, tuple[str, ...]]
) -> str:
    """``; did you mean "<key>"?`` for a close setting of the same block, else for the same name
    in other blocks; "" when there is neither."""
    import difflib  # only for a stray key

    close = difflib.get_close_matches(low, list(here), n=1)
    others = [path + close[0]] if close else [k for k in elsewhere.get(low, ()) if k != path + low]
    return "; did you mean " + " or ".join(_shown(k) for k in others) + "?" if others else ""


def stray_keys(
    tree: Mapping[str, Any],
    taken: Mapping[str, str | None],
    path: str,
    elsewhere: Mapping[str, tuple[str, ...]],
) -> list[str]:
    """Warnings for the keys of ``tree`` (one map of a file) that set nothing, in file order.

    ``taken``: each setting of this block (lower-case name) -> the key of ``tree`` the loader took
    for it, None when absent. ``path``: the block's dotted prefix ("" or e.g. ``http.``).
    ``elsewhere``: see :func:`placements`.
    """
    referenced = getattr(tree, "referenced", ())
    out: list[str] = []
    more = 0
    for key in tree:
        name = key if isinstance(key, str) else str(key)
        low = name.lower()
        if low in taken:
            used = taken[low]
            if used is None or used == key:
                continue
            what = f"key {_shown(path + name)} is ignored: the setting is also given as {_shown(path + used)}"
        elif key in referenced:
            continue
        else:
            what = f"unknown key {_shown(path + name)} is ignored{_hint(low, taken, path, elsewhere)}"
        if len(out) < MAX_PER_MAP:
            out.append(located("warning", where(tree, key), what))
        else:
            more += 1
    if more:
        block = f" in {path[:-1]}" if path else " at the top level"
        out.append(located("warning", "", f"{more} more keys{block} that set nothing are ignored"))
    return out
