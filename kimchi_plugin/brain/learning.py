"""The Brain's memory of the user's corrections: notices them after each decision, stores them (when a store is
given) under the chosen scope, and moves later automatic decisions as `routing.corrections` allows. A store another
process changed (`kimchi-plugin learn --reset`) is re-read before the next decision."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from kimchi_plugin.brain.corrections_store import GLOBAL_SCOPE, CorrectionStore
from kimchi_plugin.lru import Lru
from kimchi_plugin.routing import corrections
from kimchi_plugin.routing.classifier import Classification
from kimchi_plugin.routing.corrections import AUTOMATIC, AutoTurn, Correction
from kimchi_plugin.routing.router import Decision

log = structlog.get_logger("kimchi.learning")

MAX_SESSIONS = 256


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
        version = self.store.version()
        if version != self._version:
            self._version = version
            self._known = self.store.load(self.scope)

    def adjust(self, text: str, found: Classification) -> Classification | None:
        """The router's hook on automatic decisions."""
        if not self.enabled:
            return None
        return corrections.adjust(self.known, text, found)

    def observe(self, session_id: str, text: str, decision: Decision, command: bool) -> Correction | None:
        """Remember an automatic decision; record the correction an explicit one makes of the one before it."""
        if not self.enabled:
            return None
        now = self._clock()
        if decision.source in AUTOMATIC:
            self._last.put(session_id, AutoTurn(text, decision.profile, now))
            return None
        previous = self._last.pop(session_id)
        found = corrections.detect(previous, text, decision.source, decision.profile, command, now)
        if found is None:
            return None
        self._refresh()
        self._known.append(found)
        if self.store is not None:
            self.store.add(self.scope, found)
            self._version = self.store.version()
        log.info("correction recorded", session=session_id, correction=found.words(), automatic=found.automatic.value)
        return found
