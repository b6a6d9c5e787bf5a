"""Provider auto-configuration for OpenCode's `config` hook: the Kimchi provider, its models and virtual models,
our slash commands, the orchestrator agent and subagent defaults. It only ever adds: a value the user set is never
overwritten."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kimchi_plugin.opencode.vocabulary import ORCHESTRATOR_AGENT, SUBAGENT_MODE, SYSTEM_AGENTS
from kimchi_plugin.routing import commands
from kimchi_plugin.routing.prompts import ORCHESTRATOR_DESCRIPTION, orchestrator_prompt
from kimchi_plugin.routing.registry import AUTO_ID, ModelSpec, Registry
from kimchi_plugin.routing.router import SUBAGENT_TIERS
from kimchi_plugin.routing.tiers import Tier

SDK_PACKAGE = "@ai-sdk/openai-compatible"


@dataclass(frozen=True, slots=True)
class Provisioning:
    provider_id: str
    base_url: str
    api_key: str | None
    orchestrator: bool = True


def model_entry(spec: ModelSpec, name: str | None = None, api_id: str | None = None) -> dict[str, Any]:
    """An OpenCode provider model entry for `spec` (costs per 1M tokens, limits in tokens)."""
    entry: dict[str, Any] = {
        "name": name or spec.name,
        "tool_call": True,
        "reasoning": spec.reasoning,
        "attachment": spec.images,
        "limit": {"context": spec.context_window, "output": spec.max_output},
        "cost": {
            "input": spec.cost_input,
            "output": spec.cost_output,
            "cache_read": spec.cost_cache_read,
            "cache_write": spec.cost_cache_write,
        },
    }
    if spec.images:
        entry["modalities"] = {"input": ["text", "image"], "output": ["text"]}
    if api_id:
        entry["id"] = api_id  # what is sent to the API if the message is not re-routed (brain unavailable)
    return entry


def virtual_entries(registry: Registry) -> dict[str, dict[str, Any]]:
    """`auto` and one entry per tier, named after the model each currently maps to."""
    entries: dict[str, dict[str, Any]] = {}
    coding = registry.best(Tier.CODING) or registry.best(Tier.REASONING) or registry.best(Tier.QUICK)
    if coding is not None:
        entries[AUTO_ID] = model_entry(coding, name="Kimchi Auto (routed)", api_id=coding.id)
    for tier in Tier:
        best = registry.best(tier)
        if best is not None:
            entries[tier.value] = model_entry(
                best, name=f"Kimchi {tier.value.capitalize()} ({best.id})", api_id=best.id
            )
    return entries


def _uses_kimchi(config: Mapping[str, Any], provider_id: str) -> bool:
    model = config.get("model")
    return not isinstance(model, str) or model.startswith(f"{provider_id}/")


def configure(config: Mapping[str, Any], registry: Registry, setup: Provisioning) -> dict[str, Any]:
    """The patch that completes the user's configuration. The shim merges objects recursively, so the patch holds
    only additions: nothing the user wrote is echoed back (their provider options carry their API key)."""
    pid = setup.provider_id
    patch: dict[str, Any] = {}

    providers = _mapping(config.get("provider"))
    existing = _mapping(providers.get(pid))
    provider_patch: dict[str, Any] = {}
    if pid not in providers:
        options: dict[str, Any] = {"baseURL": setup.base_url}
        if setup.api_key:
            options["apiKey"] = setup.api_key  # found outside OpenCode's config: OpenCode needs it to call the API
        provider_patch = {"npm": SDK_PACKAGE, "name": "Kimchi", "options": options}
    have = _mapping(existing.get("models"))
    wanted = {spec.id: model_entry(spec) for spec in registry.models()}
    wanted.update(virtual_entries(registry))
    served = {*have, *wanted}  # model ids the provider will have: nothing is ever pointed elsewhere
    added_models = {model_id: entry for model_id, entry in wanted.items() if model_id not in have}
    if added_models:
        provider_patch["models"] = added_models
    if provider_patch:
        patch["provider"] = {pid: provider_patch}

    user_commands = _mapping(config.get("command"))
    added = {
        name: {"template": f"/{name} $ARGUMENTS", "description": description}
        for name, description in commands.REGISTERED.items()
        if name not in user_commands
    }
    if added:
        patch["command"] = added

    if not _uses_kimchi(config, pid):
        return patch  # Kimchi is available, but the user's main provider is another one: leave their agents alone
    if not isinstance(config.get("model"), str) and AUTO_ID in served:
        patch["model"] = f"{pid}/{AUTO_ID}"
    quick = registry.best(Tier.QUICK) or registry.best(Tier.CODING)
    if not isinstance(config.get("small_model"), str) and quick is not None:
        patch["small_model"] = f"{pid}/{quick.id}"

    agents = _mapping(config.get("agent"))
    agent_patch: dict[str, Any] = {}
    defaults = {name: tier.value for name, tier in SUBAGENT_TIERS.items()}
    if quick is not None:
        defaults.update({name: quick.id for name in SYSTEM_AGENTS})
    for name, model_id in defaults.items():
        if model_id in served and not isinstance(_mapping(agents.get(name)).get("model"), str):
            agent_patch[name] = {"model": f"{pid}/{model_id}"}
    if setup.orchestrator and ORCHESTRATOR_AGENT not in agents and AUTO_ID in served:
        by_tier = {tier: [m.id for m in registry.ranked(tier)] for tier in Tier}
        agent_patch[ORCHESTRATOR_AGENT] = {
            "mode": "primary",
            "model": f"{pid}/{AUTO_ID}",
            "description": ORCHESTRATOR_DESCRIPTION,
            "prompt": orchestrator_prompt(by_tier, _subagents(agents)),
        }
        if not isinstance(config.get("default_agent"), str):
            patch["default_agent"] = ORCHESTRATOR_AGENT
    if agent_patch:
        patch["agent"] = agent_patch
    return patch


def _subagents(agents: Mapping[str, Any]) -> list[str]:
    """OpenCode's built-in subagents plus the user's own (mode `subagent`, not disabled)."""
    names = [name for name in SUBAGENT_TIERS if not _mapping(agents.get(name)).get("disable")]
    for name, agent in agents.items():
        agent = _mapping(agent)
        if agent.get("mode") == SUBAGENT_MODE and not agent.get("disable") and name not in names:
            names.append(name)
    return names


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
