"""Model fallback: which failures make the next turn avoid the model that failed, and for how long.

OpenCode reports a failed request as a `session.error` event (and an errored assistant `message.updated`). Auth
errors and user aborts are the user's business, never a reason to switch models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from kimchi_plugin.brain.sessions import SessionState

RATE_LIMIT_AVOID_S = 120.0  # a 429 usually clears within minutes
UNAVAILABLE_AVOID_S = 600.0  # 5xx, model not found, timeouts
NEVER = frozenset({"ProviderAuthError", "MessageAbortedError", "MessageOutputLengthError"})
_OVERFLOW_WORDS = ("context length", "context_length", "maximum context", "too many tokens", "context window", "prompt is too long")


@dataclass(frozen=True, slots=True)
class Failure:
    kind: str  # "rate-limit" | "overflow" | "unavailable"
    avoid_s: float
    status: int | None


def classify_error(error: Mapping[str, Any] | None) -> Failure | None:
    """The kind of a request failure, or None when switching models would not help."""
    if not isinstance(error, Mapping):
        return None
    name = str(error.get("name") or "")
    if name in NEVER:
        return None
    data = error.get("data") if isinstance(error.get("data"), Mapping) else {}
    status = data.get("statusCode")
    status = status if isinstance(status, int) else None
    message = str(data.get("message") or "").lower()
    if status in (401, 403) or "unauthorized" in message or "invalid api key" in message:
        return None
    if name == "ContextOverflowError" or any(word in message for word in _OVERFLOW_WORDS):
        return Failure("overflow", UNAVAILABLE_AVOID_S, status)
    if status == 429 or "rate limit" in message:
        return Failure("rate-limit", RATE_LIMIT_AVOID_S, status)
    if status == 400 and "model" not in message:
        return None  # a malformed request fails the same way on any model
    return Failure("unavailable", UNAVAILABLE_AVOID_S, status)


def note_failure(state: SessionState, model_id: str, failure: Failure, now: float) -> str:
    """Remember that `model_id` failed in this session; returns the sentence the next toast shows."""
    state.failed_until[model_id] = now + failure.avoid_s
    state.overflowed = failure.kind == "overflow"
    what = {"rate-limit": "was rate limited", "overflow": "ran out of context", "unavailable": "failed"}[failure.kind]
    status = f" ({failure.status})" if failure.status else ""
    note = f"{model_id} {what}{status}; the next message uses another model"
    state.fallback_note = note
    return note


def note_success(state: SessionState, model_id: str) -> None:
    """A finished answer from `model_id`: it is healthy again in this session."""
    state.failed_until.pop(model_id, None)
