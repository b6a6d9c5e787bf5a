"""Chat hooks: `chat.message` (the routing decision), `chat.params` (temperature), the system-prompt addition,
and the transcript view (`experimental.chat.messages.transform`) that keeps session context and token counts fresh."""

from __future__ import annotations

from typing import Any

from kimchi_plugin.brain import Brain, TranscriptEntry, UserTurn
from kimchi_plugin.opencode import ahead
from kimchi_plugin.opencode import payloads as p
from kimchi_plugin.rpc.protocol import HookParams, HookResult

EMPTY_AFTER_COMMAND = "(The user only changed how messages are routed. Acknowledge in one short sentence.)"


def user_text(parts: list[p.Part]) -> str:
    """The user's own words: non-synthetic text parts (files and tool output attached by OpenCode are not)."""
    return "\n".join(part.text for part in parts if part.type == "text" and part.text and not part.synthetic)


async def chat_message(brain: Brain, params: HookParams) -> HookResult:
    inp = p.parse(p.ChatMessageInput, params.input)
    out = p.parse(p.ChatMessageOutput, params.output)
    requested = out.message.model or inp.model
    session_id = inp.sessionID or out.message.sessionID
    if not session_id or requested is None or requested.providerID != brain.provider_id:
        return HookResult()
    turn = UserTurn(
        session_id=session_id,
        text=user_text(out.parts),
        agent=out.message.agent or inp.agent,
        requested=requested.modelID or "",
        message_id=out.message.id,
    )
    routed = await brain.route(turn)
    patch: dict[str, Any] = {}
    if routed.decision.model is not None:
        patch["message"] = {"model": {"providerID": brain.provider_id, "modelID": routed.decision.model.id}}
    if routed.decision.text is not None:
        patch["parts"] = _strip_command(params.output, routed.decision.text)
    return HookResult(output=patch, actions=list(routed.actions))


def _strip_command(output: Any, rest: str) -> list[Any]:
    """The message parts with the slash command removed from the first text part the user typed."""
    parts = output.get("parts") if isinstance(output, dict) else None
    parts = [dict(part) if isinstance(part, dict) else part for part in (parts or [])]
    for part in parts:
        if isinstance(part, dict) and part.get("type") == "text" and not part.get("synthetic"):
            part["text"] = rest or EMPTY_AFTER_COMMAND
            break
    return parts


async def chat_params(brain: Brain, params: HookParams) -> HookResult:
    inp = p.parse(p.ChatParamsInput, params.input)
    model = inp.model or p.ModelInfo()
    provider_id = model.providerID or (inp.provider.id if inp.provider else None)
    return HookResult(output=ahead.params_answer(brain, inp.sessionID, model.id, provider_id, inp.agent))


async def system_transform(brain: Brain, params: HookParams) -> HookResult:
    inp = p.parse(p.SystemTransformInput, params.input)
    model = inp.model or p.ModelInfo()
    system = params.output.get("system") if isinstance(params.output, dict) else None
    if not isinstance(system, list) or ahead.internal_prompt(system):
        return HookResult()
    items = ahead.system_items(brain, inp.sessionID, model.id, model.providerID)
    return HookResult(output={"system": [*system, *items]}) if items else HookResult()


def _entry(message: p.TranscriptMessage, index: int) -> TranscriptEntry:
    """One transcript message: own words, tool calls, and everything sent to the model."""
    words: list[str] = []
    sent: list[str] = []
    tools: list[tuple[str, bool]] = []
    for part in message.parts:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text" and isinstance(part.get("text"), str):
            sent.append(part["text"])
            if not part.get("synthetic"):
                words.append(part["text"])
        elif kind == "tool":
            raw = part.get("state")
            tool_state: dict[str, Any] = raw if isinstance(raw, dict) else {}
            tools.append((str(part.get("tool") or ""), tool_state.get("status") == "error"))
            for key in ("input", "output", "error"):
                value = tool_state.get(key)
                if value:
                    sent.append(value if isinstance(value, str) else str(value))
        elif kind == "reasoning" and isinstance(part.get("text"), str):
            sent.append(part["text"])
    key = f"{message.info.id or index}:{len(message.parts)}"
    return TranscriptEntry(message.info.role or "", "\n".join(words), tuple(tools), key, "\n".join(sent))


async def messages_transform(brain: Brain, params: HookParams) -> HookResult:
    out = p.parse(p.MessagesTransformOutput, params.output)
    session_id = next((m.info.sessionID for m in out.messages if m.info.sessionID), None)
    if not session_id:
        return HookResult()
    entries = [_entry(message, index) for index, message in enumerate(out.messages)]
    return HookResult(actions=brain.sync_transcript(session_id, entries))
