"""Tool hooks: live activity tracking and delegation reminders (`tool.execute.after`), the task tool's description
(`tool.definition`), and our own tools (`tool.execute`: the suggest_*_mode routing tools)."""

from __future__ import annotations

from typing import Any

from kimchi_plugin.opencode import payloads as p
from kimchi_plugin.opencode.runtime import Runtime
from kimchi_plugin.routing import delegation
from kimchi_plugin.routing.tiers import Tier
from kimchi_plugin.rpc.protocol import HookParams, ToolExecuteParams, ToolSpec

EDIT_TOOLS = frozenset({"edit", "write", "patch", "multiedit"})
READ_TOOLS = frozenset({"read", "grep", "glob", "list"})
ERROR_SNIPPET_CHARS = 200

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


def _failed(tool: str, output: Any, metadata: dict[str, Any] | None) -> bool:
    exit_code = (metadata or {}).get("exit")
    if isinstance(exit_code, int) and exit_code != 0:
        return True
    return (
        tool not in READ_TOOLS
        and isinstance(output, str)
        and output.lstrip()[:6].lower().startswith(("error", "failed"))
    )


def _file_of(args: dict[str, Any] | None) -> str | None:
    for key in ("filePath", "path", "file"):
        value = (args or {}).get(key)
        if isinstance(value, str) and value:
            return value
    return None


async def tool_before(rt: Runtime, params: HookParams) -> dict[str, Any]:
    """Forwarded so the brain sees every tool call start; routing changes nothing here."""
    return {"output": {}}


async def tool_after(rt: Runtime, params: HookParams) -> dict[str, Any]:
    inp = p.parse(p.ToolAfterInput, params.input)
    out = p.parse(p.ToolAfterOutput, params.output)
    if not inp.sessionID or not inp.tool:
        return {"output": {}}
    state = rt.sessions.get(inp.sessionID, rt.clock())
    tool = inp.tool.lower()
    failed = _failed(tool, out.output, out.metadata)
    state.conversation.note_tool(tool, failed)
    path = _file_of(inp.args)
    if tool in EDIT_TOOLS:
        state.edits += 1
        if path:
            state.files_modified.add(path)
    elif tool in READ_TOOLS:
        state.reads += 1
        if path and tool == "read":
            state.files_read.add(path)
    if failed:
        state.errors += 1
        first_line = str(out.output or "").strip().splitlines()[:1]
        state.recent_errors.append((first_line[0] if first_line else tool)[:ERROR_SNIPPET_CHARS])
    rt.usage_tool_after(inp.sessionID, tool, inp.args or {}, out.output, out.metadata or {})
    patch: dict[str, Any] = {}
    if rt.orchestrating(state):
        delegation.note_tool(state, tool)
        text = delegation.reminder(state)
        if text and isinstance(out.output, str):
            patch["output"] = f"{out.output}\n\n{text}"
    return {"output": patch, "actions": rt.compaction_actions(state)}


async def tool_definition(rt: Runtime, params: HookParams) -> dict[str, Any]:
    inp = p.parse(p.ToolDefinitionInput, params.input)
    out = p.parse(p.ToolDefinitionOutput, params.output)
    if inp.toolID != "task" or not rt.settings.orchestrator or delegation.TASK_TOOL_GUIDE in (out.description or ""):
        return {"output": {}}
    return {"output": {"description": f"{delegation.TASK_TOOL_GUIDE}\n\n{out.description or ''}".rstrip()}}


async def tool_execute(rt: Runtime, params: ToolExecuteParams) -> dict[str, Any]:
    if params.name in SUGGEST_TOOLS:
        tier, _ = SUGGEST_TOOLS[params.name]
        if params.context.sessionID:
            rt.sessions.get(params.context.sessionID, rt.clock()).suggestion = tier
        reason = str(params.args.get("reason") or "")[:200]
        return {"output": f"Next message → {tier.value.capitalize()} tier. Reason: {reason}"}
    if params.name == USAGE_TOOL:
        return {"output": rt.usage.session_summary(params.context.sessionID)}
    return {"output": f"Unknown tool {params.name!r}."}
