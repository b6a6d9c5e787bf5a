"""The real brain server (`kimchi_plugin.app.run_server`) with two extra methods for contract tests:
`test.print` writes to stdout through `print`, `sys.stdout` and fd 1 (all must land on stderr, never between frames),
`test.fail` raises an exception whose text holds a secret (the reply must be a bare -32603 "Internal error")."""

from __future__ import annotations

import os
import sys

from kimchi_plugin import app
from kimchi_plugin.opencode.routes import build_routes
from kimchi_plugin.rpc.dispatch import Route
from kimchi_plugin.rpc.protocol import EmptyParams

SECRET = "sk-contract-test-secret-0123456789"


async def _print(_params: EmptyParams) -> dict:
    print("stray print from a handler")
    sys.stdout.write("stray sys.stdout write\n")
    sys.stdout.flush()
    os.write(1, b"stray write to fd 1\n")
    return {"printed": 3}


async def _fail(_params: EmptyParams) -> dict:
    raise RuntimeError(f"upstream refused key {SECRET}")


def _routes(runtime):
    routes = build_routes(runtime)
    routes["test.print"] = Route(EmptyParams, _print)
    routes["test.fail"] = Route(EmptyParams, _fail)
    return routes


if __name__ == "__main__":
    app.build_routes = _routes
    raise SystemExit(app.run_server())
