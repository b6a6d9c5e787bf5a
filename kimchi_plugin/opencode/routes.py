"""The method table: wire method name → (params model, handler). The single place where methods are registered;
the hooks listed here are exactly those the `initialize` answer offers the shim."""

from __future__ import annotations

from functools import partial

from kimchi_plugin.brain import Brain
from kimchi_plugin.opencode import chat, events, lifecycle, tools
from kimchi_plugin.opencode import config as config_hook
from kimchi_plugin.opencode import vocabulary as v
from kimchi_plugin.rpc.dispatch import Route
from kimchi_plugin.rpc.protocol import EmptyParams, EventParams, HookParams, InitializeParams, ToolExecuteParams

HOOK_HANDLERS: dict[str, lifecycle.HookHandler] = {
    v.CONFIG_HOOK: config_hook.config,
    v.CHAT_MESSAGE_HOOK: chat.chat_message,
    v.CHAT_PARAMS_HOOK: chat.chat_params,
    v.SYSTEM_TRANSFORM_HOOK: chat.system_transform,
    v.MESSAGES_TRANSFORM_HOOK: chat.messages_transform,
    v.TOOL_AFTER_HOOK: tools.tool_after,
    v.TOOL_DEFINITION_HOOK: tools.tool_definition,
    v.COMPACTING_HOOK: config_hook.compacting,
}


def build_routes(brain: Brain) -> dict[str, Route]:
    routes = {
        "initialize": Route(InitializeParams, partial(lifecycle.initialize, brain, tuple(HOOK_HANDLERS))),
        "shutdown": Route(EmptyParams, partial(lifecycle.shutdown, brain)),
        "tool.execute": Route(ToolExecuteParams, partial(tools.tool_execute, brain)),
        "event": Route(EventParams, partial(events.on_event, brain)),
    }
    for hook, handler in HOOK_HANDLERS.items():
        run = lifecycle.observed if hook in v.OBSERVED_HOOKS else lifecycle.logged
        routes[hook] = Route(HookParams, partial(run, hook, handler, brain))
    return routes
