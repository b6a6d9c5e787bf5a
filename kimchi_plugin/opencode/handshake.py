"""What `initialize` answers when the shim speaks our protocol version: our tools (the suggest_*_mode routing tools and
the usage report), the hooks and the bus events to forward. Plain data without pydantic: the server answers the first
`initialize` before it imports the rest (app.run_server)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kimchi_plugin import __version__
from kimchi_plugin.opencode.vocabulary import BRAIN_HOOKS, FORWARDED_EVENTS, OBSERVED_HOOKS
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


def offer(hooks: Sequence[str]) -> dict[str, Any]:
    """The answer as JSON data (the shape of `rpc.protocol.InitializeResult`)."""
    tools = [{"name": name, "description": text, "args": REASON_ARG} for name, (_tier, text) in SUGGEST_TOOLS.items()]
    tools.append({"name": USAGE_TOOL, "description": USAGE_DESCRIPTION, "args": NO_ARGS})
    return {
        "protocolVersion": PROTOCOL_VERSION,
        "serverVersion": __version__,
        "tools": tools,
        "hooks": list(hooks),
        "observed": [hook for hook in OBSERVED_HOOKS if hook in hooks],
        "events": list(FORWARDED_EVENTS),
    }


def answer_early(method: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """The answer to a first frame that is an `initialize` the full server would accept and answer the same way (our
    protocol version, the field types of `rpc.protocol.InitializeParams`); None leaves any other frame to it."""
    version = params.get("protocolVersion")
    if method != "initialize" or type(version) is not int or version != PROTOCOL_VERSION:
        return None
    if not isinstance(params.get("options", {}), dict):
        return None
    if not all(isinstance(params.get(name, ""), str) for name in ("directory", "worktree")):
        return None
    return offer(BRAIN_HOOKS)
