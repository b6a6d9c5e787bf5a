"""The method table: wire method name → (params model, handler). The single place where methods are registered."""

from __future__ import annotations

from functools import partial

import structlog

from kimchi_plugin.hooks import lifecycle
from kimchi_plugin.hooks.runtime import Runtime
from kimchi_plugin.rpc.dispatch import Route
from kimchi_plugin.rpc.protocol import EmptyParams, EventParams, HookParams, InitializeParams, ToolExecuteParams

log = structlog.get_logger("kimchi.hooks")


async def _passthrough(method: str, runtime: Runtime, params: HookParams) -> dict:
    log.debug("hook", method=method)
    return {"output": {}}


async def _event(runtime: Runtime, params: EventParams) -> None:
    log.debug("hook", method="event", type=params.event.get("type"))


def build_routes(runtime: Runtime) -> dict[str, Route]:
    routes = {
        "initialize": Route(InitializeParams, partial(lifecycle.initialize, runtime)),
        "shutdown": Route(EmptyParams, partial(lifecycle.shutdown, runtime)),
        "tool.execute": Route(ToolExecuteParams, partial(lifecycle.tool_execute, runtime)),
        "event": Route(EventParams, partial(_event, runtime)),
    }
    for hook in lifecycle.HANDLED_HOOKS:
        routes[hook] = Route(HookParams, partial(_passthrough, hook, runtime))
    return routes
