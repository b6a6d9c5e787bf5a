"""Tool hooks: activity tracking and delegation reminders (`tool.execute.after`), the task tool's description
(`tool.definition`), and our own tools (`tool.execute`: the suggest_*_mode routing tools and the usage report)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kimchi_plugin.opencode import payloads as p
from kimchi_plugin.opencode.vocabulary import DELEGATION_TOOL
from kimchi_plugin.routing.tiers import Tier
from kimchi_plugin.rpc.protocol import HookParams, HookResult, ToolExecuteParams, ToolExecuteResult, ToolSpec

if TYPE_CHECKING:  # `initialize` reads the tool specs before the Brain is imported
    from kimchi_plugin.brain import Brain

SUGGEST_TOOLS = {
    "suggest_reasoning_mode": (
        Tier.REASONING,
        "Ask for the Reasoning tier on the next message: the work needs design, trade-offs, diagnosis of a failure "
        "with unknown cause, a review or a security check.",
    ),
    "suggest_coding_mode": (
        Tier.CODING,
        "Ask for the Coding tier on the next message: the discussion is settled and the next step is writing, "
        "changing, refactoring or testing code.",
    ),
    "suggest_quick_mode": (
        Tier.QUICK,
        "Ask for the Quick tier on the next message: what remains is a simple question, a lookup, a confirmation or "
        "navigating the codebase.",
    ),
}
REASON_ARG = {
    "type": "object",
    "properties": {"reason": {"type": "string", "description": "Why this tier fits the next step"}},
    "required": ["reason"],
}
REASON_CHARS = 200
USAGE_TOOL = "kimchi_usage"
USAGE_DESCRIPTION = (
    "Show this session's model spend by tier and model, and the savings versus sending everything to the top "
    "Reasoning or Coding model. Use it when the user asks about cost, spend, tokens or savings."
)
NO_ARGS = {"type": "object", "properties": {}, "required": []}


def tool_specs() -> list[ToolSpec]:
    specs = [ToolSpec(name=name, description=text, args=REASON_ARG) for name, (_tier, text) in SUGGEST_TOOLS.items()]
    specs.append(ToolSpec(name=USAGE_TOOL, description=USAGE_DESCRIPTION, args=NO_ARGS))
    return specs


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
