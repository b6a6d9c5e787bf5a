"""`/why`: the last routed message of each session, kept with what its explanation needs, and the answer built from
it when asked. The answer is the same text `kimchi-plugin explain` prints, since both come from `account` and `render`.

A store keeps each session's answer for a later process (`opencode run -c`); it is rendered and written after the
reply, a moment later and in one transaction for every session routed meanwhile, and at `close`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
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
SAVE_DELAY_S = 0.05  # from a routed message to its answer's write: past the reply, short of the turn's end
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
    def keep_answers(self, answers: Iterable[tuple[str, float, str]]) -> None: ...
    def answer(self, session: str) -> str | None: ...


class Explainer:
    """The last routed decision per session (bounded); with a store, its answer is also kept for a later process."""

    def __init__(self, store: AnswerStore | None = None) -> None:
        self._last: Lru[str, Remembered] = Lru(MAX_SESSIONS)
        self._store = store
        self._unsaved: dict[str, tuple[float, Remembered, Registry]] = {}
        self._saving_on: asyncio.AbstractEventLoop | None = None  # the loop a save is scheduled on

    def note(self, session_id: str, remembered: Remembered, registry: Registry, at: float) -> None:
        """Remember the decision; its answer is rendered only when asked, or when it is saved after the reply."""
        self._last.put(session_id, remembered)
        if self._store is None:
            return
        self._unsaved[session_id] = (at, remembered, registry)
        if self._saving_on is not None and self._saving_on.is_running():
            return  # a save is due on the running loop (asking for the running loop costs a system call on 3.11)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a synchronous caller: nothing runs after it
            self.save()
            return
        if self._saving_on is not loop:  # none scheduled, or on a loop that has ended (its timer never ran)
            self._saving_on = loop
            loop.call_later(SAVE_DELAY_S, self.save)

    def save(self) -> None:
        """Write the answers of the sessions routed since the last save (also called when the brain closes)."""
        self._saving_on = None
        if not self._unsaved or self._store is None:
            return
        unsaved, self._unsaved = self._unsaved, {}
        self._store.keep_answers(
            (session, at, render(account(remembered.decision, registry, *_said(remembered))))
            for session, (at, remembered, registry) in unsaved.items()
        )

    def last(self, session_id: str) -> Remembered | None:
        return self._last.get(session_id)

    def answer(self, session_id: str, registry: Registry) -> str:
        unsaved = self._unsaved.get(session_id)
        last = self.last(session_id) or (unsaved[1] if unsaved is not None else None)
        if last is None:
            kept = self._store.answer(session_id) if self._store is not None else None
            return kept or NOTHING_YET
        return render(account(last.decision, registry, *_said(last)))


def _said(remembered: Remembered) -> tuple[str, int]:
    return remembered.text, remembered.input_tokens
