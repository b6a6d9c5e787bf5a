"""When to compact a session: once the next request would fill COMPACT_AT of the serving model's window, ask
OpenCode to summarise the session (with a cooldown), and say what the summary must keep."""

from __future__ import annotations

from kimchi_plugin.routing.sessions import SessionState

COMPACT_AT = 0.78  # share of the context window at which compaction is requested
COMPACT_COOLDOWN_S = 120.0  # at most one request per session in this interval
RECENT_DECISIONS = 8
RECENT_ERRORS = 3
MAX_READ_FILES = 20
CONTEXT_HEADER = "Routing state to carry into the summary (keep these facts):"
# Tokens of a request that the transcript does not show: OpenCode's system prompt and tool definitions.
REQUEST_OVERHEAD_TOKENS = 6000


def request_tokens(state: SessionState, overhead: int = REQUEST_OVERHEAD_TOKENS, new_tokens: int = 0) -> int:
    """Best estimate of the next request's size, the one formula for routing and compaction: the counted
    transcript plus the overhead it does not show, or the last reported usage (which includes that overhead),
    whichever is larger, plus the message about to be sent."""
    counted = state.transcript_tokens + new_tokens
    return max(counted + overhead if counted else 0, state.reported_tokens + new_tokens)


def should_compact(state: SessionState, window: int, tokens: int, now: float) -> bool:
    """Due once the next request fills COMPACT_AT of `window`, at most once per COMPACT_COOLDOWN_S."""
    if window <= 0 or tokens < COMPACT_AT * window:
        return False
    last = state.compaction_requested_at
    return last is None or now - last >= COMPACT_COOLDOWN_S


def compaction_note(tokens: int, window: int, model_id: str) -> str:
    return (
        f"~{tokens // 1000}K of {model_id}'s {window // 1000}K window ({tokens / window:.0%}): compacting the session"
    )


def preserved_context(state: SessionState, tokens: int = 0) -> list[str]:
    """Lines for `experimental.session.compacting` (its `context`: OpenCode 1.18 drops `context` when a plugin sets
    `prompt`, so the prompt is left alone): the routing state the summary must carry over."""
    lines: list[str] = [CONTEXT_HEADER]
    last = state.last
    if last is not None:
        lines.append(f"[Routing] Active mode: {last.profile.value} ({last.tier.value} tier, model {last.model_id}).")
    if state.history:
        recent = list(state.history)[-RECENT_DECISIONS:]
        lines.append("[Routing] Recent decisions: " + " → ".join(f"{t.profile.value}@{t.model_id}" for t in recent))
    if state.lock is not None:
        lines.append(f"[Routing] The user locked routing to {state.lock.value} (until /auto).")
    if len(state.files_modified):
        lines.append("[Files modified] " + ", ".join(state.files_modified))
    read_only = [f for f in state.files_read if f not in state.files_modified]
    if read_only:
        more = f" (+{len(read_only) - MAX_READ_FILES} more)" if len(read_only) > MAX_READ_FILES else ""
        lines.append("[Files read] " + ", ".join(read_only[:MAX_READ_FILES]) + more)
    if state.edits or state.reads or state.errors:
        lines.append(f"[Tool activity] {state.edits} edits, {state.reads} reads, {state.errors} errors.")
    if state.recent_errors:
        lines.append("[Recent errors] " + " | ".join(list(state.recent_errors)[-RECENT_ERRORS:]))
    if state.direct_calls or state.delegations:
        lines.append(f"[Delegation] {state.direct_calls} direct tool calls, {state.delegations} delegations.")
    if tokens:
        lines.append(f"[Context] ~{tokens // 1000}K tokens before this summary.")
    return lines if len(lines) > 1 else []
