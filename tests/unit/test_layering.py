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
