"""Model fallback: which failures make the next turn avoid the model that failed, and for how long.

OpenCode reports a failed request as a `session.error` event (and an errored assistant `message.updated`); for
rate limits and server errors it retries the same model itself and only reports `session.status` "retry". Auth
errors and user aborts are the user's business, never a reason to switch models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kimchi_plugin.routing.sessions import SessionState

RATE_LIMIT_AVOID_S = 120.0  # a 429 usually clears within minutes
UNAVAILABLE_AVOID_S = 600.0  # 5xx, model not found, timeouts, context overflow
NEVER = frozenset({"ProviderAuthError", "MessageAbortedError", "MessageOutputLengthError"})
AUTH_STATUSES = frozenset({401, 403})
_OVERFLOW_WORDS = (
    "context length",
    "context_length",
    "maximum context",
    "too many tokens",
    "context window",
    "prompt is too long",
)
_AUTH_WORDS = ("unauthorized", "invalid api key", "forbidden")
_RATE_WORDS = ("rate limit", "rate_limit", "too many requests", "429")
_WHAT = {"rate-limit": "was rate limited", "overflow": "ran out of context", "unavailable": "failed"}


@dataclass(frozen=True, slots=True)
class Failure:
    kind: str  # "rate-limit" | "overflow" | "unavailable"
    avoid_s: float
    status: int | None


def _from_message(message: str, status: int | None) -> Failure | None:
    text = message.lower()
    if status in AUTH_STATUSES or any(word in text for word in _AUTH_WORDS):
        return None
    if any(word in text for word in _OVERFLOW_WORDS):
        return Failure("overflow", UNAVAILABLE_AVOID_S, status)
    if status == 429 or any(word in text for word in _RATE_WORDS):
        return Failure("rate-limit", RATE_LIMIT_AVOID_S, status)
    if status is not None and 400 <= status < 500 and status not in (404, 408) and "model" not in text:
        return None  # a malformed request fails the same way on any model
    return Failure("unavailable", UNAVAILABLE_AVOID_S, status)


def classify_error(error: Mapping[str, Any] | None) -> Failure | None:
    """The kind of a failed request (`session.error` / errored message), or None when switching would not help."""
    if not isinstance(error, Mapping):
        return None
    name = error.get("name")
    if not isinstance(name, str) or not name or name in NEVER:
        return None
    raw = error.get("data")
    data: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    code = data.get("statusCode")
    status = code if isinstance(code, int) else None
    if name == "ContextOverflowError":
        return Failure("overflow", UNAVAILABLE_AVOID_S, status)
    return _from_message(str(data.get("message") or ""), status)


def classify_retry(message: str) -> Failure | None:
    """The kind of failure behind OpenCode's own retry (`session.status` type "retry"): OpenCode retries only
    rate limits, overloads and server errors, so anything not recognisable is an outage."""
    return _from_message(message, None)


def describe(model_id: str, failure: Failure) -> str:
    status = f" ({failure.status})" if failure.status else ""
    return f"{model_id} {_WHAT[failure.kind]}{status}"


def note_failure(state: SessionState, model_id: str, failure: Failure, now: float) -> bool:
    """Remember that `model_id` failed in this session. False when this failure was already known (OpenCode reports
    one failure several times: retry statuses, `session.error`, the errored message)."""
    known = state.failed_until.get(model_id, 0.0) > now and state.fallback_note is not None
    state.failed_until[model_id] = max(state.failed_until.get(model_id, 0.0), now + failure.avoid_s)
    state.overflowed = state.overflowed or failure.kind == "overflow"
    state.fallback_note = describe(model_id, failure)
    return not known


def note_success(state: SessionState, model_id: str) -> None:
    """A finished answer from `model_id`: it is healthy again in this session."""
    state.failed_until.pop(model_id, None)
