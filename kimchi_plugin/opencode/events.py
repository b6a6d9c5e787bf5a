"""OpenCode bus events (notifications, never blocking): session lifecycle, real token usage, and request failures
that arm the model fallback (`session.error`, errored `message.updated`, and `session.status` "retry", which is all
OpenCode reports while it retries a rate-limited or failing model by itself)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from kimchi_plugin.opencode.chat import toast
from kimchi_plugin.opencode.runtime import REQUEST_OVERHEAD_TOKENS, Runtime
from kimchi_plugin.routing import context_window, fallback
from kimchi_plugin.routing.sessions import SessionState
from kimchi_plugin.rpc.protocol import EventParams
from kimchi_plugin.usage.payload import parse_assistant
from kimchi_plugin.usage.prices import Usage

log = structlog.get_logger("kimchi.events")

FALLBACK_TOAST_MS = 6000


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
            error = props.get("error")
            _failed(
                rt, state, state.last.model_id, fallback.classify_error(error if isinstance(error, Mapping) else None)
            )
    elif kind == "session.status":
        status = props.get("status") if isinstance(props.get("status"), Mapping) else {}
        state = rt.sessions.peek(_session_of(props) or "")
        if status.get("type") == "retry" and state is not None and state.last is not None:
            _failed(rt, state, state.last.model_id, fallback.classify_retry(str(status.get("message") or "")))
    elif kind == "session.created":
        info = props.get("info") if isinstance(props.get("info"), Mapping) else {}
        if isinstance(info.get("id"), str):
            parent = info.get("parentID")
            rt.usage.on_session_created(info["id"], parent if isinstance(parent, str) else None)
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
    rt.usage_assistant_message(dict(info), state)  # recorded even for sessions the brain no longer remembers
    if state is None:
        return
    model_id = str(info.get("modelID") or "")
    message = parse_assistant(info)
    usage = message.usage if message is not None else Usage()
    used = usage.input + usage.output + usage.cache_read + usage.cache_write
    if used > 0:
        state.reported_tokens = used  # the real size of the last request (input excludes cached tokens)
    error = info.get("error")
    if error:
        _failed(rt, state, model_id, fallback.classify_error(error if isinstance(error, Mapping) else None))
    elif info.get("finish") and model_id:
        fallback.note_success(state, model_id)


def _failed(rt: Runtime, state: SessionState, model_id: str, failure: fallback.Failure | None) -> None:
    """Arm the fallback for the session's next message and tell the user which model will serve it."""
    if failure is None or not model_id or not fallback.note_failure(state, model_id, failure, rt.clock()):
        return
    tier = state.last.tier if state.last is not None else rt.registry.primary_tier(model_id)
    needed = context_window.request_tokens(state, REQUEST_OVERHEAD_TOKENS)
    upcoming, _notes = rt.router.pick_model(tier, state, rt.clock(), needed)
    log.info(
        "model failed",
        session=state.session_id,
        model=model_id,
        kind=failure.kind,
        status=failure.status,
        next=upcoming.id if upcoming else None,
    )
    if rt.settings.toasts:
        then = f"the next message uses {upcoming.id}" if upcoming is not None else "no other model is available"
        rt.push_actions(
            [toast("Kimchi: model fallback", f"{state.fallback_note}; {then}", "warning", FALLBACK_TOAST_MS)]
        )
