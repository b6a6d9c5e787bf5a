"""Slash commands typed at the start of a message: one-shot overrides, `/lock`, and `/auto`.

OpenCode's `run` passes "/plan ..." through as text, and the TUI expands the commands we register (template
"/<name> $ARGUMENTS") back to the same text, so one parser serves both. The command word is stripped before the model
sees the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kimchi_plugin.routing.tiers import Profile, Tier

ONE_SHOT: dict[str, Profile] = {
    "plan": Profile.PLANNER,
    "debug": Profile.DEBUGGER,
    "review": Profile.REVIEWER,
    "code": Profile.CODER,
    "refactor": Profile.REFACTORER,
    "quick": Profile.ASSISTANT,
}

# `/lock <arg>` accepts a profile, its short command name, or a tier (which locks the tier's default profile).
LOCK_ARGS: dict[str, Profile] = {
    **ONE_SHOT,
    **{p.value: p for p in Profile},
    Tier.REASONING.value: Profile.PLANNER,
    Tier.CODING.value: Profile.CODER,
    "assistant": Profile.ASSISTANT,
}

# Commands registered with OpenCode so they show up in the TUI. `review` is left out: it is OpenCode's own command.
REGISTERED: dict[str, str] = {
    "plan": "Route this message to the Reasoning tier in planning mode",
    "debug": "Route this message to the Reasoning tier in debugging mode",
    "code": "Route this message to the Coding tier",
    "refactor": "Route this message to the Coding tier in refactoring mode",
    "quick": "Route this message to the Quick tier",
    "lock": "Lock routing to a mode or tier until /auto (e.g. /lock reasoning)",
    "auto": "Clear every routing lock and return to automatic routing",
    "budget": "Show or change this session's spend limits (e.g. /budget 5, /budget day 20, /budget off)",
    "why": "Explain how the last message was routed: tier, mode, model, deciding step, signals, cost by tier",
}

_COMMAND = re.compile(r"^\s*/(plan|debug|review|code|refactor|quick|lock|auto)\b[ \t]*", re.IGNORECASE)
_LOCK_ARG = re.compile(r"^([A-Za-z]+)\b[ \t]*")


@dataclass(frozen=True, slots=True)
class Command:
    kind: str  # "once" | "lock" | "auto"
    profile: Profile | None
    rest: str  # the message without the command (what the model should see)


def parse(text: str) -> Command | None:
    """The slash command at the start of `text`, or None (unknown commands and bad `/lock` args are plain text)."""
    found = _COMMAND.match(text)
    if not found:
        return None
    name = found.group(1).lower()
    rest = text[found.end() :]
    if name == "auto":
        return Command("auto", None, rest.strip())
    if name == "lock":
        arg = _LOCK_ARG.match(rest)
        profile = LOCK_ARGS.get(arg.group(1).lower()) if arg else None
        if arg is None or profile is None:
            return None
        return Command("lock", profile, rest[arg.end() :].strip())
    return Command("once", ONE_SHOT[name], rest.strip())
