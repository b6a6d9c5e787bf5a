"""OpenCode bus events (notifications, never blocking): session lifecycle, real token usage, and request failures
that arm the model fallback."""

from __future__ import annotations

from typing import Any, Mapping

import structlog

from kimchi_plugin.brain import fallback
from kimchi_plugin.hooks.chat import toast
from kimchi_plugin.hooks.runtime import Runtime
from kimchi_plugin.rpc.protocol import EventParams

log = structlog.get_logger("kimchi.events")


def _session_of(props: Mapping[str, Any]) -> str | None:
    info = props.get("info") if isinstance(props.get("info"), Mapping) else {}
    value = props.get("sessionID") or info.get("sessionID") or info.get("id")
    return value if isinstance(value, str) else None


async def on_event(rt: Runtime, params: EventParams) -> None:
    event = params.event
    kind = event.get("type")
    props = event.get("properties") if isinstance(event.get("properties"), Mapping) else {}
    if kind == "message.updated":
        _message_updated(rt, props)
    elif kind == "session.error":
        session_id = _session_of(props)
        state = rt.sessions.peek(session_id) if session_id else None
        if state is not None and state.last is not None:
            _failed(rt, state, state.last.model_id, props.get("error"))
    elif kind == "session.deleted":
        session_id = _session_of(props)
        if session_id:
            rt.sessions.drop(session_id)
            rt.usage_event(kind, session_id)
    elif kind == "session.compacted":
        state = rt.sessions.peek(_session_of(props) or "")
        if state is not None:
            state.transcript_tokens = 0
            state.reported_tokens = 0
    elif kind == "session.idle":
        session_id = _session_of(props)
        if session_id:
            rt.usage_event(kind, session_id)


def _message_updated(rt: Runtime, props: Mapping[str, Any]) -> None:
    info = props.get("info")
    if not isinstance(info, Mapping) or info.get("role") != "assistant" or info.get("providerID") != rt.provider_id:
        return
    session_id = info.get("sessionID")
    state = rt.sessions.peek(session_id) if isinstance(session_id, str) else None
    if state is None:
        return
    model_id = str(info.get("modelID") or "")
    tokens = info.get("tokens") if isinstance(info.get("tokens"), Mapping) else {}
    cache = tokens.get("cache") if isinstance(tokens.get("cache"), Mapping) else {}
    used = sum(v for v in (tokens.get("input"), tokens.get("output"), cache.get("read"), cache.get("write")) if isinstance(v, int))
    if used > 0:
        state.reported_tokens = used  # the real size of the last request (input excludes cached tokens)
    if info.get("error"):
        _failed(rt, state, model_id, info.get("error"))
    elif info.get("finish") and model_id:
        fallback.note_success(state, model_id)
    rt.usage_assistant_message(dict(info), state)


def _failed(rt: Runtime, state, model_id: str, error: Any) -> None:
    failure = fallback.classify_error(error if isinstance(error, Mapping) else None)
    if failure is None or not model_id or model_id in state.failed_until and state.fallback_note:
        return
    note = fallback.note_failure(state, model_id, failure, rt.clock())
    log.info("model failed", session=state.session_id, model=model_id, kind=failure.kind, status=failure.status)
    if rt.settings.toasts:
        rt.push_actions([toast("Kimchi: model fallback", note, "warning", 6000)])
