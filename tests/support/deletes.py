"""Delete requests as nsc makes them (`nsc push --prune` / `-R`), for the tests of deletion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nats_account_server.jwt.deletion import delete_request
from nats_account_server.jwt.encode import new_keypair

from .trust import Trust


def delete_jwt(
    trust: Trust, *names_or_keys: str, signer: str = "operator", version: int | None = None, **extra: Any
) -> str:
    """A delete request for the accounts given by name (or by key), signed by ``signer`` ("operator",
    "signing_key", an account name, or "foreign": a key of another operator)."""
    keys = [trust.pub(n) if n in trust.accounts else n for n in names_or_keys]
    seed = new_keypair("O")[0] if signer == "foreign" else trust._signer_seed(signer)
    return delete_request(keys, seed, version=version or trust.version, **extra)


def allowing_deletes(store: Path) -> dict[str, Any]:
    """Our server's config keywords for deleting over NATS: a directory store at ``store`` that allows
    deletes, and JWT syncing with nats-server every 500 ms."""
    return {"nats_extra": "syncinterval: 500", "extra": f'store {{ dir: "{store}", allow_delete: true }}'}
