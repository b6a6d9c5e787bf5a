"""The Brain's memory of the user's corrections: notices them after each decision, stores them (when a store is
given) under the chosen scope, and moves later automatic decisions as `routing.corrections` allows. A store another
process changed (`kimchi-plugin learn --reset`) is re-read before the next decision once RECHECK_S has passed."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from kimchi_plugin.brain.corrections_store import GLOBAL_SCOPE, MAX_PER_SCOPE, CorrectionStore
from kimchi_plugin.lru import Lru
from kimchi_plugin.routing import corrections
from kimchi_plugin.routing.classifier import Classification
from kimchi_plugin.routing.corrections import ACCEPTED, AUTOMATIC, AutoTurn, Correction
from kimchi_plugin.routing.router import Decision

log = structlog.get_logger("kimchi.learning")

MAX_SESSIONS = 256
RECHECK_S = 0.5  # how long the store is trusted unchanged by other processes (a check is a query per message)


def scope_of(directory: str, scope_option: str) -> str:
    """The store's scope: the project directory, or "global" when the user chose to share across projects."""
    return GLOBAL_SCOPE if scope_option == GLOBAL_SCOPE or not directory else f"project:{directory}"


class Learning:
    def __init__(self, store: CorrectionStore | None, clock: Callable[[], float]) -> None:
        self.store = store
        self._clock = clock
        self.enabled = False
        self.scope = GLOBAL_SCOPE
        self._known: list[Correction] = []
        self._version: int | None = None
        self._checked_at = 0.0
        self._read: tuple[str, corrections.Evidence] | None = None  # the last text `adjust` read, and its evidence
        self._last: Lru[str, AutoTurn] = Lru(MAX_SESSIONS)

    def configure(self, enabled: bool, scope: str) -> None:
        self.enabled = enabled
        self.scope = scope
        self._known = []
        self._version = None

    def seed(self, known: list[Correction]) -> None:
        """Start from these corrections instead of the store's (a replay starts from the recorded ones)."""
        self.store = None
        self._known = list(known)

    @property
    def known(self) -> list[Correction]:
        self._refresh()
        return self._known

    def _refresh(self) -> None:
        if self.store is None:
            return
        now = self._clock()
        if self._version is not None and 0.0 <= now - self._checked_at < RECHECK_S:
            return  # this process's own writes keep `_known` current: only another's need the query
        self._checked_at = now
        version = self.store.version()
        if version != self._version:
            self._version = version
            self._known = self.store.load(self.scope)

    def adjust(self, text: str, found: Classification) -> Classification | None:
        """The router's hook on automatic decisions. The text's evidence is kept for `observe`: the decision's turn
        carries it, so that accepting or correcting it later does not read the text again."""
        if not self.enabled:
            return None
        known = self.known
        if not corrections.any_corrected(known):
            return None  # nothing corrected yet: nothing moves, and no evidence is needed
        self._read = (text, corrections.evidence(text))
        return corrections.adjust(known, text, found, self._read[1])

    @property
    def corrections(self) -> list[Correction]:
        return [c for c in self.known if c.kind != ACCEPTED]

    def observe(self, session_id: str, text: str, decision: Decision, command: bool) -> Correction | None:
        """Remember an automatic decision (the one before it stood: kept as evidence once the user has corrected
        anything); record the correction an explicit decision makes of the one before it."""
        if not self.enabled:
            return None
        now = self._clock()
        previous = self._last.pop(session_id)
        if decision.source in AUTOMATIC:
            read, self._read = self._read, None
            evidence = read[1] if read is not None and read[0] == text else None
            self._last.put(session_id, AutoTurn(text, decision.profile, now, evidence))
            # `adjust` has just re-read the store for this decision: what it holds is current
            if previous is not None and corrections.any_corrected(self._known):
                self._keep(corrections.accepted(previous))
            return None
        found = corrections.detect(previous, text, decision.source, decision.profile, command, now)
        if found is None:
            return None
        self._keep(found)
        log.info("correction recorded", session=session_id, correction=found.words(), automatic=found.automatic.value)
        return found

    def _keep(self, example: Correction) -> None:
        self._refresh()
        self._known.append(example)
        same = [c for c in self._known if (c.kind == ACCEPTED) == (example.kind == ACCEPTED)]
        if len(same) > MAX_PER_SCOPE:
            self._known.remove(same[0])
        if self.store is not None:
            self.store.add(self.scope, example)
            self._version = self.store.version()
