"""The routing decision for one user message: who is in control (the user, the session lock, the model's suggestion,
or the classifiers), which tier and profile that gives, and which concrete model serves it right now (avoiding models
that just failed and windows the conversation no longer fits).

The only `await` is the optional LLM classifier, injected as a callable with its own deadline.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field

from kimchi_plugin.opencode.vocabulary import EXPLORE_AGENT, GENERAL_AGENT
from kimchi_plugin.routing import commands
from kimchi_plugin.routing.classifier import Classification
from kimchi_plugin.routing.conversation import decide
from kimchi_plugin.routing.explanation import Explanation, explain
from kimchi_plugin.routing.registry import VIRTUAL_IDS, Lifecycle, ModelSpec, Registry
from kimchi_plugin.routing.sessions import RoutedTurn, SessionState
from kimchi_plugin.routing.tiers import PROFILE_TIER, TIER_DEFAULT_PROFILE, Profile, Tier

# Share of a model's context window the next request may fill before a larger window is chosen.
UPGRADE_AT = 0.85
# Built-in subagents and the tier their work needs.
SUBAGENT_TIERS: Mapping[str, Tier] = {EXPLORE_AGENT: Tier.QUICK, GENERAL_AGENT: Tier.CODING}
TIER_BY_ID: Mapping[str, Tier] = {tier.value: tier for tier in Tier}
# Where a failing tier looks next: Reasoning work never drops to Quick.
ESCALATION: Mapping[Tier, tuple[Tier, ...]] = {
    Tier.REASONING: (Tier.CODING,),
    Tier.CODING: (Tier.REASONING, Tier.QUICK),
    Tier.QUICK: (Tier.CODING, Tier.REASONING),
}
# The tiers a tier's model is looked for in, in order.
_ORDER: Mapping[Tier, tuple[Tier, ...]] = {tier: (tier, *fallbacks) for tier, fallbacks in ESCALATION.items()}
_NONE: frozenset[str] = frozenset()  # no model failed
# How the toast's reason names the classifier's step that decided.
_SOURCE_WORDS: Mapping[str, str] = {
    "heuristic": "detected",
    "followup": "follow-up",
    "phase": "conversation phase",
    "sticky": "continuing",
    "llm": "classified",
    "learned": "as you corrected",
}
PROFILE_LABEL: Mapping[Profile, str] = {
    Profile.PLANNER: "Planning",
    Profile.DEBUGGER: "Debugging",
    Profile.REVIEWER: "Review",
    Profile.CODER: "Coding",
    Profile.REFACTORER: "Refactoring",
    Profile.ASSISTANT: "Quick answer",
}

LlmClassifier = Callable[[str, str], Awaitable[Tier | None]]
# The user's corrections, consulted on automatic decisions: (message, classification) → a moved one, or None.
Learned = Callable[[str, Classification], Classification | None]


@dataclass(frozen=True, slots=True)
class Policy:
    """The parts of the settings the router reads."""

    floor_primary: bool = True
    llm_threshold: float = 0.5


@dataclass(slots=True)  # one message's facts for one `route` call, never changed (not frozen: see _Choice)
class Request:
    session_id: str
    text: str
    agent: str | None  # the agent that will answer (resolved by OpenCode)
    primary: bool  # whether that agent is a primary agent (floored) or a subagent
    requested: str | None  # model id the message asks for under our provider (None: not ours)
    now: float
    estimated_tokens: int = 0  # size of the request this message will produce


@dataclass(frozen=True, slots=True)
class Decision:
    model: ModelSpec | None  # None: nothing serves this tier; leave OpenCode's choice alone
    tier: Tier
    profile: Profile  # the mode of the work: kept when another tier's model serves it (fallback, upgrade, floor)
    source: (
        str  # pick | tier | command | lock | suggestion | agent | heuristic | followup | phase | sticky | llm | floor
    )
    reason: str  # for people: toasts and logs
    confidence: float
    signals: tuple[str, ...] = ()
    text: str | None = None  # the message without its slash command (None: unchanged)
    notes: tuple[str, ...] = field(default=())  # model substitutions: fallback, larger window
    why: Explanation | None = None  # the deciding step and the signals in words


class Router:
    def __init__(
        self, registry: Registry, policy: Policy, llm: LlmClassifier | None = None, learned: Learned | None = None
    ) -> None:
        self.registry = registry
        self.policy = policy
        self.llm = llm
        self.learned = learned

    async def route(self, req: Request, state: SessionState) -> Decision:
        """Decide the tier, profile and model for one message and record it in `state`."""
        state.agent = req.agent
        command = commands.parse(req.text)
        text = command.rest if command else req.text
        choice = self._given(req, state, command, text)
        if choice is None:
            found = decide(text, state.conversation)
            if found.confidence < self.policy.llm_threshold and self.llm is not None:
                found = await _second_opinion(self.llm, text, state, found)
            choice = self._automatic(req, text, found)
        model, notes = self.pick_model(choice.tier, state, req.now, req.estimated_tokens, prefer=choice.model)
        tier = choice.tier
        if model is not None and choice.source != "pick" and tier not in model.ranks:
            tier = self.registry.primary_tier(model.id)  # an escalation landed in another tier; the mode stays
        decision = Decision(
            model=model,
            tier=tier,
            profile=choice.profile,
            source=choice.source,
            reason=choice.reason,
            confidence=choice.confidence,
            signals=choice.signals,
            text=command.rest if command else None,
            notes=(*choice.notes, *notes),
            why=explain(choice.source, choice.signals, notes),
        )
        state.conversation.note_decision(
            text, Classification(decision.profile, decision.confidence, decision.signals, decision.source)
        )
        if model is not None:
            state.remember(RoutedTurn(model.id, decision.tier, decision.profile, decision.source, decision.reason))
        state.fallback_note = None
        state.overflowed = False
        return decision

    def _given(self, req: Request, state: SessionState, command: commands.Command | None, text: str) -> _Choice | None:
        """The choice the user, the session or the agent made (a pick, a tier, a command, a lock, the model's
        suggestion, a subagent's tier), or None: the classifiers decide."""
        if command is not None and command.kind == "auto":
            state.lock = None
            state.suggestion = None
        elif command is not None and command.kind == "lock":
            state.lock = command.profile
        requested = req.requested
        spec = self.registry.get(requested) if requested and requested not in VIRTUAL_IDS else None
        if spec is not None:
            return self._pick(spec, state, text)
        picked_tier = TIER_BY_ID.get(requested or "")
        if picked_tier is not None:
            found = decide(text, state.conversation)
            profile = found.profile if found.tier is picked_tier else TIER_DEFAULT_PROFILE[picked_tier]
            return _Choice(picked_tier, profile, "tier", f"{picked_tier.value} tier selected", 1.0, found.signals)
        if command is not None and command.kind == "once" and command.profile is not None:
            return _Choice.of(command.profile, "command", f"/{_command_word(command.profile)} for this message")
        if state.lock is not None:
            return _Choice.of(state.lock, "lock", f"locked to {state.lock.value} (/auto to release)")
        if state.suggestion is not None:
            suggested, state.suggestion = state.suggestion, None
            return _Choice.of(
                TIER_DEFAULT_PROFILE[suggested], "suggestion", f"the model asked for the {suggested.value} tier"
            )
        agent_tier = SUBAGENT_TIERS.get(req.agent or "") if not req.primary else None
        if agent_tier is not None:
            return _Choice.of(TIER_DEFAULT_PROFILE[agent_tier], "agent", f"{req.agent} agent")
        return None

    def _automatic(self, req: Request, text: str, found: Classification) -> _Choice:
        """The classifiers' choice, moved by the user's corrections, and the primary-agent floor."""
        if self.learned is not None:
            found = self.learned(text, found) or found
        choice = _Choice(found.tier, found.profile, found.source, _explain(found), found.confidence, found.signals)
        if self.policy.floor_primary and req.primary and choice.tier is Tier.QUICK:
            return _Choice(  # a Coding model serves, in the mode of the question it answers
                Tier.CODING,
                found.profile,
                "floor",
                "primary agents start at the Coding tier",
                found.confidence,
                (f"detected:{found.profile.value}", *found.signals),
            )
        return choice

    def _pick(self, spec: ModelSpec, state: SessionState, text: str) -> _Choice:
        """An explicit model pick. A retired (sunset) model no longer answers: its replacement serves when the user
        has it, else the best of its tier; a deprecated one still serves. Either way the toast names the way out."""
        tier = self.registry.primary_tier(spec.id)
        found = decide(text, state.conversation)
        profile = found.profile if found.tier is tier else TIER_DEFAULT_PROFILE[tier]
        lifecycle = self.registry.lifecycle(spec.id)
        replacement = self.registry.get(spec.replacement) if spec.replacement else None
        if replacement is not None and self.registry.lifecycle(replacement.id) is Lifecycle.SUNSET:
            replacement = None
        if lifecycle is Lifecycle.SUNSET:
            serving = replacement or self.registry.best(tier)
            then = f"{serving.id} serves instead" if serving else "no replacement is available"
            note = f"{spec.id} is retired{_replaced_by(spec)}: {then}"
            return _Choice(tier, profile, "pick", f"your pick: {spec.id}", 1.0, (), serving, (note,))
        notes: tuple[str, ...] = ()
        if lifecycle is Lifecycle.DEPRECATED:
            when = f" (retired on {spec.sunset_at.date().isoformat()})" if spec.sunset_at else ""
            notes = (f"{spec.id} is deprecated{when}{_replaced_by(spec)}",)
        return _Choice(tier, profile, "pick", f"your pick: {spec.id}", 1.0, (), spec, notes)

    def pick_model(
        self, tier: Tier, state: SessionState, now: float, needed_tokens: int, prefer: ModelSpec | None = None
    ) -> tuple[ModelSpec | None, tuple[str, ...]]:
        """The model for `tier` now, with notes for the toast when it is not the obvious one.

        Models that failed recently in this session are skipped: the tier's next best serves, then the tiers of
        ESCALATION. When the next request would fill more than UPGRADE_AT of the chosen window (or the last
        failure was a context overflow), a larger window of the same tier (then ESCALATION's tiers) serves
        instead; an explicit pick (`prefer`) is only replaced when the conversation no longer fits it. A model
        whose window the conversation already exceeds is never chosen while any model still fits.
        """
        failed = {model for model, until in state.failed_until.items() if until > now} if state.failed_until else _NONE
        if state.overflowed and failed:
            largest_failed = max((self._window(model) for model in failed), default=0)
            needed_tokens = max(needed_tokens, largest_failed + 1)
        order = _ORDER[tier]
        notes: list[str] = []
        if prefer is not None and prefer.id not in failed:
            chosen: ModelSpec | None = prefer
        else:
            chosen = self._first_ranked(order, failed)
            usual = (prefer or self._first_ranked(order)) if failed else None  # without failures, chosen is usual
            if chosen is not None and usual is not None and usual.id in failed:
                note = state.fallback_note or ""
                cause = note if note.startswith(usual.id) else f"{usual.id} failed recently"
                notes.append(f"{cause}: {chosen.id} serves instead")
        if chosen is None:
            return None, tuple(notes)
        explicit = prefer is not None and chosen is prefer
        limit = needed_tokens if explicit else needed_tokens / UPGRADE_AT
        if needed_tokens and chosen.context_window < limit:
            bigger = self.registry.with_larger_context(order, limit, failed) or self.registry.with_larger_context(
                order, needed_tokens, failed
            )
            if bigger is not None and bigger.context_window > chosen.context_window:
                notes.append(
                    f"conversation ~{needed_tokens // 1000}K tokens: {chosen.id} ({chosen.context_window // 1000}K) "
                    f"→ {bigger.id} ({bigger.context_window // 1000}K)"
                )
                chosen = bigger
        return chosen, tuple(notes)

    def _first_ranked(self, order: tuple[Tier, ...], skipped: Collection[str] = ()) -> ModelSpec | None:
        """The best ranked model of the first tier in `order` that has one not `skipped`."""
        if not skipped:  # every message without a recent failure: each tier's first, no generator
            for tier in order:
                ranked = self.registry.ranked(tier)
                if ranked:
                    return ranked[0]
            return None
        return next((m for t in order for m in self.registry.ranked(t) if m.id not in skipped), None)

    def _window(self, model_id: str) -> int:
        spec = self.registry.get(model_id)
        return spec.context_window if spec is not None else 0


@dataclass(slots=True)  # lives inside one `route` call: not frozen, whose __init__ costs twice as much per field
class _Choice:
    tier: Tier
    profile: Profile
    source: str
    reason: str
    confidence: float
    signals: tuple[str, ...] = ()
    model: ModelSpec | None = None
    notes: tuple[str, ...] = ()

    @classmethod
    def of(cls, profile: Profile, source: str, reason: str) -> _Choice:
        return cls(PROFILE_TIER[profile], profile, source, reason, 1.0)


async def _second_opinion(llm: LlmClassifier, text: str, state: SessionState, found: Classification) -> Classification:
    """The LLM classifier's tier for a message the classifier is unsure of (its profile kept when it agrees)."""
    tier = await llm(text, state.conversation.last_text)
    if tier is None:
        return found
    profile = found.profile if found.tier is tier else TIER_DEFAULT_PROFILE[tier]
    return Classification(profile, max(found.confidence, 0.7), (f"llm:{tier.value}", *found.signals), "llm")


def _replaced_by(spec: ModelSpec) -> str:
    return f"; its replacement is {spec.replacement}" if spec.replacement else ""


def _command_word(profile: Profile) -> str:
    return next(word for word, p in commands.ONE_SHOT.items() if p is profile)


def _explain(found: Classification) -> str:
    evidence = ", ".join([s[s.find(":") + 1 :] for s in found.signals[:3]]) or "no strong signal"  # after the family
    kind = _SOURCE_WORDS.get(found.source, found.source)
    return f"{kind}: {PROFILE_LABEL[found.profile].lower()} ({evidence}; {found.confidence:.0%})"
