"""The method table: wire method name → (params model, handler). The single place where methods are registered."""

from __future__ import annotations

from functools import partial

from kimchi_plugin.opencode import chat, events, lifecycle, tools
from kimchi_plugin.opencode import config as config_hook
from kimchi_plugin.opencode.runtime import Runtime
from kimchi_plugin.rpc.dispatch import Route
from kimchi_plugin.rpc.protocol import EmptyParams, EventParams, HookParams, InitializeParams, ToolExecuteParams

HOOK_HANDLERS = {
    "config": config_hook.config,
    "chat.message": chat.chat_message,
    "chat.params": chat.chat_params,
    "experimental.chat.system.transform": chat.system_transform,
    "experimental.chat.messages.transform": chat.messages_transform,
    "tool.execute.before": tools.tool_before,
    "tool.execute.after": tools.tool_after,
    "tool.definition": tools.tool_definition,
    "experimental.session.compacting": config_hook.compacting,
}


def build_routes(runtime: Runtime) -> dict[str, Route]:
    routes = {
        "initialize": Route(InitializeParams, partial(lifecycle.initialize, runtime)),
        "shutdown": Route(EmptyParams, partial(lifecycle.shutdown, runtime)),
        "tool.execute": Route(ToolExecuteParams, partial(tools.tool_execute, runtime)),
        "event": Route(EventParams, partial(events.on_event, runtime)),
    }
    for hook, handler in HOOK_HANDLERS.items():
        routes[hook] = Route(HookParams, partial(lifecycle.logged, hook, handler, runtime))
    return routes
