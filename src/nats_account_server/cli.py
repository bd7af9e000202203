"""The console entry point: parse the flags, then run the server until it stops."""

from __future__ import annotations

import gc
import sys

from nats_account_server.config import ConfigError
from nats_account_server.flags import (
    Flags,
    HelpRequested,
    UsageError,
    VersionRequested,
    expand_flag_paths,
    parse_flags,
    usage,
)

__all__ = ["main", "test_configuration"]


def test_configuration(flags: Flags) -> int:
    """`-t`, as nats-server's: 0 and a line saying the configuration is valid, or 1 and why not.

    The file's warnings (unknown keys, doubtful values) go to stderr first, one line each, and do
    not change the verdict: the server would start with them."""
    from nats_account_server.flags import PROG, build_settings
    from nats_account_server.log import printable
    from nats_account_server.preflight import preflight

    what = f"configuration file {flags.config}" if flags.config else "configuration"
    try:
        settings = build_settings(flags)
        sys.stderr.write("".join(f"{PROG}: {printable(w)}\n" for w in settings.warnings))
        preflight(settings)
    except ConfigError as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        sys.stderr.flush()
        return 1
    sys.stderr.flush()
    print(f"{PROG}: {what} is valid", flush=True)
    return 0


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
    if flags.test:
        return test_configuration(flags)
    # The start allocates much and frees little (modules, classes, the first instance): the
    # collector's passes over it only cost time. The server turns it back on once it serves.
    gc.disable()
    from nats_account_server.server import run

    return run(flags)
