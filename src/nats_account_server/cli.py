"""The console entry point: parse the flags, then run the server until it stops."""

from __future__ import annotations

import sys

from nats_account_server.config import ConfigError
from nats_account_server.flags import (
    HelpRequested,
    UsageError,
    VersionRequested,
    expand_flag_paths,
    parse_flags,
    usage,
)

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Console entry point: exit 2 for a bad command line, 0 for help, else whatever the server returns."""
    args = sys.argv[1:] if argv is None else argv
    try:
        flags = parse_flags(args)
    except VersionRequested as exc:
        print(exc, flush=True)
        return 0
    except HelpRequested as exc:
        sys.stderr.write(str(exc))
        sys.stderr.flush()
        return 0
    except UsageError as exc:
        sys.stderr.write(f"{exc}\n{usage()}")
        sys.stderr.flush()
        return 2
    from nats_account_server.log import log

    try:
        # Expanded once here so the server logs the absolute config path; SIGHUP re-reads the same file.
        flags = expand_flag_paths(flags)
    except ConfigError as exc:
        log.error(str(exc))
        return 1
    from nats_account_server.server import run

    return run(flags)
