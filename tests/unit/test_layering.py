"""Imports flow one way: transport → hook handlers → pure brain. The brain never reaches back."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "kimchi_plugin"
FORBIDDEN_IN_BRAIN = ("kimchi_plugin.rpc", "kimchi_plugin.hooks", "kimchi_plugin.services", "kimchi_plugin.app", "jsonrpcserver", "httpx", "socket", "subprocess")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_brain_imports_no_transport_hooks_services_or_network() -> None:
    offenders = {
        f"{path.name}: {name}"
        for path in (PACKAGE / "brain").glob("*.py")
        for name in _imports(path)
        if name.startswith(FORBIDDEN_IN_BRAIN)
    }
    assert not offenders


def test_only_the_dispatch_module_imports_jsonrpcserver() -> None:
    users = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(name.startswith("jsonrpcserver") for name in _imports(path))
    }
    assert users == {"rpc/dispatch.py"}


def test_rpc_layer_knows_nothing_of_hooks_or_brain() -> None:
    offenders = {
        f"{path.name}: {name}"
        for path in (PACKAGE / "rpc").glob("*.py")
        for name in _imports(path)
        if name.startswith(("kimchi_plugin.hooks", "kimchi_plugin.brain"))
    }
    assert not offenders
