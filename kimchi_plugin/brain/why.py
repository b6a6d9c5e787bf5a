"""`/why`: the last routed message of each session, kept with what its explanation needs, and the answer built from
it. The answer is the same text `kimchi-plugin explain` prints, since both come from `account` and `render`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kimchi_plugin.lru import Lru
from kimchi_plugin.routing.explanation import (
    ASSUMED_OUTPUT_TOKENS,
    Account,
    TierCost,
    excerpt,
    explain,
    render,
)
from kimchi_plugin.routing.registry import Registry
from kimchi_plugin.routing.router import PROFILE_LABEL, Decision
from kimchi_plugin.routing.tiers import Tier

MAX_SESSIONS = 256
NOTHING_YET = "No message of this session has been routed yet: /why explains the last routed message."
# What the model of a `/why` turn is asked (when OpenCode gives us no way to answer without one).
REPEAT_INSTRUCTION = (
    "Reply with exactly the text between the markers, without the markers, and nothing else. Do not call tools.\n"
    "<<<\n{answer}\n>>>"
)


@dataclass(frozen=True, slots=True)
class Remembered:
    decision: Decision
    text: str
    input_tokens: int
    message_id: str | None


def account(decision: Decision, registry: Registry, text: str, input_tokens: int, *, quote: bool = True) -> Account:
    """Everything `render` prints about `decision`, the other tiers' cost at the same token counts included."""
    output_tokens = ASSUMED_OUTPUT_TOKENS
    costs = []
    for tier in Tier:
        model = decision.model if tier is decision.tier and decision.model is not None else registry.best(tier)
        if model is not None:
            costs.append(TierCost(tier, model.id, model.cost(input_tokens, output_tokens)))
    return Account(
        tier=decision.tier,
        profile=decision.profile,
        mode=PROFILE_LABEL[decision.profile].lower(),
        model_id=decision.model.id if decision.model else None,
        confidence=decision.confidence,
        why=decision.why or explain(decision.source, decision.signals, decision.notes),
        reason=decision.reason,
        costs=tuple(costs),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        output_known=False,
        excerpt=excerpt(text) if quote else "",
        notes=decision.notes,
    )


class AnswerStore(Protocol):
    def keep_answer(self, session: str, at: float, answer: str) -> None: ...
    def answer(self, session: str) -> str | None: ...


class Explainer:
    """The last routed decision per session (bounded); with a store, its answer is also kept for a later process."""

    def __init__(self, store: AnswerStore | None = None) -> None:
        self._last: Lru[str, Remembered] = Lru(MAX_SESSIONS)
        self._store = store

    def note(self, session_id: str, remembered: Remembered, registry: Registry, at: float) -> None:
        self._last.put(session_id, remembered)
        if self._store is not None:
            self._store.keep_answer(session_id, at, render(account(remembered.decision, registry, *_said(remembered))))

    def last(self, session_id: str) -> Remembered | None:
        return self._last.get(session_id)

    def answer(self, session_id: str, registry: Registry) -> str:
        last = self.last(session_id)
        if last is None:
            kept = self._store.answer(session_id) if self._store is not None else None
            return kept or NOTHING_YET
        return render(account(last.decision, registry, *_said(last)))


def _said(remembered: Remembered) -> tuple[str, int]:
    return remembered.text, remembered.input_tokens
