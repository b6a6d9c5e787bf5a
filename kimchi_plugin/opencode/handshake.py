"""What `initialize` answers when the shim speaks our protocol version: our tools (the suggest_*_mode routing tools and
the usage report), the hooks to forward (with the input filters that spare calls the brain would not patch, the
read-only ones answered ahead, and the answers ahead that hold for the brain's lifetime) and the bus events. Plain data
without pydantic: the server answers the first `initialize` before it imports the rest (app.run_server)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kimchi_plugin import __version__
from kimchi_plugin.opencode.vocabulary import (
    BRAIN_HOOKS,
    CHAT_PARAMS_HOOK,
    DELEGATION_TOOL,
    FORWARDED_EVENTS,
    INTERNAL_PROMPT_MARKERS,
    OBSERVED_HOOKS,
    READ_ONLY_HOOKS,
    SYSTEM_AGENTS,
    SYSTEM_TRANSFORM_HOOK,
    TASK_TOOL_GUIDE,
    TASK_TOOL_PREFIX,
    TOOL_DEFINITION_HOOK,
)
from kimchi_plugin.routing.tiers import Tier
from kimchi_plugin.rpc.stdio import PROTOCOL_VERSION

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
# Input values a hook call must hold to be worth forwarding: OpenCode asks for every tool's definition on every step,
# the brain only ever changes the task tool's.
FILTERS = {TOOL_DEFINITION_HOOK: {"toolID": [DELEGATION_TOOL]}}
ORCHESTRATOR_HOOKS = (TOOL_DEFINITION_HOOK,)  # what only the orchestrator needs: not listed when it is off
# Answers ahead for the brain's lifetime (PROTOCOL.md): what depends on `initialize`'s options alone, whatever the
# session. OpenCode's own requests (a title, a summary: a helper agent's `chat.params`, a system prompt that opens with
# an internal marker, a narrower reading than `ahead.internal_prompt`'s) change nothing. The task tool's description
# gets the delegation guide in front, as `Brain.task_description` answers a request; once it holds the guide, nothing
# changes.
STANDING = {
    CHAT_PARAMS_HOOK: [{"hook": CHAT_PARAMS_HOOK, "when": {"agent": name}, "output": {}} for name in SYSTEM_AGENTS],
    SYSTEM_TRANSFORM_HOOK: [
        {"hook": SYSTEM_TRANSFORM_HOOK, "when": {}, "opening": {"system": list(INTERNAL_PROMPT_MARKERS)}, "output": {}}
    ],
    TOOL_DEFINITION_HOOK: [
        {
            "hook": TOOL_DEFINITION_HOOK,
            "when": {"toolID": DELEGATION_TOOL},
            "unless": {"description": [TASK_TOOL_GUIDE]},
            "prefix": {"description": TASK_TOOL_PREFIX},
        },
        {"hook": TOOL_DEFINITION_HOOK, "when": {"toolID": DELEGATION_TOOL}, "output": {}},
    ],
}


def offer(hooks: Sequence[str], orchestrator: bool = True) -> dict[str, Any]:
    """The answer as JSON data (the shape of `rpc.protocol.InitializeResult`)."""
    tools = [{"name": name, "description": text, "args": REASON_ARG} for name, (_tier, text) in SUGGEST_TOOLS.items()]
    tools.append({"name": USAGE_TOOL, "description": USAGE_DESCRIPTION, "args": NO_ARGS})
    listed = [hook for hook in hooks if orchestrator or hook not in ORCHESTRATOR_HOOKS]
    return {
        "protocolVersion": PROTOCOL_VERSION,
        "serverVersion": __version__,
        "tools": tools,
        "hooks": listed,
        "observed": [hook for hook in OBSERVED_HOOKS if hook in listed],
        "readOnly": [hook for hook in READ_ONLY_HOOKS if hook in listed],
        "filters": {hook: fields for hook, fields in FILTERS.items() if hook in listed},
        "ahead": [entry for hook, entries in STANDING.items() if hook in listed for entry in entries],
        "events": list(FORWARDED_EVENTS),
    }


def answer_early(method: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """The answer to a first frame that is an `initialize` the full server would accept and answer the same way (our
    protocol version, the field types of `rpc.protocol.InitializeParams`); None leaves any other frame to it."""
    version = params.get("protocolVersion")
    if method != "initialize" or type(version) is not int or version != PROTOCOL_VERSION:
        return None
    options = params.get("options", {})
    if not isinstance(options, dict):
        return None
    if not all(isinstance(params.get(name, ""), str) for name in ("directory", "worktree")):
        return None
    orchestrator = options.get("orchestrator", True)
    if type(orchestrator) is not bool:  # the option's lenient parsing is the full server's (settings.Settings)
        return None
    return offer(BRAIN_HOOKS, orchestrator)
