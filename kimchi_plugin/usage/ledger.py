"""One session's running totals: tokens and spend by model, tier and agent, and code activity. A message's repeated
`message.updated` replaces its previous snapshot, so streaming updates never count twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kimchi_plugin.usage.payload import AssistantMessage
from kimchi_plugin.usage.prices import ZERO, Baselines, Prices, Usage, baselines
from kimchi_plugin.usage.tool_effects import ToolEffects

UNROUTED = "unrouted"  # tier/profile label of a message no routing decision is known for


@dataclass(slots=True)
class _Snapshot:
    usage: Usage
    model: str
    tier: str
    agent: str


@dataclass(slots=True)
class SessionLedger:
    """One session's totals. A message's repeated update replaces its previous snapshot, so nothing counts twice."""

    session_id: str
    total: Usage = ZERO
    by_model: dict[str, Usage] = field(default_factory=dict)
    by_tier: dict[str, Usage] = field(default_factory=dict)
    by_agent: dict[str, Usage] = field(default_factory=dict)
    messages_by_model: dict[str, int] = field(default_factory=dict)
    messages_by_tier: dict[str, int] = field(default_factory=dict)
    commits: int = 0
    pull_requests: int = 0
    lines_added: int = 0
    lines_removed: int = 0
    _snapshots: dict[str, _Snapshot] = field(default_factory=dict)

    @property
    def messages(self) -> int:
        return len(self._snapshots)

    def apply(self, message: AssistantMessage, usage: Usage, tier: str | None) -> Usage:
        """Record `usage` (cost already settled) as the message's latest snapshot; return the change in totals."""
        return self.put(message.id, usage, message.model, tier, message.agent)

    def put(self, message_id: str, usage: Usage, model: str, tier: str | None, agent: str | None) -> Usage:
        """Set one message's snapshot, replacing an earlier one of the same id; return the change in totals."""
        snapshot = _Snapshot(usage, model, tier or UNROUTED, agent or "unknown")
        previous = self._snapshots.get(message_id)
        if previous is not None:
            self._move(previous, -1)
        self._snapshots[message_id] = snapshot
        self._move(snapshot, +1)
        return usage - previous.usage if previous is not None else usage

    def merge(self, other: SessionLedger) -> None:
        """Take in another ledger's messages (its snapshots win for shared ids) and code activity."""
        for message_id, snap in other._snapshots.items():
            self.put(message_id, snap.usage, snap.model, snap.tier, snap.agent)
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

    def apply_tool(self, effects: ToolEffects) -> None:
        self.commits += effects.commits
        self.pull_requests += effects.pull_requests
        for edit in effects.edits:
            self.lines_added += edit.added
            self.lines_removed += edit.removed

    def baselines(self, prices: Prices) -> Baselines:
        return baselines(self.total, prices)
