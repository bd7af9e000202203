"""Subject predicates of claim validation: valid subject, has wildcards, contained in, renamings.

These are the JWT library's loose tests, not the server's subject grammar: a valid subject is only
non-empty, free of spaces and of empty `.`-tokens; wildcards count only in a few positions; and only
the containing subject's wildcards count for containment.
"""

from __future__ import annotations

import re

from .gotext import go_quote

__all__ = [
    "EMPTY",
    "contained_in",
    "go_atoi",
    "has_wildcards",
    "renaming_issues",
    "renaming_to_subject",
    "subject_issues",
    "wildcard_count",
]

EMPTY = "subject cannot be empty"
_ATOI = re.compile(r"[+-]?[0-9]+")
_INT64 = 1 << 63


def subject_issues(s: str) -> list[str]:
    """Empty (and nothing else checked), spaces, a leading or trailing `.`, `..`: one text per rule."""
    if s == "":
        return [EMPTY]
    quoted = go_quote(s)
    out: list[str] = []
    if " " in s:
        out.append(f"subject {quoted} cannot have spaces")
    if s[0] == "." or s[-1] == ".":
        out.append(f"subject {quoted} cannot start or end with a `.`")
    if ".." in s:
        out.append(f"subject {quoted} cannot contain consecutive `.`")
    return out


def has_wildcards(s: str) -> bool:
    """Ends with `.>` or `.*`, contains `.*.`, starts with `*.`, or is `*` or `>`."""
    return s.endswith((".>", ".*")) or ".*." in s or s.startswith("*.") or s in ("*", ">")


def contained_in(s: str, o: str) -> bool:
    """`s` in `o` token by token, where only `o`'s `*` (any one token) and final `>` are wildcards."""
    mine, other = s.split("."), o.split(".")
    if len(mine) > len(other) and other[-1] != ">":
        return False
    if len(mine) < len(other):
        return False
    last = len(other) - 1
    for i, tok in enumerate(other):
        if i == last and tok == ">":
            return True
        if tok != mine[i] and tok != "*":
            return False
    return True


def go_atoi(text: str) -> int | None:
    """Go's `strconv.Atoi`: optional sign, ASCII decimal digits, within int64; None otherwise."""
    if _ATOI.fullmatch(text) is None:
        return None
    value = int(text)
    return value if -_INT64 <= value < _INT64 else None


def wildcard_count(s: str) -> int:
    """The number of `*` tokens."""
    return s.split(".").count("*")


def _reference(token: str) -> int | None:
    """The value of a `$n` reference token (`$` then an Atoi integer), None for other tokens."""
    if len(token) < 2 or token[0] != "$":
        return None
    return go_atoi(token[1:])


def renaming_to_subject(local: str) -> str:
    """A renaming subject with each `$n` reference token replaced by `*`."""
    if "$" not in local:
        return local
    return ".".join("*" if _reference(t) is not None else t for t in local.split("."))


def _suffixed(s: str) -> bool:
    return s == ">" or s.endswith(".>")


def renaming_issues(local: str, subject: str) -> list[str]:
    """A non-empty renaming subject against the subject it renames: valid subject, a subject to
    rename (else `subject cannot be empty`), its space issue again, both or neither ending in `>`,
    references to existing `*` tokens only, as many `*` and references as the subject has `*`."""
    out = subject_issues(local)
    if subject == "":
        out.append(EMPTY)
    if " " in local:
        out.append(f"subject {go_quote(local)} cannot have spaces")
    if _suffixed(local) != _suffixed(subject):
        out.append("both, renaming subject and subject, need to end or not end in >")
    wanted = wildcard_count(subject)
    found = 0
    for token in local.split("."):
        if token == "*":
            found += 1
        ref = _reference(token)
        if ref is None:
            continue
        if ref > wanted:
            out.append(
                f"Reference ${ref} in {go_quote(local)} reference * in {go_quote(subject)} that do not exist"
            )
        else:
            found += 1
    if found != wanted:
        out.append("subject does not contain enough * or reference wildcards $[0-9]")
    return out
