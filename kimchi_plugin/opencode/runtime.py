"""Per-process state shared by the hook handlers: settings from `initialize`, the model registry and router built
from OpenCode's config, session state, and the services (token counter, model catalog, LLM classifier)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

import structlog

from kimchi_plugin.logs import configure_logging
from kimchi_plugin.provider.autoconfig import ORCHESTRATOR
from kimchi_plugin.provider.credentials import find_api_key
from kimchi_plugin.routing import classifier, context_window, delegation
from kimchi_plugin.routing.registry import Registry
from kimchi_plugin.routing.router import Policy, Router
from kimchi_plugin.routing.sessions import SessionState, SessionStore
from kimchi_plugin.routing.tiers import Tier
from kimchi_plugin.routing.tokens import ConversationTokens, TokenCounter
from kimchi_plugin.rpc.protocol import InitializeParams
from kimchi_plugin.settings import DEFAULT_BASE_URL, Settings, default_log_file
from kimchi_plugin.usage.recorder import RouteTag, UsageRecorder, prices_from

log = structlog.get_logger("kimchi")

BUILTIN_SUBAGENTS = frozenset({"explore", "general"})
# Tokens of a request that the transcript does not show: OpenCode's system prompt and tool definitions.
REQUEST_OVERHEAD_TOKENS = 6000


class Runtime:
    """Everything a hook handler may touch. Created before `initialize`; `initialize` brings the options and the
    `config` hook brings the providers and agents."""

    def __init__(
        self,
        *,
        log_file: str | None = None,
        verbose: bool = False,
        clock: Callable[[], float] = time.time,
        env: Mapping[str, str] = os.environ,
        push_actions: Callable[[list[dict[str, Any]]], None] = lambda _actions: None,
    ) -> None:
        self.push_actions = push_actions
        """Send client actions outside any hook call (e.g. a toast when a model fails)."""
        self.cli_log_file = log_file
        self.cli_verbose = verbose
        self.clock = clock
        self.env = env
        self.settings = Settings()
        self.log_file: str | None = log_file
        self.directory = ""
        self.worktree = ""
        self.sessions = SessionStore()
        self.tokens = TokenCounter()
        self.conversation_tokens = ConversationTokens(self.tokens)
        self.registry = Registry.build(
            provider_models=None, api_models=None, pins=None, priorities=None, now=self.now_dt()
        )
        self.router = Router(self.registry, Policy())
        self.llm: Any = None  # LlmClassifier once a key and a model are known
        self.api_key: str | None = None
        self.base_url = DEFAULT_BASE_URL
        self.agent_modes: dict[str, str] = {}
        self.usage = UsageRecorder(clock=clock)  # replaced at `initialize`, when the options are known
        self._refresh: asyncio.Task | None = None
        self.configured = asyncio.Event()  # set once the first `config` has built the registry

    def now_dt(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), tz=timezone.utc)

    @property
    def provider_id(self) -> str:
        return self.settings.provider

    def initialize(self, params: InitializeParams) -> None:
        settings, problems = Settings.from_options(params.options)
        self.settings = settings
        self.directory = params.directory
        self.worktree = params.worktree
        self.log_file = self.cli_log_file or settings.logFile or default_log_file(self.env)
        configure_logging(verbose=self.cli_verbose or settings.verbose, log_file=self.log_file)
        for problem in problems:
            log.warning(problem)
        self.usage = UsageRecorder.from_settings(settings, env=self.env, clock=self.clock)
        self.router = Router(self.registry, self._policy(), self.llm)

    def _policy(self) -> Policy:
        return Policy(floor_primary=self.settings.primaryFloor, llm_threshold=self.settings.llmClassifierThreshold)

    def is_primary(self, agent: str | None) -> bool:
        """Primary agents are floored to Coding; a custom agent counts as primary unless declared a subagent."""
        if not agent:
            return True
        mode = self.agent_modes.get(agent)
        if mode is not None:
            return mode != "subagent"
        return agent not in BUILTIN_SUBAGENTS

    async def load_config(self, config: Mapping[str, Any]) -> None:
        """Build the registry from OpenCode's config plus the Kimchi model catalog (within its start-up budget)."""
        provider = _mapping(_mapping(config.get("provider")).get(self.provider_id))
        options = _mapping(provider.get("options"))
        key_option = self.settings.apiKey.get_secret_value() if self.settings.apiKey else None
        self.api_key, key_source = find_api_key(key_option, options, self.env)
        base = self.settings.llmBaseUrl or options.get("baseURL")
        self.base_url = base if isinstance(base, str) and base else DEFAULT_BASE_URL
        self.agent_modes = {
            name: agent["mode"]
            for name, agent in _mapping(config.get("agent")).items()
            if isinstance(agent, Mapping) and isinstance(agent.get("mode"), str)
        }
        self.provider_models = {
            k: v
            for k, v in _mapping(provider.get("models")).items()
            if k not in ("auto", "reasoning", "coding", "quick")
        }
        from kimchi_plugin.provider import catalog as model_catalog  # httpx: imported off the start-up path

        catalog = await model_catalog.load_models(self.base_url, self.api_key)
        self._rebuild(catalog.models)
        log.info(
            "models loaded",
            key_source=key_source,
            catalog=catalog.source.value,
            models=[m.id for m in self.registry.models()],
        )
        if catalog.refresh is not None:
            self._refresh = asyncio.ensure_future(self._apply_refresh(catalog.refresh))
        self.configured.set()
        # The encoding takes ~0.3 s of mostly GIL-holding parsing: load it after start-up work, not during it.
        self.tokens.start_background_load()
        # Likewise the classifier's weight table (~20 ms), so that the first decision finds it ready.
        threading.Thread(target=classifier.load_weights, name="kimchi-classifier-load", daemon=True).start()

    async def _apply_refresh(self, refresh: Any) -> None:
        try:
            result = await refresh
        except Exception:
            return
        if result is not None and result.models:
            self._rebuild(result.models)
            log.info("model catalog refreshed", models=len(result.models))

    def _rebuild(self, api_models: Any) -> None:
        self.registry = Registry.build(
            provider_models=self.provider_models,
            api_models=api_models,
            pins=self.settings.models,
            priorities=self.settings.priorities,
            now=self.now_dt(),
        )
        for warning in self.registry.warnings:
            log.warning("registry", detail=warning)
        self.llm = None
        cheapest = self.registry.cheapest()
        if self.settings.llmClassifier and self.api_key and cheapest is not None:
            from kimchi_plugin.provider.llm_classifier import LlmClassifier

            self.llm = LlmClassifier(
                base_url=self.base_url,
                api_key=self.api_key,
                model_id=cheapest.id,
                deadline_s=self.settings.llmClassifierTimeoutMs / 1000,
            )
        self.router = Router(self.registry, self._policy(), self.llm)
        top = {tier: self.registry.best(tier) for tier in (Tier.REASONING, Tier.CODING)}
        self.usage.set_prices(
            prices_from(
                self.registry.models(),
                top[Tier.REASONING].id if top[Tier.REASONING] else None,
                top[Tier.CODING].id if top[Tier.CODING] else None,
            )
        )

    def orchestrating(self, state: SessionState) -> bool:
        """Delegation reminders apply to the orchestrator agent's own (primary) sessions only."""
        return self.settings.orchestrator and state.agent == ORCHESTRATOR

    def reminders_for(self, state: SessionState) -> list[str]:
        if not self.orchestrating(state):
            return []
        nudge = delegation.system_nudge(state)
        return [nudge] if nudge else []

    def compaction_actions(self, state: SessionState) -> list[dict[str, Any]]:
        """Ask OpenCode to compact the session once the next request would fill too much of the serving model's
        window. Sent during the turn: OpenCode queues the summary and runs it as soon as the turn's loop ends (also
        in `opencode run`, which would exit before a request sent on `session.idle`)."""
        spec = self.registry.get(state.last.model_id) if state.last else None
        if spec is None:
            return []
        tokens = context_window.request_tokens(state, REQUEST_OVERHEAD_TOKENS)
        now = self.clock()
        if not context_window.should_compact(state, spec.context_window, tokens, now):
            return []
        state.compaction_requested_at = now
        log.info("compaction requested", session=state.session_id, tokens=tokens, window=spec.context_window)
        actions: list[dict[str, Any]] = [
            {
                "call": "session.summarize",
                "args": {
                    "path": {"id": state.session_id},
                    "body": {"providerID": self.provider_id, "modelID": spec.id},
                },
            }
        ]
        if self.settings.toasts:
            from kimchi_plugin.opencode.chat import toast  # chat imports this module

            actions.append(
                toast("Kimchi: compacting", context_window.compaction_note(tokens, spec.context_window, spec.id))
            )
        return actions

    def usage_tool_after(
        self, session_id: str, tool: str, args: Mapping[str, Any], output: Any, metadata: Mapping[str, Any]
    ) -> None:
        """Feed a finished tool call to cost/telemetry accounting (commits, PRs, lines changed)."""
        self.usage.on_tool_after(session_id, tool, args, output if isinstance(output, str) else "", metadata)

    def usage_assistant_message(self, info: dict[str, Any], state: SessionState | None) -> None:
        """Feed an assistant message update to cost/telemetry accounting, tagged with the session's last route."""
        last = state.last if state is not None else None
        route = RouteTag(last.tier.value, last.profile.value, last.source, last.model_id, state.agent) if last else None
        self.usage.on_assistant_message(info, route)

    def usage_event(self, kind: str, session_id: str) -> None:
        """Session idle (flush) or deleted (forget) for accounting."""
        if kind == "session.idle":
            self.usage.on_session_idle(session_id)
        elif kind == "session.deleted":
            self.usage.on_session_deleted(session_id)

    async def close(self) -> None:
        """Flush and stop background work; called on `shutdown` and at end of input."""
        if self._refresh is not None and not self._refresh.done():
            self._refresh.cancel()
        if self.llm is not None:
            await self.llm.close()
        await self.usage.close()


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
