"""Delegation reminders for the orchestrator: when the primary agent does the work itself instead of handing it to
subagents, remind it — first after a few direct calls, then again while the pattern continues (never just once)."""

from __future__ import annotations

from dataclasses import dataclass

from kimchi_plugin.opencode.vocabulary import DELEGATION_TOOL, EDIT_TOOLS, READ_TOOLS, RUN_TOOLS
from kimchi_plugin.routing.sessions import SessionState

# Tools that do the work directly instead of handing it to a subagent.
DIRECT_TOOLS = EDIT_TOOLS | READ_TOOLS | RUN_TOOLS


@dataclass(frozen=True, slots=True)
class ReminderPolicy:
    first_after: int = 4  # direct calls with no delegation before the first reminder
    repeat_every: int = 6  # further direct calls before the next one
    ratio: float = 3.0  # direct calls per delegation above which the agent counts as doing the work itself


DEFAULT_POLICY = ReminderPolicy()

REMINDER = (
    "[delegation] You have made {direct} direct tool calls and {delegated} delegations in this session. "
    "As orchestrator, hand exploration to @explore and implementation to @general with the task tool "
    "(description, subagent_type, prompt). Act directly only for trivial single-file changes."
)


def note_tool(state: SessionState, tool: str) -> None:
    name = tool.lower()
    if name == DELEGATION_TOOL:
        state.delegations += 1
        state.direct_since_reminder = 0
    elif name in DIRECT_TOOLS:
        state.direct_calls += 1
        state.direct_since_reminder += 1


def reminder(state: SessionState, policy: ReminderPolicy = DEFAULT_POLICY) -> str | None:
    """The reminder to add now, or None. Marks it as given."""
    doing_it_alone = state.direct_calls > policy.ratio * state.delegations
    due = state.direct_since_reminder >= (policy.first_after if state.reminders == 0 else policy.repeat_every)
    if not (doing_it_alone and due):
        return None
    state.reminders += 1
    state.direct_since_reminder = 0
    return REMINDER.format(direct=state.direct_calls, delegated=state.delegations)


def system_nudge(state: SessionState, policy: ReminderPolicy = DEFAULT_POLICY) -> str | None:
    """A standing line for the system prompt while the agent keeps doing the work itself (does not count as a
    reminder given)."""
    if state.direct_calls >= policy.first_after and state.direct_calls > policy.ratio * state.delegations:
        return REMINDER.format(direct=state.direct_calls, delegated=state.delegations)
    return None
