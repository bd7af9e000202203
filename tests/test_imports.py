"""A server imports only what its configuration uses: what a start without NATS never loads."""

from __future__ import annotations

import subprocess
import sys


def test_the_server_module_loads_neither_nats_py_nor_the_signing_library() -> None:
    """nats-py is imported by the first NATS connection, nkeys by the first signing (tests, bench
    minting): a server with a directory store and no `nats` section never needs either."""
    code = (
        "import sys; import nats_account_server.server; "
        "print(*(name in sys.modules for name in ('nats', 'nkeys', 'nats_account_server.core.applied')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "False"]
