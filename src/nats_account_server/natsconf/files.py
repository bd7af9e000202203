"""Reading a configuration file (the one given with ``-c`` and each ``include``) so that no file can
hang or exhaust the parser: a regular file of at most ``MAX_CONFIG_SIZE`` bytes (see boundedfiles).
"""

from __future__ import annotations

from ..boundedfiles import RefusedFile, read_regular

__all__ = ["MAX_CONFIG_SIZE", "RefusedFile", "read_config_text"]

MAX_CONFIG_SIZE = 1 << 20  # bytes, for the configuration file and for each file it includes


def read_config_text(path: str, limit: int = MAX_CONFIG_SIZE) -> str:
    """The text of the regular file at ``path`` (UTF-8, line ends as text mode reads them).

    Raises RefusedFile for special or oversized files, OSError when it can't be opened or read,
    UnicodeDecodeError for bytes that are not UTF-8. Never reads more than ``limit + 1`` bytes.
    """
    text = read_regular(path, limit).decode("utf-8")
    # what open(..., encoding="utf-8") gave the parser before: universal newlines
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text
