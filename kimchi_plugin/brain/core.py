"""The Brain: one object that owns the session state and answers what the OpenCode adapter asks — configure from
OpenCode's config, route a user message, observe tool calls and bus events, size the next request, decide
compaction and reminders. Handlers translate payloads to these calls and results to wire patches, nothing more."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from kimchi_plugin import logs
from kimchi_plugin.brain import provision
from kimchi_plugin.brain.economics import Economics, Reviewed
from kimchi_plugin.brain.learning import Learning, scope_of
from kimchi_plugin.brain.provision import BUNDLED, Provision
from kimchi_plugin.brain.services import Services
from kimchi_plugin.brain.why import REPEAT_INSTRUCTION, Explainer, Remembered
from kimchi_plugin.logs import BoundOnce
from kimchi_plugin.opencode.vocabulary import ORCHESTRATOR_AGENT, TASK_TOOL_GUIDE, TASK_TOOL_PREFIX
from kimchi_plugin.provider import autoconfig
from kimchi_plugin.provider.credentials import KEY_SOURCES
from kimchi_plugin.routing import budget, classifier, context_window, delegation, fallback
from kimchi_plugin.routing.classifier import Classification
from kimchi_plugin.routing.conversation import Message, decide
from kimchi_plugin.routing.explanation import excerpt, explain, is_why, revised
from kimchi_plugin.routing.prompts import PROFILE_PROMPTS, PROFILE_TEMPERATURE
from kimchi_plugin.routing.router import PROFILE_LABEL, Decision, Request
from kimchi_plugin.routing.sessions import SessionState, SessionStore
from kimchi_plugin.routing.tiers import Profile, Tier
from kimchi_plugin.routing.tokens import ConversationTokens, TokenCounter, estimate_tokens, exact_from_for
from kimchi_plugin.rpc.protocol import Action
from kimchi_plugin.settings import Settings
from kimchi_plugin.usage.recorder import RouteTag, UsageRecorder

log = BoundOnce("kimchi")

FALLBACK_TOAST_MS = 6000
NO_KEY_TOAST_MS = 12000
WHY_TOAST_MS = 15000
NO_KEY_MESSAGE = "No Kimchi API key found: Kimchi models cannot answer. Set one of: " + "; ".join(KEY_SOURCES) + "."


# UserTurn and Routed live for one `route` call and nothing changes them: plain slotted dataclasses, since a frozen
# one's __init__ sets each field through object.__setattr__ (about twice the cost, on every message).
@dataclass(slots=True)
class UserTurn:
    session_id: str
    text: str  # the user's own words
    agent: str | None
    requested: str  # the model id the message asks for under our provider (a virtual id or a concrete one)
    message_id: str | None = None


@dataclass(slots=True)
class Routed:
    decision: Decision
    actions: tuple[Action, ...]


@dataclass(frozen=True, slots=True)
class ConfigAnswer:
    patch: dict[str, Any]
    cacheable: bool
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    role: str
    words: str  # the user's own words (empty for other roles' synthetic text)
    tools: tuple[tuple[str, bool], ...]  # (tool, failed) calls
    key: str  # stable per message and part count: counted once
    sent: str  # everything the model is sent for this message


class Brain:
    """Created before `initialize`; `start` brings the options and `configure` the providers and agents."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = Settings()
        self.sessions = SessionStore()
        self.tokens = TokenCounter()
        self.conversation_tokens = ConversationTokens(self.tokens)
        self.usage = UsageRecorder(clock=services.clock)  # in memory until `start` knows the options
        self.configured = asyncio.Event()  # set once the first `config` has built the registry
        self.learning = Learning(services.corrections, services.clock)
        self.explainer = Explainer(services.corrections)
        self._setup: Provision = provision.empty(self.settings, services.clock(), self.learning.adjust)
        self._refresh: asyncio.Future[None] | None = None
        self._warned_no_key = False
        self.economics = Economics(services.clock)
        self._in_hand: dict[str, int] = {}  # requests being answered that may change a session's state, by session

    # -- lifecycle --------------------------------------------------------------------------------------------

    @property
    def provider_id(self) -> str:
        return self.settings.provider

    @property
    def setup(self) -> Provision:
        """Registry, router and what the config said, as of the latest config."""
        return self._setup

    def start(self, options: Mapping[str, Any], directory: str = "") -> None:
        """Apply the plugin options (`initialize`); `directory` is the project (the scope of learned corrections)."""
        self.settings, problems = Settings.from_options(options)
        self.learning.configure(self.settings.learn, scope_of(directory, self.settings.learnScope))
        if self.settings.learn and self.services.background_loads and self.services.corrections is not None:
            threading.Thread(target=self.services.corrections.open, name="kimchi-corrections-open", daemon=True).start()
        self.services.configure_logs(self.settings)
        for problem in problems:
            log.warning(problem)
        if self.services.make_usage is not None:
            self.usage = self.services.make_usage(self.settings)
        if self.settings.dailyBudget is not None and self.usage.store is not None:
            self.economics.seed_day(self.usage.store.path)
        self._setup = provision.empty(self.settings, self.services.clock(), self.learning.adjust)

    async def configure(self, config: Mapping[str, Any]) -> ConfigAnswer:
        """Build the registry from OpenCode's config and the catalogue; answer the patch that completes the config.

        The answer is cacheable (replayed by the shim at the next start) only when it is final — built with a key
        and the provider's own catalogue — and holds no key."""
        view = provision.read_config(config, self.settings, self.services.env)
        catalog = await self.services.load_catalog(view.base_url, view.api_key)
        models, source = catalog.models, str(getattr(catalog.source, "value", catalog.source))
        if not models and not view.provider_models:  # nothing else to serve from: the snapshot shipped with us
            models, source = self.services.bundled_models(), BUNDLED
        self._install(
            provision.build(view, models, source, self.settings, self.services, self._setup, self.learning.adjust)
        )
        log.info("models loaded", key_source=view.key_source, catalog=source, models=self.model_ids())
        if catalog.refresh is not None:
            self._refresh = asyncio.ensure_future(self._apply_refresh(catalog.refresh))
        setup = autoconfig.Provisioning(self.provider_id, view.base_url, view.api_key, self.settings.orchestrator)
        patch = autoconfig.configure(config, self._setup.registry, setup)
        self._setup = provision.with_agent_modes(self._setup, patch.get("agent") or {})
        first = not self.configured.is_set()
        self.configured.set()
        if first and self.services.background_loads:
            # The classifier's features and weight table (~40 ms), so that the first decision finds them ready. (The
            # o200k encoding loads only once a conversation nears a token threshold: see ConversationTokens.)
            threading.Thread(target=_warm_up, name="kimchi-classifier-load", daemon=True).start()
        holds_key = "apiKey" in ((patch.get("provider") or {}).get(self.provider_id) or {}).get("options", {})
        actions = self._no_key_actions() if view.api_key is None else ()
        return ConfigAnswer(patch, self._setup.final and not holds_key, actions)

    def model_ids(self) -> list[str]:
        return [m.id for m in self._setup.registry.models()]

    def _install(self, setup: Provision) -> None:
        self._setup = setup
        windows = [m.context_window for m in setup.registry.models() if m.context_window > 0]
        nearest = (
            int(context_window.COMPACT_AT * min(windows)) - context_window.REQUEST_OVERHEAD_TOKENS if windows else 0
        )
        self.conversation_tokens.exact_from = exact_from_for(nearest)
        for warning in setup.registry.warnings:
            log.warning("registry", detail=warning)
        self.usage.set_prices(provision.prices(setup.registry))

    async def _apply_refresh(self, refresh: Any) -> None:
        try:
            result = await refresh
        except Exception:
            return
        if result is not None and result.models:
            source = str(getattr(result.source, "value", result.source))
            setup = self._setup
            self._install(
                provision.build(
                    setup.view, result.models, source, self.settings, self.services, setup, self.learning.adjust
                )
            )
            log.info("model catalog refreshed", models=len(result.models))
            self.services.push_actions([])  # a model's fixed temperature may have changed: the shim drops answers ahead

    def _no_key_actions(self) -> tuple[Action, ...]:
        """One clear message, once per process, naming every way to give the key."""
        if self._warned_no_key:
            return ()
        self._warned_no_key = True
        log.warning("no api key", sources=list(KEY_SOURCES))
        return (
            Action.toast("Kimchi: no API key", NO_KEY_MESSAGE, "warning", NO_KEY_TOAST_MS),
            Action.log("warn", NO_KEY_MESSAGE),
        )

    async def flush(self) -> None:
        """Write what this process holds (answers for /why, usage rows, telemetry's last export): on `shutdown`, after
        which the host may end the process at any moment."""
        self.explainer.save()
        await self.usage.flush()

    async def close(self) -> None:
        """Flush and stop background work; called at end of input."""
        if self._refresh is not None and not self._refresh.done():
            self._refresh.cancel()
        self.explainer.save()
        if self._setup.llm is not None:
            await self._setup.llm.close()
        await self.usage.close()

    # -- routing ----------------------------------------------------------------------------------------------

    def state(self, session_id: str) -> SessionState:
        """The session's state, created on first sight; a lock persisted by an earlier process is restored then (the
        lock file is not read again at every hook of a session that is never routed)."""
        before = self.sessions.peek(session_id)
        state = self.sessions.get(session_id, self.services.clock())
        if state is not before and self.services.locks is not None:
            state.lock = self.services.locks.get(session_id)
        return state

    async def route(self, turn: UserTurn) -> Routed:
        if is_why(turn.text):
            return self._answer_why(turn)
        state = self.state(turn.session_id)
        lock_before = state.lock
        budget_command = budget.parse_command(turn.text)
        if budget_command is not None:
            turn = replace(turn, text="")
        stuck = state.stall.new_turn()
        request = Request(
            session_id=turn.session_id,
            text=turn.text,
            agent=turn.agent,
            primary=self._setup.view.is_primary(turn.agent),
            requested=turn.requested,
            now=self.services.clock(),
            estimated_tokens=context_window.request_tokens(state, new_tokens=estimate_tokens(turn.text)),
        )
        spent = self._session_spent(turn.session_id)
        staying = self._current(state) if budget_command is not None else None
        if staying is not None:  # `/budget` changes no routing: the session stays where it is
            decision, reviewed = staying, Reviewed(staying)
            routed = decision
        else:
            routed = await self._setup.router.route(request, state)
            reviewed = self.economics.review(routed, state, request, self._setup.router, self.settings, spent, stuck)
            decision = reviewed.decision
            if decision is not routed:  # a rule after the router changed its decision: that rule decided
                added = decision.notes[len(routed.notes) :]
                decision = replace(decision, why=revised(routed.why, decision.source, added))
        actions: list[Action] = list(reviewed.actions)
        if budget_command is not None:
            told, toast = self.economics.budget_command(budget_command, state, self.settings, spent)
            decision = replace(decision, text=told)
            actions.append(toast)
        if state.lock is not lock_before and self.services.locks is not None:
            self.services.locks.put(turn.session_id, state.lock)
        if budget_command is None:
            actions.extend(self._explained(turn, decision, request.estimated_tokens))
        if decision.model is not None:
            if turn.message_id:
                self.usage.on_route(turn.message_id, _tag(decision, turn.agent, reviewed.cache_saved_usd))
            key = f"{decision.profile.value}:{decision.model.id}"
            if self.settings.toasts and (key != state.toast_key or decision.notes):
                state.toast_key = key
                actions.append(_routing_toast(decision))
        return Routed(decision, tuple(actions))

    def _explained(self, turn: UserTurn, decision: Decision, tokens: int) -> list[Action]:
        """Keep the decision for `/why`, learn from it if it corrects the one before, and log it in words (once the
        reply is out)."""
        words = decision.text if decision.text is not None else turn.text
        remembered = Remembered(decision, words, tokens, turn.message_id)
        self.explainer.note(turn.session_id, remembered, self._setup.registry, self.services.clock())
        correction = self.learning.observe(turn.session_id, words, decision, decision.text is not None)
        try:  # the line is written after the reply: the hook's answer does not wait for it
            asyncio.get_running_loop().call_soon(self._log_decision, turn, decision, tokens)
        except RuntimeError:  # a synchronous caller: nothing runs after it
            self._log_decision(turn, decision, tokens)
        if correction is None or not self.settings.toasts:
            return []
        return [Action.toast("Kimchi: correction noted", f"{correction.words()} (/why; kimchi-plugin learn --reset)")]

    def why(self, session_id: str) -> str:
        """The answer to `/why` for the session's last routed message."""
        return self.explainer.answer(session_id, self._setup.registry)

    def _answer_why(self, turn: UserTurn) -> Routed:
        """`/why` is answered, not routed: the answer goes in a toast and, since OpenCode runs a model turn for every
        message, in the message itself for the cheapest model to repeat. Routing state is left as it was."""
        answer = self.why(turn.session_id)
        state = self.state(turn.session_id)
        model, _notes = self._setup.router.pick_model(Tier.QUICK, state, self.services.clock(), 0)
        decision = Decision(
            model=model,
            tier=Tier.QUICK,
            profile=Profile.ASSISTANT,
            source="why",
            reason="answering /why",
            confidence=1.0,
            text=REPEAT_INSTRUCTION.format(answer=answer),
            why=explain("why", ()),
        )
        if model is not None and turn.message_id:
            self.usage.on_route(turn.message_id, _tag(decision, turn.agent))
        log.info("why", session=turn.session_id, message=turn.message_id, model=model.id if model else None)
        actions = [Action.toast("Kimchi: why", answer, "info", WHY_TOAST_MS)] if self.settings.toasts else []
        return Routed(decision, tuple(actions))

    def _log_decision(self, turn: UserTurn, decision: Decision, tokens: int) -> None:
        """One readable line per routed message; the message's first words only when `verbose`."""
        why = decision.why or explain(decision.source, decision.signals, decision.notes)
        words = decision.text if decision.text is not None else turn.text
        fields = {
            "session": turn.session_id,
            "message": turn.message_id,
            "excerpt": excerpt(words) if self.settings.verbose else None,
            "agent": turn.agent,
            "requested": turn.requested,
            "model": decision.model.id if decision.model else None,
            "tier": decision.tier.value,
            "profile": decision.profile.value,
            "mode": PROFILE_LABEL[decision.profile].lower(),
            "source": decision.source,
            "step": why.words,
            "reason": decision.reason,
            "correction": why.correction,
            "signals": list(why.signals),
            "confidence": round(decision.confidence, 3),
            "notes": list(decision.notes),
            "tokens": tokens,
        }
        logs.info_line(log, "decision", fields)

    def _routed_state(self, session_id: str | None, model_id: str | None) -> SessionState | None:
        """The session's state when this request is the session's routed turn (not an internal or foreign call)."""
        state = self.sessions.peek(session_id) if session_id and model_id else None
        if state is None or state.last is None or state.last.model_id != model_id:
            return None
        return state

    def temperature(self, session_id: str | None, model_id: str | None) -> float | None:
        """The routed turn's temperature: its mode's, unless the model accepts only one."""
        state = self._routed_state(session_id, model_id)
        if state is None or state.last is None:
            return None
        spec = self._setup.registry.get(model_id or "")
        if spec is not None and spec.fixed_temperature is not None:
            return spec.fixed_temperature
        return PROFILE_TEMPERATURE[state.last.profile]

    def system_additions(self, session_id: str | None, model_id: str | None) -> list[str]:
        """Text for the routed turn's system prompt: its mode, and the delegation nudge for the orchestrator."""
        state = self._routed_state(session_id, model_id)
        if state is None or state.last is None:
            return []
        additions = [PROFILE_PROMPTS[state.last.profile]]
        nudge = delegation.system_nudge(state) if self._orchestrating(state) else None
        return [*additions, nudge] if nudge else additions

    # -- answers ahead (opencode/ahead.py) -------------------------------------------------------------------------

    def routed_turn(self, session_id: str) -> tuple[str, str | None] | None:
        """(model id, agent) of the session's routed turn, or None: the calls `temperature` and `system_additions`
        answer for (any other model gets nothing)."""
        state = self.sessions.peek(session_id)
        if state is None or state.last is None:
            return None
        return state.last.model_id, state.agent

    def take(self, session_id: str) -> None:
        """A request that may change the session's state is being answered (until `release`)."""
        self._in_hand[session_id] = self._in_hand.get(session_id, 0) + 1

    def release(self, session_id: str) -> None:
        left = self._in_hand.pop(session_id, 1) - 1
        if left > 0:
            self._in_hand[session_id] = left

    def alone(self, session_id: str) -> bool:
        """Whether one request only is changing the session: answers ahead computed now will not be overtaken by
        another one's change (a `chat.message` that still routes while the shim, out of budget, went on)."""
        return self._in_hand.get(session_id, 0) <= 1

    def replay_turn(self, session_id: str, text: str, profile: Profile | None) -> None:
        """Stand in a previous user turn (the CLI's `prev`): a labelled profile is taken as given, otherwise the
        turn is classified, so that a short follow-up ("fix it", "why?") is decided from it."""
        conversation = self.state(session_id).conversation
        found = Classification(profile, 1.0, ("label",), "label") if profile else decide(text, conversation)
        conversation.note_decision(text, found)

    def suggest(self, session_id: str, tier: Tier) -> None:
        """The model asked for `tier` on the next message (a suggest_*_mode tool)."""
        if session_id:
            self.state(session_id).suggestion = tier

    def usage_summary(self, session_id: str) -> str:
        return self.usage.session_summary(session_id)

    def _current(self, state: SessionState) -> Decision | None:
        """The session's last decision, as a decision for a message that changes no routing."""
        last = state.last
        spec = self._setup.registry.get(last.model_id) if last is not None else None
        if last is None or spec is None:
            return None
        return Decision(spec, last.tier, last.profile, last.source, last.reason, 1.0)

    def _session_spent(self, session_id: str) -> float:
        """What this process saw the session spend (its own requests)."""
        ledger = self.usage.ledger(session_id)
        return ledger.total.cost if ledger is not None else 0.0

    def _orchestrating(self, state: SessionState) -> bool:
        """Delegation reminders apply to the orchestrator agent's own (primary) sessions only."""
        return self.settings.orchestrator and state.agent == ORCHESTRATOR_AGENT

    # -- what happens in the session ------------------------------------------------------------------------

    def sync_transcript(self, session_id: str, entries: Sequence[TranscriptEntry]) -> list[Action]:
        """The transcript OpenCode is about to send: session context and token count, then compaction if due."""
        state = self.state(session_id)
        state.conversation.sync([Message(role=e.role, text=e.words, tools=e.tools) for e in entries])
        state.transcript_tokens = self.conversation_tokens.total((e.key, e.sent) for e in entries)
        return self._compaction_actions(state)

    def observe_tool(
        self, session_id: str, tool: str, args: Mapping[str, Any], output: object, metadata: Mapping[str, Any]
    ) -> tuple[str | None, list[Action]]:
        """A finished tool call: (a delegation reminder to append to its output, actions)."""
        tool = tool.lower()
        state = self.state(session_id)
        failed = state.note_tool(tool, args, output, metadata)
        self.usage.on_tool_after(session_id, tool, args, output if isinstance(output, str) else "", metadata)
        reminder = None
        if self._orchestrating(state):
            delegation.note_tool(state, tool)
            reminder = delegation.reminder(state)
        actions = self._compaction_actions(state)
        stuck = self.economics.observe_tool(state, tool, args, output, failed)
        if stuck is not None:
            actions += self.economics.escalate(state, stuck, self.settings, self.provider_id)
        return reminder, actions

    def task_description(self, description: str) -> str | None:
        """The task tool's description with the delegation guide in front (once), for the orchestrator; the shim
        answers the same from the handshake's standing entry (opencode/handshake.py)."""
        if not self.settings.orchestrator or TASK_TOOL_GUIDE in description:
            return None
        return TASK_TOOL_PREFIX + description

    def compaction_context(self, session_id: str) -> list[str]:
        """What a summary of the session must carry over (routing mode, lock, files, errors)."""
        state = self.sessions.peek(session_id)
        if state is None:
            return []
        return context_window.preserved_context(state, context_window.request_tokens(state))

    def _compaction_actions(self, state: SessionState) -> list[Action]:
        """Ask OpenCode to compact the session once the next request would fill too much of the serving model's
        window. Sent during the turn: OpenCode queues the summary and runs it as soon as the turn's loop ends (also
        in `opencode run`, which would exit before a request sent on `session.idle`)."""
        spec = self._setup.registry.get(state.last.model_id) if state.last else None
        if spec is None:
            return []
        tokens = context_window.request_tokens(state)
        now = self.services.clock()
        if not context_window.should_compact(state, spec.context_window, tokens, now):
            return []
        state.compaction_requested_at = now
        log.info("compaction requested", session=state.session_id, tokens=tokens, window=spec.context_window)
        actions = [Action.summarize(state.session_id, self.provider_id, spec.id)]
        if self.settings.toasts:
            note = context_window.compaction_note(tokens, spec.context_window, spec.id)
            actions.append(Action.toast("Kimchi: compacting", note))
        return actions

    # -- bus events -------------------------------------------------------------------------------------------

    def session_created(self, session_id: str, parent_id: str | None) -> None:
        self.usage.on_session_created(session_id, parent_id)

    def session_deleted(self, session_id: str) -> None:
        self.sessions.drop(session_id)
        self.usage.on_session_deleted(session_id)
        if self.services.locks is not None:
            self.services.locks.put(session_id, None)

    def session_idle(self, session_id: str) -> None:
        self.usage.on_session_idle(session_id)

    def session_compacted(self, session_id: str) -> None:
        state = self.sessions.peek(session_id)
        if state is not None:
            state.transcript_tokens = 0
            state.reported_tokens = 0
            state.cache.forget()

    def request_failed(self, session_id: str, failure: fallback.Failure | None, model_id: str | None = None) -> None:
        """A request of the session failed (`model_id`, else the session's last routed model): arm the fallback
        for its next message and tell the user which model will serve it."""
        state = self.sessions.peek(session_id)
        if state is None:
            return
        model_id = model_id or (state.last.model_id if state.last else None)
        now = self.services.clock()
        if failure is None or not model_id or not fallback.note_failure(state, model_id, failure, now):
            return
        tier = state.last.tier if state.last is not None else self._setup.registry.primary_tier(model_id)
        upcoming, _notes = self._setup.router.pick_model(tier, state, now, context_window.request_tokens(state))
        log.info(
            "model failed",
            session=session_id,
            model=model_id,
            kind=failure.kind,
            status=failure.status,
            next=upcoming.id if upcoming else None,
        )
        if self.settings.toasts:
            then = f"the next message uses {upcoming.id}" if upcoming is not None else "no other model is available"
            message = f"{state.fallback_note}; {then}"
            self.services.push_actions([Action.toast("Kimchi: model fallback", message, "warning", FALLBACK_TOAST_MS)])

    def assistant_message(self, info: Mapping[str, Any], used_tokens: int) -> None:
        """An assistant message of our provider was updated: accounting, real request size, failure or success."""
        session_id = info.get("sessionID")
        state = self.sessions.peek(session_id) if isinstance(session_id, str) else None
        route = _tag_turn(state) if state is not None else None
        spent_before = self._session_spent(session_id) if isinstance(session_id, str) else 0.0
        self.usage.on_assistant_message(dict(info), route)  # recorded even for sessions the brain forgot
        if state is None:
            return
        spent = self._session_spent(state.session_id)
        self.economics.observe_request(state, info, self._setup.registry)
        if spent != spent_before:
            actions = self.economics.spent(state, self.settings, spent, spent - spent_before)
            if actions:
                self.services.push_actions(actions)
        if used_tokens > 0:
            state.reported_tokens = used_tokens  # the real size of the last request (input excludes cached tokens)
        model_id = str(info.get("modelID") or "")
        error = info.get("error")
        if error:
            failure = fallback.classify_error(error if isinstance(error, Mapping) else None)
            self.request_failed(state.session_id, failure, model_id)
        elif info.get("finish") and model_id:
            fallback.note_success(state, model_id)


def _warm_up() -> None:
    """The classifier's features and weight table, then every object built so far (imports, the Brain, the table) set
    aside from the cyclic collector: they all stay, and each full collection that traversed them paused the event loop
    ~20-30 ms (a long transcript's `messages.transform` brings one every few dozen steps)."""
    classifier.warm_up()
    gc.freeze()


def _tag(decision: Decision, agent: str | None, cache_saved_usd: float = 0.0) -> RouteTag:
    assert decision.model is not None
    return RouteTag(
        decision.tier.value, decision.profile.value, decision.source, decision.model.id, agent, cache_saved_usd
    )


def _tag_turn(state: SessionState) -> RouteTag | None:
    last = state.last
    return RouteTag(last.tier.value, last.profile.value, last.source, last.model_id, state.agent) if last else None


def _routing_toast(decision: Decision) -> Action:
    assert decision.model is not None
    lines = [f"{decision.model.id} · {decision.tier.value} tier", decision.reason, *decision.notes]
    return Action.toast(
        f"Kimchi: {PROFILE_LABEL[decision.profile]}", "\n".join(lines), "warning" if decision.notes else "info"
    )
