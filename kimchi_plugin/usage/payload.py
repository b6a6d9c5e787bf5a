"""Reading OpenCode's event payloads for accounting: the assistant message of a `message.updated` event, and the
tolerant field readers every usage parser shares (events come from another process: any field may be missing,
mistyped or negative).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kimchi_plugin.usage.prices import Usage


def as_count(value: Any) -> int:
    """A non-negative integer count; anything that is not a finite number counts as 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return 0
    return max(int(value), 0)


def as_amount(value: Any) -> float:
    """A non-negative USD amount; NaN, infinities and non-numbers count as 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return 0.0
    return max(float(value), 0.0)


def as_text(value: Any) -> str | None:
    """A non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True, slots=True)
class AssistantMessage:
    """The parts of an assistant `message.updated` info that accounting reads (never its content)."""

    id: str
    session_id: str
    model: str
    provider: str
    agent: str | None
    usage: Usage
    created_ms: int | None
    completed_ms: int | None
    finish: str | None
    error: str | None

    @property
    def completed(self) -> bool:
        return self.completed_ms is not None

    @property
    def duration_ms(self) -> int | None:
        if self.completed_ms is None or self.created_ms is None:
            return None
        return max(self.completed_ms - self.created_ms, 0)


def parse_assistant(info: Mapping[str, Any]) -> AssistantMessage | None:
    """Read an assistant message info; None when it is not one or lacks its ids. Negative numbers count as 0."""
    if info.get("role") != "assistant":
        return None
    message_id, session_id = as_text(info.get("id")), as_text(info.get("sessionID"))
    if message_id is None or session_id is None:
        return None
    tokens = _mapping(info.get("tokens"))
    cache = _mapping(tokens.get("cache"))
    times = _mapping(info.get("time"))
    error = info.get("error")
    error_name = None
    if isinstance(error, Mapping):
        error_name = as_text(error.get("name")) or "error"
    elif error:
        error_name = "error"
    created, completed = times.get("created"), times.get("completed")
    return AssistantMessage(
        id=message_id,
        session_id=session_id,
        model=as_text(info.get("modelID")) or "unknown",
        provider=as_text(info.get("providerID")) or "unknown",
        agent=as_text(info.get("agent")) or as_text(info.get("mode")),
        usage=Usage(
            as_count(tokens.get("input")),
            as_count(tokens.get("output")),
            as_count(tokens.get("reasoning")),
            as_count(cache.get("read")),
            as_count(cache.get("write")),
            as_amount(info.get("cost")),
        ),
        created_ms=as_count(created) if created is not None else None,
        completed_ms=as_count(completed) if completed is not None else None,
        finish=as_text(info.get("finish")),
        error=error_name,
    )
