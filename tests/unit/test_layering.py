"""Imports flow one way: rpc (transport) and opencode (adapter) → brain → routing / usage / provider. Pure routing
never reaches the network, the wire or OpenCode's payloads; the wire layer knows nothing of what it carries."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "kimchi_plugin"
NETWORK_AND_PROCESSES = ("jsonrpcserver", "httpx", "socket", "subprocess")
ADAPTERS = ("kimchi_plugin.rpc", "kimchi_plugin.opencode", "kimchi_plugin.app", "kimchi_plugin.cli")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


# Leaf modules with no project imports, readable from every layer.
LEAVES = ("kimchi_plugin.opencode.vocabulary", "kimchi_plugin.lru")


def _offenders(folder: str, forbidden: tuple[str, ...]) -> set[str]:
    return {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in (PACKAGE / folder).rglob("*.py")
        for name in _imports(path)
        if name.startswith(forbidden) and name not in LEAVES
    }


def test_leaves_import_nothing_from_the_project() -> None:
    for leaf in LEAVES:
        path = PACKAGE.parent.joinpath(*leaf.split(".")).with_suffix(".py")
        assert not {name for name in _imports(path) if name.startswith("kimchi_plugin")}


def test_routing_is_pure() -> None:
    forbidden = (*ADAPTERS, "kimchi_plugin.usage", "kimchi_plugin.provider", *NETWORK_AND_PROCESSES)
    assert not _offenders("routing", forbidden)


def test_usage_and_provider_know_nothing_of_the_wire() -> None:
    assert not _offenders("usage", (*ADAPTERS, "jsonrpcserver"))
    assert not _offenders("provider", (*ADAPTERS, "kimchi_plugin.usage", "jsonrpcserver"))


def test_only_the_dispatch_module_imports_jsonrpcserver() -> None:
    users = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(name.startswith("jsonrpcserver") for name in _imports(path))
    }
    assert users == {"rpc/dispatch.py"}


def test_rpc_layer_knows_nothing_of_what_it_carries() -> None:
    forbidden = ("kimchi_plugin.opencode", "kimchi_plugin.routing", "kimchi_plugin.usage", "kimchi_plugin.provider")
    assert not _offenders("rpc", forbidden)


def test_the_brain_sits_below_the_adapter() -> None:
    """The Brain speaks in typed results and wire actions only: no handler, dispatcher, transport or command."""
    forbidden = (
        "kimchi_plugin.opencode",
        "kimchi_plugin.app",
        "kimchi_plugin.cli",
        "kimchi_plugin.rpc",
        "jsonrpcserver",
    )
    allowed = {"kimchi_plugin.rpc.protocol"}
    assert not {o for o in _offenders("brain", forbidden) if o.split(": ")[1] not in allowed}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_imports(path: Path, modules: set[str]) -> set[str]:
    """Project modules a module imports (`from pkg import mod` counts as importing `pkg.mod`), and for a module
    outside a package, that package's `__init__` too (importing `a.b` runs `a/__init__` first)."""
    own = _module_name(path)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            subs = {f"{node.module}.{alias.name}" for alias in node.names} & modules
            found.update(subs or {node.module})
    for name in list(found):
        parent = name.rsplit(".", 1)[0]
        if parent in modules and not own.startswith(parent + "."):
            found.add(parent)
    return (found & modules) - {own}


def test_no_import_cycles() -> None:
    """Imports anywhere in a module (top level or inside a function) form no cycle."""
    paths = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {name: _module_imports(path, set(paths)) for name, path in paths.items()}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, trail: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle.extend([*trail[trail.index(nxt) :], nxt])
                return True
            if state.get(nxt) is None and visit(nxt, [*trail, nxt]):
                return True
        state[node] = 2
        return False

    for name in sorted(graph):
        if state.get(name) is None and visit(name, [name]):
            break
    assert not cycle, " → ".join(cycle)
