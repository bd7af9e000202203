"""What an nsc operator folder is, and what to say when a folder given as one is not.

nsc keeps each operator in a folder of its own, ``<nsc store>/<operator>``, holding the ``.nsc``
file, the operator JWT ``<operator>.jwt`` and ``accounts/<account>/<account>.jwt``. Pointing the
server one level too high (the ``stores`` folder) or too low (``accounts``) is an easy mistake, so
the error names the folder it expected and the operator folders it found near the one given.
"""

from __future__ import annotations

import os
import stat

from nats_account_server.oserrors import os_reason

__all__ = ["INFO_FILE", "folder_problem", "is_operator_folder", "operator_jwt_path"]

INFO_FILE = ".nsc"  # the file nsc writes into every operator folder
_UP = 3  # folders looked at above the one given: accounts/<name>/users is three below its operator
_SHOWN = 5  # operator folders named in the error at most


def operator_jwt_path(folder: str) -> str:
    """``<folder>/<basename>.jwt``: where nsc keeps the operator JWT."""
    return os.path.join(folder, os.path.basename(folder) + ".jwt")


def is_operator_folder(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, INFO_FILE))


def _subfolders(folder: str) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))
    except OSError:
        return []


def _below(folder: str) -> list[str]:
    """Operator folders directly below ``folder`` (a ``stores`` folder), else one level further (the
    nsc data folder, which holds ``stores``), as paths relative to ``folder``."""
    found = [name for name in _subfolders(folder) if is_operator_folder(os.path.join(folder, name))]
    if found:
        return found
    return [
        os.path.join(name, inner)
        for name in _subfolders(folder)
        for inner in _subfolders(os.path.join(folder, name))
        if is_operator_folder(os.path.join(folder, name, inner))
    ]


def _above(folder: str) -> str | None:
    """The operator folder ``folder`` is inside of (an ``accounts`` or account folder), if any."""
    current = folder
    for _ in range(_UP):
        parent = os.path.dirname(current)
        if parent == current:
            return None
        if is_operator_folder(parent):
            return parent
        current = parent
    return None


def folder_problem(folder: str, *, setting: str, need_jwt: bool = False) -> str | None:
    """Why ``folder`` cannot be served as an nsc operator folder (None: it can). ``setting`` is how the
    folder was given ("-nsc", "store.nsc"), for the hint; ``need_jwt``: the operator JWT must be
    in it too (``-nsc`` takes the operator from there)."""
    try:
        mode = os.stat(folder).st_mode
    except FileNotFoundError:
        return f"nsc folder {folder} does not exist"
    except OSError as exc:
        return f"nsc folder {folder} cannot be read: {os_reason(exc)}"
    if not stat.S_ISDIR(mode):
        return f"nsc folder {folder} is not a directory"
    jwt = operator_jwt_path(folder)
    if is_operator_folder(folder):
        if need_jwt and not os.path.isfile(jwt):  # renamed, or its JWT moved away
            return f"nsc operator folder {folder} has no operator JWT {jwt} ({setting} reads it there)"
        return None
    missing = f"{INFO_FILE} file" + ("" if os.path.isfile(jwt) else f" or {os.path.basename(jwt)}")
    what = f'"{folder}" is not an nsc operator folder (no {missing} in it)'

    def use(path: str) -> str:
        return f"start with -nsc {path}" if setting == "-nsc" else f"set {setting} to {path}"

    below = _below(folder)
    if below:
        more = f" and {len(below) - _SHOWN} more" if len(below) > _SHOWN else ""
        names = ", ".join(below[:_SHOWN]) + more
        return f"{what}; it contains operator folders: {names}; {use(os.path.join(folder, below[0]))}"
    above = _above(folder)
    if above is not None:
        return f"{what}; it is inside the operator folder {above}; {use(above)}"
    return f"{what}; {setting} takes the folder of one operator: <nsc store>/<operator name>"
