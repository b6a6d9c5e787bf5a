"""The OpenCode adapter. This file stays light: the leaf `vocabulary` is read by every layer, and importing it must
not load the adapter (that would make usage and routing import cycles). The method table lives in `routes`."""

from __future__ import annotations

from typing import Any

_ROUTES_NAMES = frozenset({"build_routes", "HOOK_HANDLERS"})


def __getattr__(name: str) -> Any:
    if name in _ROUTES_NAMES:
        from kimchi_plugin.opencode import routes

        return getattr(routes, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
