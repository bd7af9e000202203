"""The single exception type of the config parser, so callers need exactly one ``except``."""

from __future__ import annotations


class ParseError(ValueError):
    """Raised for any unusable configuration text; ``str(e)`` is the user-facing message.

    ``line`` is the 1-based line the problem was found on (``None`` when unknown) and ``what`` is the
    bare description for syntax errors, so wrappers can re-frame it without string surgery.
    """

    def __init__(self, message: str, *, line: int | None = None, what: str | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.what = what

    @classmethod
    def syntax(cls, line: int, what: str) -> ParseError:
        """Build the ``Parse error on line N: '<what>'`` form nats-server prints."""
        return cls(f"Parse error on line {line}: '{what}'", line=line, what=what)
