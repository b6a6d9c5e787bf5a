"""The real brain, started as the shim starts it (`python -m kimchi_plugin`, no arguments), reporting on stderr as it
answers `config` which of the modules named in its own arguments its main thread had imported by then, and which hook
payload models had been built (what only later calls need is loaded on a thread after the answer, or on first use)."""

from __future__ import annotations

import dataclasses
import importlib.abc
import runpy
import sys
import threading
from collections.abc import Sequence
from typing import Any

from kimchi_plugin import app

WATCHED = tuple(sys.argv[1:])
REPORT = "imported on the main thread by the config answer: "
BUILT = "payload models built by the config answer: "
_imported = {name for name in WATCHED if name in sys.modules}  # before the watch began (then reported too)


class _MainThreadImports(importlib.abc.MetaPathFinder):
    """Notes every first import made on the main thread; finds nothing itself."""

    def find_spec(self, name: str, path: Sequence[str] | None = None, target: Any = None) -> None:
        if threading.current_thread() is threading.main_thread():
            _imported.add(name)


_build_routes = app.build_routes


def _built_payload_models() -> list[str]:
    from pydantic import BaseModel

    from kimchi_plugin.opencode import payloads

    models = [value for value in vars(payloads).values() if isinstance(value, type) and issubclass(value, BaseModel)]
    return sorted(model.__name__ for model in models if model is not BaseModel and model.__pydantic_complete__)


def _watched_routes(brain: Any) -> dict[str, Any]:
    routes = _build_routes(brain)
    route = routes["config"]

    async def config(params: Any) -> Any:
        result = await route.handler(params)
        sys.stderr.write(REPORT + repr(sorted(name for name in WATCHED if name in _imported)) + "\n")
        sys.stderr.write(BUILT + repr(_built_payload_models()) + "\n")
        return result

    routes["config"] = dataclasses.replace(route, handler=config)
    return routes


if __name__ == "__main__":
    sys.meta_path.insert(0, _MainThreadImports())
    app.build_routes = _watched_routes
    del sys.argv[1:]
    runpy.run_module("kimchi_plugin", run_name="__main__")
