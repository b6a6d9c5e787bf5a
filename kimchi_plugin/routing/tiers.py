"""Tiers and profiles: the vocabulary every routing decision is expressed in."""

from __future__ import annotations

from enum import Enum


class Tier(str, Enum):
    """A class of models, ordered from most capable (and costly) to cheapest."""

    REASONING = "reasoning"
    CODING = "coding"
    QUICK = "quick"


class Profile(str, Enum):
    """A working mode inside a tier: it picks the system prompt and temperature."""

    PLANNER = "planner"
    DEBUGGER = "debugger"
    REVIEWER = "reviewer"
    CODER = "coder"
    REFACTORER = "refactorer"
    ASSISTANT = "assistant"


PROFILE_TIER: dict[Profile, Tier] = {
    Profile.PLANNER: Tier.REASONING,
    Profile.DEBUGGER: Tier.REASONING,
    Profile.REVIEWER: Tier.REASONING,
    Profile.CODER: Tier.CODING,
    Profile.REFACTORER: Tier.CODING,
    Profile.ASSISTANT: Tier.QUICK,
}

# The profile a bare tier choice (a tier pick, a model's suggestion, the LLM classifier) stands for.
TIER_DEFAULT_PROFILE: dict[Tier, Profile] = {
    Tier.REASONING: Profile.PLANNER,
    Tier.CODING: Profile.CODER,
    Tier.QUICK: Profile.ASSISTANT,
}

# Rank of tiers by capability: a lower index is never cheaper to run.
TIER_ORDER: tuple[Tier, ...] = (Tier.REASONING, Tier.CODING, Tier.QUICK)
