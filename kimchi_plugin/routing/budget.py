"""Spend limits: a per-session and a per-day limit in USD (options `sessionBudget`, `dailyBudget`; `/budget` changes
them for one session). At 80 % of a limit the user is told once; past it, automatic routing decisions step down one
tier (the user's explicit picks never do).

Pure: spend figures, the day key and the current time are arguments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

from kimchi_plugin.routing.tiers import Tier

WARN_SHARE = 0.8
STEP_DOWN: dict[Tier, Tier] = {Tier.REASONING: Tier.CODING, Tier.CODING: Tier.QUICK}
SESSION, DAY = "session", "day"
_COMMAND = re.compile(r"^\s*/budget\b[ \t]*(.*)$", re.IGNORECASE | re.DOTALL)
_ARGS = re.compile(r"^(?:(session|day|daily)\s+)?(off|none|\$?\d+(?:\.\d+)?)\s*$", re.IGNORECASE)
USAGE = "/budget [session|day] <USD|off>, e.g. /budget 5, /budget day 20, /budget off"


class Level(IntEnum):
    UNDER = 0
    WARN = 1  # from WARN_SHARE of the limit
    OVER = 2  # the limit reached


@dataclass(frozen=True, slots=True)
class Limits:
    """USD limits; None: no limit."""

    session: float | None = None
    day: float | None = None


@dataclass(frozen=True, slots=True)
class BudgetCommand:
    """`/budget` with no argument shows the limits; otherwise it sets `scope`'s limit (None: off)."""

    scope: str | None  # SESSION | DAY | None (show)
    limit: float | None
    valid: bool = True  # False: the arguments were not understood (the usage line is shown)


def parse_command(text: str) -> BudgetCommand | None:
    """The `/budget` command at the start of `text`, or None when the message is not one."""
    found = _COMMAND.match(text)
    if found is None:
        return None
    args = found.group(1).strip()
    if not args:
        return BudgetCommand(None, None)
    parsed = _ARGS.match(args)
    if parsed is None:
        return BudgetCommand(None, None, valid=False)
    scope = DAY if (parsed.group(1) or "").lower() in ("day", "daily") else SESSION
    amount = parsed.group(2).lower().lstrip("$")
    limit = None if amount in ("off", "none") else float(amount)
    return BudgetCommand(scope, limit if limit else None)


def level(spent: float, limit: float | None) -> Level:
    if limit is None or limit <= 0:
        return Level.UNDER
    if spent >= limit:
        return Level.OVER
    return Level.WARN if spent >= WARN_SHARE * limit else Level.UNDER


@dataclass(slots=True)
class SessionBudget:
    """A session's own limits (set with /budget; None: the option's) and the levels it was already told about."""

    session_limit: float | None = None
    day_limit: float | None = None
    overridden: frozenset[str] = frozenset()
    told: tuple[Level, Level] = (Level.UNDER, Level.UNDER)  # (session, day)

    def limits(self, defaults: Limits) -> Limits:
        return Limits(
            self.session_limit if SESSION in self.overridden else defaults.session,
            self.day_limit if DAY in self.overridden else defaults.day,
        )

    def apply(self, command: BudgetCommand) -> None:
        if command.scope == SESSION:
            self.session_limit = command.limit
        elif command.scope == DAY:
            self.day_limit = command.limit
        else:
            return
        self.overridden |= {command.scope}
        self.told = (Level.UNDER, Level.UNDER)  # a new limit is told about afresh

    def crossed(self, limits: Limits, session_spent: float, day_spent: float) -> list[tuple[str, Level]]:
        """Limits whose level rose since last told: (scope, new level), each said once."""
        now = (level(session_spent, limits.session), level(day_spent, limits.day))
        news = [(scope, lvl) for scope, lvl, was in zip((SESSION, DAY), now, self.told) if lvl > was]
        self.told = (max(now[0], self.told[0]), max(now[1], self.told[1]))
        return news


def over(limits: Limits, session_spent: float, day_spent: float) -> str | None:
    """Which limit is reached (for the step-down note), or None."""
    if level(session_spent, limits.session) is Level.OVER:
        return SESSION
    if level(day_spent, limits.day) is Level.OVER:
        return DAY
    return None


def step_down(tier: Tier) -> Tier | None:
    """The next cheaper tier, or None at the cheapest."""
    return STEP_DOWN.get(tier)


def usd(amount: float) -> str:
    return f"${amount:.2f}"


def describe(limits: Limits, session_spent: float, day_spent: float) -> str:
    """One line per limit: spent, limit, share."""
    lines = []
    for name, spent, limit in (("this session", session_spent, limits.session), ("today", day_spent, limits.day)):
        if limit is None:
            lines.append(f"{name}: {usd(spent)} spent, no limit")
        else:
            lines.append(f"{name}: {usd(spent)} of {usd(limit)} ({spent / limit:.0%})")
    return "\n".join(lines)


def crossing_note(scope: str, lvl: Level, limits: Limits, spent: float) -> str:
    limit = limits.session if scope == SESSION else limits.day
    name = "this session's" if scope == SESSION else "today's"
    shown = usd(limit) if limit is not None else "-"
    if lvl is Level.OVER:
        return f"{name} budget of {shown} is spent ({usd(spent)}): automatic routing steps down a tier"
    return f"{WARN_SHARE:.0%} of {name} budget of {shown} spent ({usd(spent)})"


@dataclass(slots=True)
class DaySpend:
    """Spend of the current day (its key given by the caller: the local date), reset when the day changes."""

    day: str = ""
    usd: float = 0.0

    def add(self, day: str, amount: float) -> None:
        if day != self.day:
            self.day, self.usd = day, 0.0
        self.usd += max(amount, 0.0)

    def spent(self, day: str) -> float:
        return self.usd if day == self.day else 0.0
