"""Chat hooks: `chat.message` (the routing decision), `chat.params` (temperature), the system-prompt addition,
and the transcript view (`experimental.chat.messages.transform`) that keeps session context and token counts fresh."""

from __future__ import annotations

from typing import Any

import structlog

from kimchi_plugin.opencode import payloads as p
from kimchi_plugin.opencode.runtime import REQUEST_OVERHEAD_TOKENS, Runtime
from kimchi_plugin.routing.conversation import Message
from kimchi_plugin.routing.prompts import PROFILE_PROMPTS, PROFILE_TEMPERATURE
from kimchi_plugin.routing.router import PROFILE_LABEL, Decision, Request
from kimchi_plugin.routing.tokens import estimate_tokens
from kimchi_plugin.rpc.protocol import HookParams
from kimchi_plugin.usage.recorder import RouteTag

log = structlog.get_logger("kimchi.route")

EMPTY_AFTER_COMMAND = "(The user only changed how messages are routed. Acknowledge in one short sentence.)"
# Text that marks OpenCode's internal requests (title, summary, compaction): they get no profile prompt.
# (OpenCode 1.18: the title agent and the compaction agent open their system prompt with these.)
INTERNAL_PROMPT_MARKERS = (
    "You are a title generator",
    "You are a context summarization agent",
    "Only output the structured summary",
    "summarize the conversation",
)
TOAST_MS = 4000


def user_text(parts: list[p.Part]) -> str:
    """The user's own words: non-synthetic text parts (files and tool output attached by OpenCode are not)."""
    own = [part.text for part in parts if part.type == "text" and part.text and not part.synthetic]
    return "\n".join(own)


def toast(title: str, message: str, variant: str = "info", duration: int = TOAST_MS) -> dict[str, Any]:
    return {
        "call": "tui.showToast",
        "args": {"body": {"title": title, "message": message, "variant": variant, "duration": duration}},
    }


async def chat_message(rt: Runtime, params: HookParams) -> dict[str, Any]:
    inp = p.parse(p.ChatMessageInput, params.input)
    out = p.parse(p.ChatMessageOutput, params.output)
    requested = out.message.model or inp.model
    session_id = inp.sessionID or out.message.sessionID
    if not session_id or requested is None or requested.providerID != rt.provider_id:
        return {"output": {}}
    state = rt.sessions.get(session_id, rt.clock())
    text = user_text(out.parts)
    agent = out.message.agent or inp.agent
    # The next request: what the session already holds, plus this message, plus system prompt and tools. The new
    # message is estimated (~5 % error, 10x cheaper than exact): a 200 KB paste must not cost the hot path 10 ms.
    estimated = max(state.transcript_tokens, state.reported_tokens) + estimate_tokens(text) + REQUEST_OVERHEAD_TOKENS
    request = Request(
        session_id=session_id,
        text=text,
        agent=agent,
        primary=rt.is_primary(agent),
        requested=requested.modelID,
        now=rt.clock(),
        estimated_tokens=estimated,
    )
    decision = await rt.router.route(request, state)
    log.debug(
        "decision",
        session=session_id,
        agent=agent,
        requested=requested.modelID,
        model=decision.model.id if decision.model else None,
        tier=decision.tier.value,
        profile=decision.profile.value,
        source=decision.source,
        confidence=round(decision.confidence, 3),
        signals=list(decision.signals),
        notes=list(decision.notes),
        tokens=estimated,
    )
    patch: dict[str, Any] = {}
    actions: list[dict[str, Any]] = []
    if decision.model is not None:
        patch["message"] = {"model": {"providerID": rt.provider_id, "modelID": decision.model.id}}
        if out.message.id:
            tag = RouteTag(decision.tier.value, decision.profile.value, decision.source, decision.model.id, agent)
            rt.usage.on_route(out.message.id, tag)
        key = f"{decision.profile.value}:{decision.model.id}"
        if rt.settings.toasts and (key != state.toast_key or decision.notes):
            state.toast_key = key
            actions.append(_routing_toast(decision))
    if decision.text is not None:
        patch["parts"] = _strip_command(params.output, decision.text)
    return {"output": patch, "actions": actions}


def _routing_toast(decision: Decision) -> dict[str, Any]:
    assert decision.model is not None
    lines = [f"{decision.model.id} · {decision.tier.value} tier", decision.reason, *decision.notes]
    variant = "warning" if decision.notes else "info"
    return toast(f"Kimchi: {PROFILE_LABEL[decision.profile]}", "\n".join(lines), variant)


def _strip_command(output: Any, rest: str) -> list[Any]:
    """The message parts with the slash command removed from the first text part the user typed."""
    parts = output.get("parts") if isinstance(output, dict) else None
    parts = [dict(part) if isinstance(part, dict) else part for part in (parts or [])]
    for part in parts:
        if isinstance(part, dict) and part.get("type") == "text" and not part.get("synthetic"):
            part["text"] = rest or EMPTY_AFTER_COMMAND
            break
    return parts


def _routed_state(rt: Runtime, session_id: str | None, model_id: str | None):
    """The session's state when this request is the session's routed turn (not an internal or foreign call)."""
    if not session_id or not model_id:
        return None
    state = rt.sessions.peek(session_id)
    if state is None or state.last is None or state.last.model_id != model_id:
        return None
    return state


async def chat_params(rt: Runtime, params: HookParams) -> dict[str, Any]:
    inp = p.parse(p.ChatParamsInput, params.input)
    model = inp.model or p.ModelInfo()
    provider_id = model.providerID or (inp.provider.id if inp.provider else None)
    if provider_id != rt.provider_id or inp.agent in ("title", "summary", "compaction"):
        return {"output": {}}
    state = _routed_state(rt, inp.sessionID, model.id)
    spec = rt.registry.get(model.id or "")
    if state is None or state.last is None:
        return {"output": {}}
    temperature = PROFILE_TEMPERATURE[state.last.profile]
    if spec is not None and spec.fixed_temperature is not None:
        temperature = spec.fixed_temperature
    return {"output": {"temperature": temperature}}


async def system_transform(rt: Runtime, params: HookParams) -> dict[str, Any]:
    inp = p.parse(p.SystemTransformInput, params.input)
    model = inp.model or p.ModelInfo()
    if model.providerID != rt.provider_id:
        return {"output": {}}
    state = _routed_state(rt, inp.sessionID, model.id)
    system = params.output.get("system") if isinstance(params.output, dict) else None
    if state is None or state.last is None or not isinstance(system, list):
        return {"output": {}}
    head = " ".join(s[:2000] for s in system[:2] if isinstance(s, str))
    if any(marker in head for marker in INTERNAL_PROMPT_MARKERS):
        return {"output": {}}
    additions = [PROFILE_PROMPTS[state.last.profile]]
    additions.extend(rt.reminders_for(state))
    return {"output": {"system": [*system, "\n\n".join(additions)]}}


def _message_text(parts: list[dict[str, Any]]) -> tuple[str, tuple[tuple[str, bool], ...], str]:
    """(own words, tool calls, everything sent to the model) of one transcript message."""
    words: list[str] = []
    sent: list[str] = []
    tools: list[tuple[str, bool]] = []
    for part in parts:
        kind = part.get("type")
        if kind == "text" and isinstance(part.get("text"), str):
            sent.append(part["text"])
            if not part.get("synthetic"):
                words.append(part["text"])
        elif kind == "tool":
            tool_state = part.get("state") if isinstance(part.get("state"), dict) else {}
            failed = tool_state.get("status") == "error"
            tools.append((str(part.get("tool") or ""), failed))
            for key in ("input", "output", "error"):
                value = tool_state.get(key)
                if value:
                    sent.append(value if isinstance(value, str) else str(value))
        elif kind == "reasoning" and isinstance(part.get("text"), str):
            sent.append(part["text"])
    return "\n".join(words), tuple(tools), "\n".join(sent)


async def messages_transform(rt: Runtime, params: HookParams) -> dict[str, Any]:
    out = p.parse(p.MessagesTransformOutput, params.output)
    if not out.messages:
        return {"output": {}}
    session_id = next((m.info.sessionID for m in out.messages if m.info.sessionID), None)
    if not session_id:
        return {"output": {}}
    state = rt.sessions.get(session_id, rt.clock())
    transcript: list[Message] = []
    counted: list[tuple[str, str]] = []
    for index, message in enumerate(out.messages):
        words, tools, sent = _message_text(message.parts)
        transcript.append(Message(role=message.info.role or "", text=words, tools=tools))
        key = f"{message.info.id or index}:{len(message.parts)}"
        counted.append((key, sent))
    state.conversation.sync(transcript)
    state.transcript_tokens = rt.conversation_tokens.total(counted)
    return {"output": {}, "actions": rt.compaction_actions(state)}
