"""One session's running totals: tokens and spend by model, tier and agent, what one model would have cost for all
of it, what cache-aware decisions saved, and code activity. A message's repeated `message.updated` replaces its
previous snapshot, so streaming updates never count twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from kimchi_plugin.usage.payload import AssistantMessage
from kimchi_plugin.usage.prices import ZERO, Baselines, Usage
from kimchi_plugin.usage.tool_effects import ToolEffects

UNROUTED = "unrouted"  # tier/profile label of a message no routing decision is known for
CACHE_TTL_MS = 5 * 60_000  # how long providers keep an unused prompt cache (the common default)
NO_BASELINES = Baselines(None, None, None, None)


@dataclass(frozen=True, slots=True)
class Request:
    """A completed request of the session: what a model serving the next one may hold in its cache."""

    message_id: str
    model: str
    prompt: int
    completed_ms: int | None


def pinned_usage(usage: Usage, model: str, created_ms: int | None, previous: Request | None) -> Usage:
    """The request's tokens as a model that served the whole session would have billed them.

    Where the serving model changed, the new one had no cache for the conversation; a model kept throughout would
    have read the previous request's prompt (the prefix of this one) from its cache. Everything else — requests on
    the same model, a shrunk context (compaction), a pause longer than a cache lives — is taken as it was billed.
    """
    if previous is None or previous.model == model or usage.prompt < previous.prompt:
        return usage
    paused_ms = created_ms - previous.completed_ms if created_ms and previous.completed_ms else 0
    if paused_ms > CACHE_TTL_MS:
        return usage
    extra = max(previous.prompt - usage.cache_read, 0)  # at most input + cache writes, since prompt >= previous
    from_writes = min(extra, usage.cache_write)
    return replace(
        usage,
        input=usage.input - (extra - from_writes),
        cache_read=usage.cache_read + extra,
        cache_write=usage.cache_write - from_writes,
    )


@dataclass(slots=True)
class _Snapshot:
    usage: Usage
    model: str
    tier: str
    agent: str
    base: Baselines
    cache_saved: float


@dataclass(slots=True)
class SessionLedger:
    """One session's totals. A message's repeated update replaces its previous snapshot, so nothing counts twice.

    Baseline sums cover the messages whose baseline price was known (`*_priced` of them)."""

    session_id: str
    total: Usage = ZERO
    by_model: dict[str, Usage] = field(default_factory=dict)
    by_tier: dict[str, Usage] = field(default_factory=dict)
    by_agent: dict[str, Usage] = field(default_factory=dict)
    messages_by_model: dict[str, int] = field(default_factory=dict)
    messages_by_tier: dict[str, int] = field(default_factory=dict)
    baseline_usd: dict[str, float] = field(default_factory=dict)  # reasoning | coding → USD
    baseline_spent: dict[str, float] = field(default_factory=dict)  # what the same messages actually cost
    baseline_model: dict[str, str] = field(default_factory=dict)
    cache_saved: float = 0.0
    kept_warm: int = 0  # messages whose routing decision kept a warm cache
    commits: int = 0
    pull_requests: int = 0
    lines_added: int = 0
    lines_removed: int = 0
    _snapshots: dict[str, _Snapshot] = field(default_factory=dict)
    _last: Request | None = None
    _before_last: Request | None = None

    @property
    def messages(self) -> int:
        return len(self._snapshots)

    def predecessor(self, message_id: str) -> Request | None:
        """The completed request before this message (stable across the message's repeated updates)."""
        if self._last is not None and self._last.message_id == message_id:
            return self._before_last
        return self._last

    def note_completed(self, message: AssistantMessage, usage: Usage) -> None:
        if self._last is None or self._last.message_id != message.id:
            self._before_last = self._last
        self._last = Request(message.id, message.model, usage.prompt, message.completed_ms)

    def apply(
        self,
        message: AssistantMessage,
        usage: Usage,
        tier: str | None,
        base: Baselines = NO_BASELINES,
        cache_saved: float = 0.0,
    ) -> Usage:
        """Record `usage` (cost already settled) as the message's latest snapshot; return the change in totals."""
        return self.put(message.id, usage, message.model, tier, message.agent, base, cache_saved)

    def put(
        self,
        message_id: str,
        usage: Usage,
        model: str,
        tier: str | None,
        agent: str | None,
        base: Baselines = NO_BASELINES,
        cache_saved: float = 0.0,
    ) -> Usage:
        """Set one message's snapshot, replacing an earlier one of the same id; return the change in totals."""
        snapshot = _Snapshot(usage, model, tier or UNROUTED, agent or "unknown", base, cache_saved)
        previous = self._snapshots.get(message_id)
        if previous is not None:
            self._move(previous, -1)
        self._snapshots[message_id] = snapshot
        self._move(snapshot, +1)
        return usage - previous.usage if previous is not None else usage

    def merge(self, other: SessionLedger) -> None:
        """Take in another ledger's messages (its snapshots win for shared ids) and code activity."""
        for message_id, snap in other._snapshots.items():
            self.put(message_id, snap.usage, snap.model, snap.tier, snap.agent, snap.base, snap.cache_saved)
        self.commits += other.commits
        self.pull_requests += other.pull_requests
        self.lines_added += other.lines_added
        self.lines_removed += other.lines_removed

    def _move(self, snap: _Snapshot, sign: int) -> None:
        signed = snap.usage if sign > 0 else ZERO - snap.usage
        self.total = self.total + signed
        for table, key in ((self.by_model, snap.model), (self.by_tier, snap.tier), (self.by_agent, snap.agent)):
            table[key] = table.get(key, ZERO) + signed
        for counts, key in ((self.messages_by_model, snap.model), (self.messages_by_tier, snap.tier)):
            counts[key] = counts.get(key, 0) + sign
            if counts[key] == 0:
                del counts[key]
        base = snap.base
        for kind, model, cost in (
            ("reasoning", base.reasoning_model, base.reasoning_cost),
            ("coding", base.coding_model, base.coding_cost),
        ):
            if model is not None and cost is not None:
                self.baseline_usd[kind] = self.baseline_usd.get(kind, 0.0) + sign * cost
                self.baseline_spent[kind] = self.baseline_spent.get(kind, 0.0) + sign * snap.usage.cost
                if sign > 0:
                    self.baseline_model[kind] = model
        if snap.cache_saved > 0:
            self.cache_saved += sign * snap.cache_saved
            self.kept_warm += sign

    def apply_tool(self, effects: ToolEffects) -> None:
        self.commits += effects.commits
        self.pull_requests += effects.pull_requests
        for edit in effects.edits:
            self.lines_added += edit.added
            self.lines_removed += edit.removed
