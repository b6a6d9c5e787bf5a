"""The Brain's spending judgement on top of the router's choice: a stuck turn moves to Reasoning, a spent budget
steps automatic decisions down a tier, and a cheaper choice that would leave a warm prompt cache for less than it
costs is vetoed. The user's explicit choices (a model or tier pick, a slash command, a /lock) are never touched.

The rules are pure (routing.cache_policy, routing.budget, routing.stall); this module applies them to the session
state, says why in logs and toasts, and keeps the day's spend.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from kimchi_plugin.logs import BoundOnce
from kimchi_plugin.routing import budget, cache_policy, stall
from kimchi_plugin.routing.registry import Lifecycle, ModelSpec, Registry
from kimchi_plugin.routing.router import UPGRADE_AT, Decision, Request, Router
from kimchi_plugin.routing.sessions import PATH_ARGS, RoutedTurn, SessionState
from kimchi_plugin.routing.tiers import Profile, Tier
from kimchi_plugin.rpc.protocol import Action, ToastVariant
from kimchi_plugin.settings import Settings
from kimchi_plugin.usage.limits import day_start_ms
from kimchi_plugin.usage.payload import parse_assistant
from kimchi_plugin.usage.store import connect

log = BoundOnce("kimchi")

STALL_SOURCE = "stall"
AUTO_MODEL = "auto"
CONTINUE_TEXT = (
    "(Kimchi routing: the previous attempt was stopped because it was stuck: {reason}. Step back, find the root "
    "cause, then continue the task.)"
)
BUDGET_TOAST_MS = 8000


def _in_thread(work: Callable[[], None]) -> None:
    threading.Thread(target=work, name="kimchi-day-spend", daemon=True).start()


def local_day(now: float) -> str:
    """The local calendar day of `now`: what a per-day limit counts."""
    return time.strftime("%Y-%m-%d", time.localtime(now))


@dataclass(slots=True)  # lives for one `route` call, never changed (not frozen: a frozen __init__ costs twice as much)
class Reviewed:
    decision: Decision
    actions: tuple[Action, ...] = ()
    cache_saved_usd: float = 0.0  # what keeping the warm cache is expected to save (credited once per stay)


class Economics:
    """Owned by the Brain: the day's spend (the database's figure at start, then this process's sessions), and the
    review of each decision."""

    def __init__(self, clock: Callable[[], float], day_of: Callable[[float], str] = local_day) -> None:
        self._clock = clock
        self._day_of = day_of
        self.day = budget.DaySpend()
        self._day_lock = threading.Lock()  # the start-up read of the database adds from its own thread

    def limits(self, settings: Settings, state: SessionState) -> budget.Limits:
        defaults = budget.Limits(settings.sessionBudget, settings.dailyBudget)
        return state.budget.limits(defaults) if state.budget.overridden else defaults

    def day_spent(self) -> float:
        return self.day.spent(self._day_of(self._clock()))

    def add_day_spend(self, usd: float, day: str | None = None) -> None:
        with self._day_lock:
            self.day.add(day or self._day_of(self._clock()), usd)

    def seed_day(self, db_path: str, spawn: Callable[[Callable[[], None]], None] = _in_thread) -> None:
        """Start the day's spend from what the stats database recorded today before this process started (every
        OpenCode process writes there), read off the event loop."""
        now = self._clock()
        day, since = self._day_of(now), day_start_ms(now)

        def read() -> None:
            from kimchi_plugin.usage.report import build_report  # only with a daily budget, off the start-up path

            try:
                if not os.path.exists(db_path):
                    return
                conn = connect(db_path, readonly=True)
                try:
                    spent = build_report(conn, since_ms=since).total.cost_usd
                finally:
                    conn.close()
            except (sqlite3.Error, OSError) as exc:
                log.warning("today's spend unreadable", error=type(exc).__name__)
                return
            self.add_day_spend(spent, day)
            log.info("today's spend", usd=round(spent, 4))

        spawn(read)

    # -- the decision -----------------------------------------------------------------------------------------

    def review(
        self,
        decision: Decision,
        state: SessionState,
        request: Request,
        router: Router,
        settings: Settings,
        session_spent: float,
        stuck: str | None,
    ) -> Reviewed:
        """The decision after stall escalation, the budget and the cache check; `state.last` follows it."""
        model = decision.model
        if model is None or decision.source in cache_policy.EXPLICIT_SOURCES:
            state.cache.keeping = False
            return Reviewed(decision)
        tier, profile, source, reason = decision.tier, decision.profile, decision.source, decision.reason
        notes: list[str] = []
        actions: list[Action] = []
        tokens = request.estimated_tokens
        if stuck is not None and settings.stallEscalation and tier is not Tier.REASONING:
            stronger, _ = router.pick_model(Tier.REASONING, state, request.now, tokens)
            if stronger is not None:
                model, tier, profile, source = stronger, Tier.REASONING, Profile.DEBUGGER, STALL_SOURCE
                reason = f"the last turn was stuck ({stuck}): moved to the Reasoning tier"
        limits = self.limits(settings, state)
        day_spent = self.day_spent() if limits.day is not None else 0.0  # the local date costs a clock read
        limited = limits.session is not None or limits.day is not None
        spent_on = budget.over(limits, session_spent, day_spent) if limited else None
        lower = budget.step_down(tier) if spent_on is not None else None
        if lower is not None:
            cheaper, _ = router.pick_model(lower, state, request.now, tokens)
            if cheaper is not None:
                notes.append(
                    f"{'session' if spent_on == budget.SESSION else 'daily'} budget spent: {tier.value} → {lower.value}"
                )
                model, tier = cheaper, lower
        saved = 0.0
        if settings.cacheAware:
            warm = self._warm(state, router.registry, request)
            verdict = cache_policy.weigh(state.cache, warm, model, tier)
            if log.is_enabled_for(logging.DEBUG):
                log.debug(
                    "cost",
                    session=state.session_id,
                    reason=verdict.reason,
                    stay_usd=round(verdict.stay_usd, 6),
                    switch_usd=round(verdict.switch_usd, 6),
                    workload=state.cache.workload(),
                )
            if not verdict.switch and warm is not None and state.cache.warm_tier is not None:
                model, tier = warm, state.cache.warm_tier
                if not state.cache.keeping:  # a run of stays answers one question: said and credited once
                    saved = verdict.saved_usd
                    if settings.toasts:
                        actions.append(Action.toast("Kimchi: kept the warm cache", verdict.reason))
                state.cache.keeping = True
                reason = f"{reason}; {verdict.reason}"
            else:
                state.cache.keeping = False
        if (model, tier, profile, source, reason) == (
            decision.model,
            decision.tier,
            decision.profile,
            decision.source,
            decision.reason,
        ) and not notes:
            return Reviewed(decision, tuple(actions))
        revised = replace(
            decision,
            model=model,
            tier=tier,
            profile=profile,
            source=source,
            reason=reason,
            notes=(*decision.notes, *notes),
        )
        turn = RoutedTurn(model.id, tier, profile, source, reason)
        state.last = turn
        if state.history:
            state.history[-1] = turn
        return Reviewed(revised, tuple(actions), saved)

    @staticmethod
    def _warm(state: SessionState, registry: Registry, request: Request) -> ModelSpec | None:
        """The model holding the session's cache, when it could serve this request: known, not retired, not
        failing, and with room for it."""
        warm_id = state.cache.warm_model
        spec = registry.get(warm_id) if warm_id else None
        if spec is None or state.overflowed or registry.lifecycle(spec.id) is Lifecycle.SUNSET:
            return None
        if state.failed_until.get(spec.id, 0.0) > request.now:
            return None
        if request.estimated_tokens > spec.context_window * UPGRADE_AT:
            return None
        return spec

    # -- what happens in the session --------------------------------------------------------------------------

    def budget_command(
        self, command: budget.BudgetCommand, state: SessionState, settings: Settings, session_spent: float
    ) -> tuple[str, Action]:
        """Apply `/budget`: (what the model is told, the toast)."""
        state.budget.apply(command)
        limits = self.limits(settings, state)
        shown = budget.describe(limits, session_spent, self.day_spent())
        if not command.valid:
            told = f"usage: {budget.USAGE}"
        elif command.scope is None:
            told = "current spend limits"
        else:
            name = "this session's" if command.scope == budget.SESSION else "today's"
            amount = budget.usd(command.limit) if command.limit is not None else "off"
            told = f"{name} spend limit set to {amount} for this session"
        note = f"(Kimchi routing: {told}.\n{shown}\nRepeat this to the user in one short sentence.)"
        return note, Action.toast("Kimchi: budget", f"{told}\n{shown}", "info", BUDGET_TOAST_MS)

    def spent(self, state: SessionState, settings: Settings, session_spent: float, added: float) -> list[Action]:
        """New spend: the day's total grows; a limit reaching 80 % or 100 % is told once."""
        self.add_day_spend(added)
        limits = self.limits(settings, state)
        day_spent = self.day_spent()
        actions = []
        for scope, level in state.budget.crossed(limits, session_spent, day_spent):
            spent = session_spent if scope == budget.SESSION else day_spent
            note = budget.crossing_note(scope, level, limits, spent)
            log.info("budget", session=state.session_id, scope=scope, level=level.name.lower(), spent=round(spent, 4))
            if settings.toasts:
                variant: ToastVariant = "warning" if level is budget.Level.OVER else "info"
                actions.append(Action.toast("Kimchi: budget", note[0].upper() + note[1:], variant, BUDGET_TOAST_MS))
        return actions

    @staticmethod
    def observe_request(state: SessionState, info: Mapping[str, Any], registry: Registry) -> None:
        """A completed request of the session: its model now holds the prompt warm."""
        message = parse_assistant(info)
        if message is None or not message.completed or message.error:
            return
        last = state.last
        tier = (
            last.tier if last is not None and last.model_id == message.model else registry.primary_tier(message.model)
        )
        usage = message.usage
        state.cache.observe(
            message.id,
            message.model,
            tier,
            input_tokens=usage.input,
            cache_read=usage.cache_read,
            cache_write=usage.cache_write,
        )

    def escalate(self, state: SessionState, reason: str, settings: Settings, provider_id: str) -> list[Action]:
        """A stuck turn: unless the user chose the model or the session is on Reasoning already, tell the user and
        move the work to Reasoning — within the turn (stop it, continue through automatic routing, which the pending
        reason sends to Reasoning) or at the next message."""
        last = state.last
        mode = settings.stallEscalation
        if (
            not mode
            or last is None
            or last.tier is Tier.REASONING
            or last.source in cache_policy.EXPLICIT_SOURCES
            or state.lock is not None
        ):
            state.stall.pending = None
            log.info("turn stuck", session=state.session_id, reason=reason, escalated=False)
            return []
        in_turn = mode is True
        log.info("turn stuck", session=state.session_id, reason=reason, escalated="turn" if in_turn else "next")
        actions = []
        if settings.toasts:
            then = "continuing on the Reasoning tier" if in_turn else "the next message goes to the Reasoning tier"
            actions.append(Action.toast("Kimchi: stuck", f"{reason[0].upper()}{reason[1:]}: {then}", "warning"))
        if in_turn:
            text = CONTINUE_TEXT.format(reason=reason)
            actions.append(Action.abort(state.session_id))
            actions.append(Action.prompt_async(state.session_id, text, provider_id, AUTO_MODEL, state.agent))
        return actions

    def observe_tool(
        self, state: SessionState, tool: str, args: Mapping[str, Any], output: object, failed: bool
    ) -> str | None:
        """A finished tool call; the reason the turn is stuck, the first time it is."""
        path = next((v for k in PATH_ARGS if isinstance(v := args.get(k), str) and v), None)
        return state.stall.observe(stall.tool_call(self._clock(), tool, args, output, failed, path))
