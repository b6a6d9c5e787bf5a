"""The `config` patch: orchestrator agent and subagent defaults are only ever added, never overwrite the user."""

from __future__ import annotations

from session_support import registry

from kimchi_plugin.provider import autoconfig
from kimchi_plugin.routing.tiers import Tier

KIMI, SONNET, OPUS, HAIKU = "kimi-k2.5", "claude-sonnet-4", "claude-opus-4-6", "claude-haiku-4-5"
SETUP = autoconfig.Provisioning(provider_id="kimchi", base_url="http://x/v1", api_key=None)
REG = registry(OPUS, SONNET, HAIKU)


def configure(config: dict, setup: autoconfig.Provisioning = SETUP) -> dict:
    return autoconfig.configure(config, REG, setup)


def test_orchestrator_is_added_and_made_default_when_the_user_chose_nothing() -> None:
    patch = configure({"model": "kimchi/auto"})
    agent = patch["agent"]["kimchi-auto"]
    assert (agent["mode"], agent["model"]) == ("primary", "kimchi/auto")
    assert patch["default_agent"] == "kimchi-auto"
    prompt = agent["prompt"]
    assert f"- Reasoning (planning, architecture, debugging, review): {OPUS}" in prompt
    assert f"- Coding (implementation, refactoring, tests): {SONNET}" in prompt
    assert f"- Quick (lookups, summaries, simple questions): {HAIKU}" in prompt
    assert "Subagents available: @explore, @general." in prompt


def test_user_orchestrator_and_default_agent_are_kept() -> None:
    patch = configure({"model": "kimchi/auto", "agent": {"kimchi-auto": {"prompt": "mine"}}})
    assert "kimchi-auto" not in patch.get("agent", {}) and "default_agent" not in patch
    patch = configure({"model": "kimchi/auto", "default_agent": "build"})
    assert "kimchi-auto" in patch["agent"] and "default_agent" not in patch


def test_subagent_and_system_agent_defaults_only_where_no_model_is_set() -> None:
    patch = configure(
        {"model": "kimchi/auto", "agent": {"explore": {"model": "other/fast"}, "title": {"temperature": 0.1}}}
    )
    agents = patch["agent"]
    assert "explore" not in agents
    assert agents["general"] == {"model": "kimchi/coding"}
    assert agents["title"] == {"model": f"kimchi/{HAIKU}"}  # only the model is added to the user's entry
    assert agents["summary"] == agents["compaction"] == {"model": f"kimchi/{HAIKU}"}


def test_nothing_agent_related_when_kimchi_is_not_the_users_provider() -> None:
    patch = configure({"model": "anthropic/claude-sonnet-4"})
    assert "agent" not in patch and "default_agent" not in patch and "small_model" not in patch
    assert "kimchi" in patch["provider"]  # the models are still offered


def test_orchestrator_can_be_switched_off() -> None:
    off = autoconfig.Provisioning(provider_id="kimchi", base_url="http://x/v1", api_key=None, orchestrator=False)
    patch = configure({"model": "kimchi/auto"}, off)
    assert "kimchi-auto" not in patch["agent"] and "default_agent" not in patch


def test_user_subagents_are_listed_and_disabled_ones_are_not() -> None:
    config = {
        "model": "kimchi/auto",
        "agent": {"docs-writer": {"mode": "subagent"}, "general": {"disable": True}, "reviewer": {"mode": "primary"}},
    }
    prompt = configure(config)["agent"]["kimchi-auto"]["prompt"]
    assert "Subagents available: @explore, @docs-writer." in prompt


def test_prompt_lists_models_per_tier_in_rank_order() -> None:
    reg = registry(KIMI, SONNET)
    prompt = autoconfig.configure({}, reg, SETUP)["agent"]["kimchi-auto"]["prompt"]
    coding = [m.id for m in reg.ranked(Tier.CODING)]
    assert f"- Coding (implementation, refactoring, tests): {', '.join(coding)}" in prompt
