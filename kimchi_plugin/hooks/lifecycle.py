"""`initialize`, `shutdown` and `tool.execute`: the non-hook methods of the wire contract."""

from __future__ import annotations

from kimchi_plugin import __version__
from kimchi_plugin.hooks.runtime import Runtime
from kimchi_plugin.rpc.protocol import (
    PROTOCOL_VERSION,
    EmptyParams,
    InitializeParams,
    InitializeResult,
    ToolExecuteParams,
)

HANDLED_HOOKS = [
    "config",
    "chat.message",
    "chat.params",
    "experimental.chat.system.transform",
    "experimental.chat.messages.transform",
    "tool.execute.before",
    "tool.execute.after",
    "tool.definition",
    "experimental.session.compacting",
]
FORWARDED_EVENTS = [
    "session.created",
    "session.deleted",
    "session.error",
    "session.idle",
    "session.compacted",
    "message.updated",
]


async def initialize(runtime: Runtime, params: InitializeParams) -> InitializeResult:
    if params.protocolVersion != PROTOCOL_VERSION:
        raise ValueError(f"unsupported protocol version {params.protocolVersion}")
    runtime.initialize(params)
    return InitializeResult(serverVersion=__version__, tools=[], hooks=HANDLED_HOOKS, events=FORWARDED_EVENTS)


async def shutdown(runtime: Runtime, _params: EmptyParams) -> dict:
    await runtime.close()
    return {}


async def tool_execute(runtime: Runtime, params: ToolExecuteParams) -> dict:
    return {"output": f"unknown tool {params.name}"}
