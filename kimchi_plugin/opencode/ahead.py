"""Answers ahead: what the read-only per-step hooks (`chat.params`, the system-prompt transform) will answer for a
session's coming calls, sent with the reply to each request that changes what they depend on, so that the shim
answers those calls without a round trip (OpenCode awaits every hook, and its event loop is busy on the first step).

One function computes each answer, for the request and for the entry, so the two cannot drift. The answers read the
session's routed turn (`state.last`), its agent, the delegation counters, the settings and the registry; these change
only on `initialize`, `config`, `chat.message` and `tool.execute.after` (requests the shim sends, each of which drops
the entries it concerns) and on a catalogue refresh, after which the brain sends a `client.actions` notification
(the shim drops every entry on one). Entries are plain JSON data the shim applies without knowing what they mean."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kimchi_plugin.opencode.vocabulary import (
    CHAT_PARAMS_HOOK,
    INTERNAL_PROMPT_MARKERS,
    SYSTEM_AGENTS,
    SYSTEM_TRANSFORM_HOOK,
)
from kimchi_plugin.rpc.protocol import HookParams

if TYPE_CHECKING:
    from kimchi_plugin.brain import Brain

# The hook inputs' fields an entry matches on (dotted paths into OpenCode's hook input) and the output it extends.
SESSION = "sessionID"
MODEL_ID = "model.id"
PROVIDER_ID = "model.providerID"
AGENT = "agent"
SYSTEM = "system"
PROMPT_HEAD_CHARS = 2000  # of each of the first two system strings, read for an internal prompt's opening
MARKERS = list(INTERNAL_PROMPT_MARKERS)


def params_answer(
    brain: Brain, session_id: str | None, model_id: str | None, provider_id: str | None, agent: str | None
) -> dict[str, Any]:
    """`chat.params`: the routed turn's temperature, for our provider and the agents that are not OpenCode's helpers."""
    if provider_id != brain.provider_id or agent in SYSTEM_AGENTS:
        return {}
    temperature = brain.temperature(session_id, model_id)
    return {} if temperature is None else {"temperature": temperature}


def system_items(brain: Brain, session_id: str | None, model_id: str | None, provider_id: str | None) -> list[str]:
    """The system transform's items to append to a prompt that is not an internal one (none for other providers)."""
    if provider_id != brain.provider_id:
        return []
    additions = brain.system_additions(session_id, model_id)
    return ["\n\n".join(additions)] if additions else []


def internal_prompt(system: list[Any]) -> bool:
    """Whether the prompt opens like OpenCode's internal requests (title, summary, compaction). Read per string: an
    entry's `unless` (a marker anywhere in any string) then holds whenever this does, so such a call goes by request."""
    heads = [s[:PROMPT_HEAD_CHARS] for s in system[:2] if isinstance(s, str)]
    return any(marker in head for head in heads for marker in INTERNAL_PROMPT_MARKERS)


def session_of(params: HookParams) -> str | None:
    """The session a hook call concerns: its input's `sessionID`, else its output message's (as the shim reads it)."""
    found = params.input.get(SESSION) if isinstance(params.input, dict) else None
    if not isinstance(found, str) or not found:
        message = params.output.get("message") if isinstance(params.output, dict) else None
        found = message.get(SESSION) if isinstance(message, dict) else None
    return found if isinstance(found, str) and found else None


def entries(brain: Brain, session_id: str) -> list[dict[str, Any]]:
    """The session's answers ahead, from its state now: the calls of the routed turn (its model and agent). OpenCode's
    own requests (a title, a summary) are answered by the handshake's standing entries (opencode/handshake.py); any
    other call (another model or agent, an internal marker past a prompt's opening) goes by request."""
    turn = brain.routed_turn(session_id)
    if turn is None:  # nothing routed: no call of the session is patched, whatever its model
        return [
            {"hook": CHAT_PARAMS_HOOK, "when": {SESSION: session_id}, "output": {}},
            {"hook": SYSTEM_TRANSFORM_HOOK, "when": {SESSION: session_id}, "output": {}},
        ]
    model_id, agent = turn
    provider_id = brain.provider_id
    on_turn = {SESSION: session_id, PROVIDER_ID: provider_id, MODEL_ID: model_id}
    found: list[dict[str, Any]] = []
    if agent is not None:
        patch = params_answer(brain, session_id, model_id, provider_id, agent)
        found.append({"hook": CHAT_PARAMS_HOOK, "when": {**on_turn, AGENT: agent}, "output": patch})
    items = system_items(brain, session_id, model_id, provider_id)
    if items:
        found.append(
            {"hook": SYSTEM_TRANSFORM_HOOK, "when": on_turn, "append": {SYSTEM: items}, "unless": {SYSTEM: MARKERS}}
        )
    else:
        found.append({"hook": SYSTEM_TRANSFORM_HOOK, "when": on_turn, "output": {}})
    return found
