"""Tool hooks: activity tracking and delegation reminders (`tool.execute.after`), the task tool's description
(`tool.definition`), and our own tools (`tool.execute`: the suggest_*_mode routing tools and the usage report)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kimchi_plugin.opencode import payloads as p
from kimchi_plugin.opencode.handshake import SUGGEST_TOOLS, USAGE_TOOL
from kimchi_plugin.opencode.vocabulary import DELEGATION_TOOL
from kimchi_plugin.rpc.protocol import HookParams, HookResult, ToolExecuteParams, ToolExecuteResult

if TYPE_CHECKING:
    from kimchi_plugin.brain import Brain

REASON_CHARS = 200  # of the reason a suggest_*_mode call gives, echoed back


async def tool_after(brain: Brain, params: HookParams) -> HookResult:
    inp = p.parse(p.ToolAfterInput, params.input)
    out = p.parse(p.ToolAfterOutput, params.output)
    if not inp.sessionID or not inp.tool:
        return HookResult()
    reminder, actions = brain.observe_tool(inp.sessionID, inp.tool, inp.args or {}, out.output, out.metadata or {})
    patch = {"output": f"{out.output}\n\n{reminder}"} if reminder and isinstance(out.output, str) else {}
    return HookResult(output=patch, actions=actions)


async def tool_definition(brain: Brain, params: HookParams) -> HookResult:
    inp = p.parse(p.ToolDefinitionInput, params.input)
    out = p.parse(p.ToolDefinitionOutput, params.output)
    description = brain.task_description(out.description or "") if inp.toolID == DELEGATION_TOOL else None
    return HookResult(output={"description": description}) if description is not None else HookResult()


async def tool_execute(brain: Brain, params: ToolExecuteParams) -> ToolExecuteResult:
    if params.name in SUGGEST_TOOLS:
        tier, _ = SUGGEST_TOOLS[params.name]
        brain.suggest(params.context.sessionID, tier)
        reason = str(params.args.get("reason") or "")[:REASON_CHARS]
        return ToolExecuteResult(output=f"Next message → {tier.value.capitalize()} tier. Reason: {reason}")
    if params.name == USAGE_TOOL:
        return ToolExecuteResult(output=brain.usage_summary(params.context.sessionID))
    return ToolExecuteResult(output=f"Unknown tool {params.name!r}.")
