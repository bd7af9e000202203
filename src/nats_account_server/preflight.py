"""Everything a configuration names, checked before anything runs on it.

Used by `-t` (check a configuration and exit) and by SIGHUP, which must never stop a running
server for a configuration that cannot start: the operator and system account files, the HTTPS
pair, the NATS and KV credentials and TLS files, and the store's folder are all opened and
checked here, without touching the store (no lock taken, nothing created).
"""

from __future__ import annotations

import os

from nats_account_server.config import ConfigError, Settings, TLSSettings
from nats_account_server.core.trust import TrustError, load_trust
from nats_account_server.http.listener import ListenError, check_tls
from nats_account_server.natsclient import ClientFileError, check_client_files
from nats_account_server.nscfolder import folder_problem

__all__ = ["preflight"]


def preflight(settings: Settings) -> None:
    """ConfigError with the first reason `settings` could not start a server."""
    try:
        load_trust(settings.operatorjwtpath, settings.systemaccountjwtpath)
    except TrustError as exc:
        raise ConfigError(str(exc)) from exc
    if settings.http.tls.cert:
        try:
            check_tls(settings.http.tls.cert, settings.http.tls.key)
        except ListenError as exc:
            raise ConfigError(str(exc)) from exc
    for section, creds, tls in (
        ("nats", settings.nats.usercredentials, settings.nats.tls),
        ("store.kv", settings.store.kv.usercredentials, settings.store.kv.tls),
    ):
        _client_files(section, creds, tls)
    _store_folder(settings)


def _client_files(section: str, creds: str, tls: TLSSettings) -> None:
    """The check the NATS bridge and the KV store make at their start (see `check_client_files`)."""
    try:
        check_client_files(section, creds, tls.root, tls.cert, tls.key)
    except ClientFileError as exc:  # names the section and the file, and says why
        raise ConfigError(str(exc)) from exc


def _store_folder(settings: Settings) -> None:
    store = settings.store
    if store.nsc and not store.dir:  # the check the nsc store makes at its start
        problem = folder_problem(store.nsc, setting="store.nsc")
        if problem is not None:
            raise ConfigError(problem)
        return
    folder = store.dir
    if not folder:
        return
    what = "store directory"
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ConfigError(f"{what} {folder} is not a directory")
    if store.readonly and not os.path.isdir(folder):
        raise ConfigError(f"{what} {folder} does not exist")
