"""OpenCode bus events (notifications, never blocking), translated to Brain calls: session lifecycle, real token
usage, and request failures that arm the model fallback (`session.error`, errored `message.updated`, and
`session.status` "retry", which is all OpenCode reports while it retries a rate-limited or failing model)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kimchi_plugin.brain import Brain
from kimchi_plugin.opencode import vocabulary as v
from kimchi_plugin.routing import fallback
from kimchi_plugin.rpc.protocol import EventParams
from kimchi_plugin.usage.payload import parse_assistant
from kimchi_plugin.usage.prices import Usage

RETRY_STATUS = "retry"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _session_of(props: Mapping[str, Any]) -> str | None:
    info = _mapping(props.get("info"))
    value = props.get("sessionID") or info.get("sessionID") or info.get("id")
    return value if isinstance(value, str) and value else None


async def on_event(brain: Brain, params: EventParams) -> None:
    kind = params.event.get("type")
    props = _mapping(params.event.get("properties"))
    session_id = _session_of(props)
    if kind == v.MESSAGE_UPDATED:
        info = _mapping(props.get("info"))
        if info.get("role") == "assistant" and info.get("providerID") == brain.provider_id:
            message = parse_assistant(info)
            usage = message.usage if message is not None else Usage()
            brain.assistant_message(info, usage.input + usage.output + usage.cache_read + usage.cache_write)
    elif session_id is None:
        return
    elif kind == v.SESSION_ERROR:
        error = props.get("error")
        brain.request_failed(session_id, fallback.classify_error(error if isinstance(error, Mapping) else None))
    elif kind == v.SESSION_STATUS:
        status = _mapping(props.get("status"))
        if status.get("type") == RETRY_STATUS:
            brain.request_failed(session_id, fallback.classify_retry(str(status.get("message") or "")))
    elif kind == v.SESSION_CREATED:
        parent = _mapping(props.get("info")).get("parentID")
        brain.session_created(session_id, parent if isinstance(parent, str) else None)
    elif kind == v.SESSION_DELETED:
        brain.session_deleted(session_id)
    elif kind == v.SESSION_COMPACTED:
        brain.session_compacted(session_id)
    elif kind == v.SESSION_IDLE:
        brain.session_idle(session_id)
