"""What OpenCode's config provides the Brain with, built in one step and swapped whole: the API key and where it
came from, the base URL, the agents' modes, the models the user declared, the catalogue, and from them the model
registry, the router and the LLM second opinion."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from kimchi_plugin.brain.services import LlmClient, LlmSpec, Services
from kimchi_plugin.opencode.vocabulary import BUILTIN_SUBAGENTS, SUBAGENT_MODE
from kimchi_plugin.provider.credentials import find_api_key
from kimchi_plugin.routing.registry import VIRTUAL_IDS, Registry
from kimchi_plugin.routing.router import Learned, Policy, Router
from kimchi_plugin.routing.tiers import Tier
from kimchi_plugin.settings import DEFAULT_BASE_URL, Settings
from kimchi_plugin.usage.prices import Prices, prices_from

BUNDLED = "bundled"  # catalogue source label: the snapshot shipped with the package
FINAL_SOURCES = frozenset({"network", "cache", "stale-cache"})  # a catalogue the provider itself answered with


@dataclass(frozen=True, slots=True)
class ConfigView:
    """The parts of OpenCode's config the Brain reads."""

    api_key: str | None = None
    key_source: str = "none"
    base_url: str = DEFAULT_BASE_URL
    agent_modes: Mapping[str, str] = field(default_factory=dict)
    provider_models: Mapping[str, Any] = field(default_factory=dict)

    def is_primary(self, agent: str | None) -> bool:
        """Primary agents are floored to Coding; no agent means the default (primary) one, and a custom agent
        counts as primary unless its config declares it a subagent."""
        if not agent:
            return True
        mode = self.agent_modes.get(agent)
        if mode is not None:
            return mode != SUBAGENT_MODE
        return agent not in BUILTIN_SUBAGENTS


@dataclass(frozen=True, slots=True)
class Provision:
    view: ConfigView
    registry: Registry
    router: Router
    catalog: str = "none"
    """Where the models came from: network, cache, stale-cache, bundled, none."""
    llm: LlmClient | None = None
    llm_spec: LlmSpec | None = None

    @property
    def final(self) -> bool:
        """Built from a key and a catalogue the provider answered with: a later start would build the same."""
        return self.view.api_key is not None and self.catalog in FINAL_SOURCES


def policy(settings: Settings) -> Policy:
    return Policy(floor_primary=settings.primaryFloor, llm_threshold=settings.llmClassifierThreshold)


def empty(settings: Settings, now: float, learned: Learned | None = None) -> Provision:
    """Before the first config: no models, nothing routed."""
    registry = Registry.build(provider_models=None, api_models=None, pins=None, priorities=None, now=_utc(now))
    return Provision(ConfigView(), registry, Router(registry, policy(settings), learned=learned))


def read_config(config: Mapping[str, Any], settings: Settings, env: Mapping[str, str]) -> ConfigView:
    provider = _mapping(_mapping(config.get("provider")).get(settings.provider))
    options = _mapping(provider.get("options"))
    key_option = settings.apiKey.get_secret_value() if settings.apiKey else None
    api_key, key_source = find_api_key(key_option, options, env)
    base = settings.llmBaseUrl or options.get("baseURL")
    return ConfigView(
        api_key=api_key,
        key_source=key_source,
        base_url=base if isinstance(base, str) and base else DEFAULT_BASE_URL,
        agent_modes={
            name: agent["mode"]
            for name, agent in _mapping(config.get("agent")).items()
            if isinstance(agent, Mapping) and isinstance(agent.get("mode"), str)
        },
        provider_models={k: v for k, v in _mapping(provider.get("models")).items() if k not in VIRTUAL_IDS},
    )


def build(
    view: ConfigView,
    api_models: Sequence[Mapping[str, Any]],
    catalog: str,
    settings: Settings,
    services: Services,
    current: Provision,
    learned: Learned | None = None,
) -> Provision:
    """The registry from the declared models and `api_models`, the router over it, and the LLM client (the current
    one is kept when it would be built the same)."""
    registry = Registry.build(
        provider_models=view.provider_models,
        api_models=api_models,
        pins=settings.models,
        priorities=settings.priorities,
        now=_utc(services.clock()),
    )
    cheapest = registry.cheapest()
    spec = None
    if settings.llmClassifier and view.api_key and cheapest is not None:
        spec = LlmSpec(view.base_url, view.api_key, cheapest.id, settings.llmClassifierTimeoutMs / 1000)
    llm = current.llm if spec is not None and spec == current.llm_spec else (services.make_llm(spec) if spec else None)
    return Provision(view, registry, Router(registry, policy(settings), llm, learned), catalog, llm, spec)


def with_agent_modes(provision: Provision, added: Mapping[str, Any]) -> Provision:
    """Record the modes of agents the config patch adds (the orchestrator is a primary agent)."""
    modes = dict(provision.view.agent_modes)
    for name, agent in added.items():
        if isinstance(agent, Mapping) and isinstance(agent.get("mode"), str):
            modes[name] = agent["mode"]
    return replace(provision, view=replace(provision.view, agent_modes=modes))


def prices(registry: Registry) -> Prices:
    reasoning, coding = registry.best(Tier.REASONING), registry.best(Tier.CODING)
    return prices_from(registry.models(), reasoning.id if reasoning else None, coding.id if coding else None)


def _utc(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, tz=timezone.utc)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
