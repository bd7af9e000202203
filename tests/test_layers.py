"""The layering contract: imports flow one way, and no module imports the CLI or the server.

formats (jwt, natsconf, config, client options, log) <- core (the service and its seams) <- stores,
the replica source and the transports (http, natsio) <- server (the one life-cycle owner) <- cli.
Stores see only the core's seams (the store protocol and the response cache), never the service.
Checked on the source with `ast`, so a crossing fails the build before anything runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "nats_account_server"
ROOT = Path(__file__).resolve().parent.parent / "src" / PACKAGE

FORMATS = (
    "jwt",
    "natsconf",
    "config",
    "configkeys",
    "configvalues",
    "natsclient",
    "boundedfiles",
    "oserrors",
    "nscfolder",
    "log",
    "metrics",
    "records",
)
CORE = (*FORMATS, "core")
SEAMS = (*FORMATS, "core.store", "core.cache", "core.kinds", "core.checks")

#: what each part of the package may import (module prefixes inside the package; "" is the package
#: itself, which only holds the version)
ALLOWED: dict[str, tuple[str, ...]] = {
    "jwt": ("jwt", "records"),
    "records": (),  # slotted value classes declared like dataclasses: for every layer
    "natsconf": ("natsconf", "boundedfiles", "oserrors"),
    "boundedfiles": ("oserrors",),
    "oserrors": (),  # how an OS error reads in a message: for every layer
    "nscfolder": ("oserrors",),  # what an nsc operator folder is: for flags, preflight and the store
    "config": ("natsconf", "configkeys", "configvalues", "config", "oserrors", "records"),
    "configkeys": ("natsconf", "records"),
    "configvalues": (),  # what a key's value may be: checks, converters, Go's %v; imports nothing
    "natsclient": ("boundedfiles", "oserrors"),
    "log": ("config", "oserrors"),
    "metrics": ("",),  # the process's counters (prometheus-client): counted by every layer
    "core": CORE,
    "stores": (*SEAMS, "stores"),
    "replica": CORE,
    "http": (*CORE, "http"),
    "natsio": (*CORE, "natsio"),
    "flags": ("config", "log", "oserrors", "nscfolder", "records"),
    "preflight": (*CORE, "http"),  # the check of a configuration before it runs: the server's layer
    "server": (*CORE, "stores", "replica", "http", "natsio", "flags", "preflight"),
    "cli": ("config", "flags", "log", "server", "preflight"),
    "checker": (*CORE, "stores"),  # the checking process's entry point: above the stores, like server
    "__main__": ("cli",),
}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module(p) for p in ROOT.rglob("*.py")}


def _target(node: ast.ImportFrom | ast.Import, module: str, is_package: bool) -> list[str]:
    """The package-internal modules an import statement names (relative to the package); for
    `from X import name`, the submodule X.name where there is one, else X."""
    if isinstance(node, ast.Import):
        heads = [a.name for a in node.names]
        members: list[str] = []
    else:
        if node.level:
            base = module.split(".") if module else []
            if not is_package:
                base = base[:-1]
            base = base[: len(base) - node.level + 1]
            relative = ".".join([*base, node.module] if node.module else base)
            heads = [f"{PACKAGE}.{relative}" if relative else PACKAGE]
        else:
            heads = [node.module or ""]
        members = [a.name for a in node.names]
    out = []
    for head in heads:
        if head != PACKAGE and not head.startswith(PACKAGE + "."):
            continue
        inner = head[len(PACKAGE) + 1 :]
        subs = [f"{inner}.{m}" if inner else m for m in members]
        found = [sub for sub in subs if sub in MODULES]
        out.extend(found if found and len(found) == len(subs) else [inner, *found])
    return out


def _imports() -> dict[str, tuple[set[str], set[str]]]:
    """module -> (every internal import, the ones a plain import of the module runs)."""
    graph: dict[str, tuple[set[str], set[str]]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        module = _module(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        every: set[str] = set()
        eager: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                every.update(_target(node, module, path.name == "__init__.py"))
        for node in tree.body:  # top level, outside `if TYPE_CHECKING:` blocks
            if isinstance(node, ast.Import | ast.ImportFrom):
                eager.update(_target(node, module, path.name == "__init__.py"))
        graph[module] = (every, eager)
    return graph


GRAPH = _imports()


def _part(module: str) -> str:
    return module.split(".", 1)[0]


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return name == "" or any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m))
def test_imports_stay_in_their_layer(module: str) -> None:
    allowed = ALLOWED.get(_part(module))
    assert allowed is not None, f"{module} belongs to no layer of the contract"
    own = _part(module)
    crossing = sorted(n for n in GRAPH[module][0] if not (_within(n, allowed) or _part(n) == own))
    assert not crossing, f"{module} imports {crossing}, outside its layer"


def test_nothing_imports_the_cli_or_the_server() -> None:
    for module, (every, _) in GRAPH.items():
        for name in every:
            if _part(name) == "cli":
                assert module == "__main__", f"{module} imports the CLI"
            if _part(name) == "server":
                assert module == "cli", f"{module} imports the server"


def test_no_import_cycles() -> None:
    """Among the imports a module runs when it is imported (lazy and type-only imports aside)."""
    eager = {m: {n for n in GRAPH[m][1] if n in GRAPH and n != m} for m in GRAPH}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in eager[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(eager):
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"
