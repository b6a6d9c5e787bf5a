"""Model registry: family matching, seeded ranks, pins, priorities, lifecycle and look-ups."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from kimchi_plugin.routing.registry import (
    UNKNOWN_RANK,
    FamilyTable,
    Lifecycle,
    Registry,
    default_families,
    normalize_id,
    unknown_model_tier,
)
from kimchi_plugin.routing.tiers import Tier

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
PAST = "2026-01-01T00:00:00Z"
FUTURE = "2027-01-01T00:00:00Z"
KIMCHI_MODELS = ("kimi-k2.5", "minimax-m2.7", "glm-5-fp8", "nemotron-3-super-fp4")


def build(provider=None, api=None, pins=None, priorities=None, now=NOW) -> Registry:
    return Registry.build(provider_models=provider, api_models=api, pins=pins, priorities=priorities, now=now)


def ids(specs) -> list[str]:
    return [spec.id for spec in specs]


def everything() -> Registry:
    """Every family in the data, available under its first id."""
    return build(provider={family.ids[0]: {} for family in default_families().families})


@pytest.mark.parametrize(
    ("model_id", "family"),
    [
        ("claude-opus-4-6", "claude-opus-4-6"),
        ("claude-opus-4.6", "claude-opus-4-6"),
        ("anthropic/claude-opus-4-6", "claude-opus-4-6"),
        ("claude-opus-4-5-20251101", "claude-opus-4-5"),
        ("claude-opus-4-5", "claude-opus-4-5"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1"),
        ("claude-opus-4-20250514", "claude-opus-4"),
        ("claude-opus-4-0", "claude-opus-4"),
        ("claude-sonnet-4", "claude-sonnet-4"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-sonnet-4-6", "claude-sonnet-4-6"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("minimax-m2.7", "minimax-m2.7"),
        ("minimax-m2.5", "minimax-m2.5"),
        ("MiniMax-M2.7", "minimax-m2.7"),
        ("gpt-4.1", "gpt-4.1"),
        ("gpt-4.1-2025-04-14", "gpt-4.1"),
        ("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
        ("gpt-4.1-nano", "gpt-4.1-nano"),
        ("o3", "o3"),
        ("o3-2025-04-16", "o3"),
        ("o3-mini", "o3-mini"),
        ("o3-mini-2025-01-31", "o3-mini"),
        ("o4-mini-2025-04-16", "o4-mini"),
        ("gemini-2.5-pro-preview-05-06", "gemini-2.5-pro"),
        ("gemini-2.5-flash-preview-04-17", "gemini-2.5-flash"),
        ("gemini-2.0-flash", "gemini-2.0-flash"),
        ("kimi-k2.5", "kimi-k2.5"),
        ("glm-5-fp8", "glm-5"),
        ("nemotron-3-super-fp4", "nemotron-3-super"),
    ],
)
def test_family_matching_handles_versions_dates_and_prefixes(model_id, family):
    matched = default_families().match(model_id)
    assert matched is not None and matched.key == family


@pytest.mark.parametrize(
    "model_id",
    ["kimi-k2", "o3-pro", "gpt-4", "gpt-4.1-turbo", "claude-opus-4-7", "minimax-m2", "gemini-2.5", "claude", ""],
)
def test_unrelated_ids_match_no_family(model_id):
    assert default_families().match(model_id) is None


def test_every_listed_id_matches_only_its_own_family():
    table = default_families()
    for family in table.families:
        for base in family.ids:
            assert table.match(base) is family, base


def test_normalize_id():
    assert normalize_id("OpenRouter/Claude-Opus-4.6") == "claude-opus-4-6"


def test_seed_orders_when_every_family_is_available():
    registry = everything()
    assert ids(registry.ranked(Tier.REASONING)) == [
        "claude-opus-4-6", "claude-opus-4-5", "claude-opus-4-1", "claude-opus-4",
        "o3", "o4-mini", "kimi-k2.5", "o3-mini", "nemotron-3-super", "gemini-2.5-pro",
    ]  # fmt: skip
    assert ids(registry.ranked(Tier.CODING)) == [
        "kimi-k2.5", "claude-sonnet-4-6", "claude-sonnet-4-5", "claude-sonnet-4", "gpt-4.1",
        "gemini-2.5-flash", "minimax-m2.7", "minimax-m2.5", "glm-5", "nemotron-3-super", "gpt-4.1-mini",
    ]  # fmt: skip
    assert ids(registry.ranked(Tier.QUICK)) == [
        "kimi-k2.5", "minimax-m2.7", "minimax-m2.5", "gpt-4.1-nano", "gemini-2.0-flash", "claude-haiku-4-5",
    ]  # fmt: skip


def test_kimchi_models_rank_and_carry_their_data():
    registry = build(provider={model_id: {} for model_id in KIMCHI_MODELS})
    assert ids(registry.ranked(Tier.REASONING)) == ["kimi-k2.5", "nemotron-3-super-fp4"]
    assert ids(registry.ranked(Tier.CODING)) == ["kimi-k2.5", "minimax-m2.7", "glm-5-fp8", "nemotron-3-super-fp4"]
    assert ids(registry.ranked(Tier.QUICK)) == ["kimi-k2.5", "minimax-m2.7"]
    kimi = registry.get("kimi-k2.5")
    assert (kimi.context_window, kimi.cost_input, kimi.cost_output, kimi.reasoning) == (262_144, 0.6, 3.0, True)
    assert kimi.family == "kimi-k2.5" and kimi.fixed_temperature == 1.0
    nemotron = registry.get("nemotron-3-super-fp4")
    assert (nemotron.context_window, nemotron.cost_input, nemotron.cost_output) == (1_000_000, 0.3, 0.75)
    assert registry.get("glm-5-fp8").reasoning is True
    assert registry.primary_tier("kimi-k2.5") is Tier.CODING
    assert registry.primary_tier("nemotron-3-super-fp4") is Tier.REASONING
    assert registry.primary_tier("minimax-m2.7") is Tier.QUICK


def test_only_available_models_are_ranked():
    registry = build(provider={"gpt-4.1-mini": {}}, api=[{"id": "o3"}])
    assert ids(registry.models()) == ["gpt-4.1-mini", "o3"]
    assert registry.best(Tier.QUICK) is None
    assert registry.get("claude-opus-4-6") is None


def test_virtual_ids_are_never_models():
    registry = build(provider={"auto": {}, "reasoning": {}, "Coding": {}, "kimi-k2.5": {}}, api=[{"id": "quick"}])
    assert ids(registry.models()) == ["kimi-k2.5"]
    assert registry.primary_tier("quick") is Tier.QUICK
    assert registry.primary_tier("auto") is Tier.CODING


def test_api_metadata_wins_over_provider_config_and_family_data():
    provider = {"kimi-k2.5": {"name": "Kimi (config)", "limit": {"context": 100_000, "output": 8_000},
                              "cost": {"input": 9.0, "output": 9.0, "cache_read": 0.1}}}  # fmt: skip
    api = [{"id": "kimi-k2.5", "name": "Kimi K2.5 (api)", "context_window": 250_000, "cost_output": 2.5}]
    spec = build(provider=provider, api=api).get("kimi-k2.5")
    assert spec.name == "Kimi K2.5 (api)"
    assert spec.context_window == 250_000  # API
    assert spec.max_output == 8_000  # provider config (API silent)
    assert (spec.cost_input, spec.cost_output, spec.cost_cache_read) == (9.0, 2.5, 0.1)
    assert spec.cost_cache_write == 0.6  # family data


def test_provider_config_fields_are_read_defensively():
    provider = {
        "vision-x": {"limit": {"context": "big", "output": -1}, "cost": {"input": float("nan"), "output": 0.2},
                     "reasoning": "yes", "modalities": {"input": ["text", "image"]}, "tool_call": True},
        "not-a-mapping": 42,
    }  # fmt: skip
    registry = build(provider=provider)
    spec = registry.get("vision-x")
    assert (spec.context_window, spec.max_output) == (128_000, 32_000)  # data defaults
    assert (spec.cost_input, spec.cost_output, spec.reasoning, spec.images) == (1.0, 0.2, False, True)
    assert registry.get("not-a-mapping") is None


@pytest.mark.parametrize(
    ("reasoning", "cost_input", "cost_output", "tier"),
    [(True, 30.0, 60.0, Tier.REASONING), (False, 0.5, 1.5, Tier.QUICK), (False, 1.0, 1.01, Tier.CODING)],
)
def test_unknown_model_tier_rule(reasoning, cost_input, cost_output, tier):
    assert unknown_model_tier(reasoning, cost_input, cost_output) is tier
    api = [{"id": "mystery", "reasoning": reasoning, "cost_input": cost_input, "cost_output": cost_output}]
    registry = build(api=api)
    assert registry.get("mystery").ranks == {tier: UNKNOWN_RANK}
    assert registry.primary_tier("mystery") is tier


def test_unknown_model_without_prices_goes_to_coding_after_known_models():
    registry = build(provider={"mystery": {}, "gpt-4.1-mini": {}})
    assert ids(registry.ranked(Tier.CODING)) == ["gpt-4.1-mini", "mystery"]


def test_equal_ranks_break_ties_by_cost_then_id():
    api = [
        {"id": "zeta", "cost_input": 1.0, "cost_output": 2.0},
        {"id": "alpha", "cost_input": 1.5, "cost_output": 1.5},
        {"id": "cheap", "cost_input": 0.5, "cost_output": 2.0},
    ]
    assert ids(build(api=api).ranked(Tier.CODING)) == ["cheap", "alpha", "zeta"]


def test_pins_put_the_model_first_in_its_tier():
    registry = build(
        provider={model_id: {} for model_id in KIMCHI_MODELS},
        pins={"quick": "glm-5-fp8", "coding": "minimax-m2.7", "reasoning": "nemotron-3-super-fp4"},
    )
    assert ids(registry.ranked(Tier.QUICK)) == ["glm-5-fp8", "kimi-k2.5", "minimax-m2.7"]
    assert ids(registry.ranked(Tier.CODING))[0] == "minimax-m2.7"
    assert registry.best(Tier.REASONING).id == "nemotron-3-super-fp4"
    assert registry.primary_tier("glm-5-fp8") is Tier.QUICK
    assert registry.warnings == ()


def test_pins_beat_any_priority_and_bad_pins_are_reported():
    registry = build(
        provider={"kimi-k2.5": {}, "minimax-m2.7": {}, "old": {"sunset_at": PAST}},
        pins={"quick": "minimax-m2.7", "coding": "absent", "fast": "kimi-k2.5", "reasoning": "old"},
        priorities={"kimi-k2.5": {"quick": -100}},
    )
    assert ids(registry.ranked(Tier.QUICK)) == ["minimax-m2.7", "kimi-k2.5"]
    assert registry.best(Tier.CODING).id == "kimi-k2.5"
    assert len(registry.warnings) == 3
    assert all("models: ignored pin" in warning for warning in registry.warnings)


def test_priorities_override_ranks_and_add_tiers():
    registry = build(
        provider={model_id: {} for model_id in KIMCHI_MODELS},
        priorities={"nemotron-3-super-fp4": {"coding": 1, "quick": 5}, "kimi-k2.5": {"reasoning": 99}},
    )
    assert ids(registry.ranked(Tier.CODING))[:2] == ["nemotron-3-super-fp4", "kimi-k2.5"]
    assert ids(registry.ranked(Tier.QUICK)) == ["nemotron-3-super-fp4", "kimi-k2.5", "minimax-m2.7"]
    assert ids(registry.ranked(Tier.REASONING)) == ["nemotron-3-super-fp4", "kimi-k2.5"]
    assert registry.get("nemotron-3-super-fp4").ranks[Tier.REASONING] == 45  # untouched tier kept


def test_priorities_can_place_an_unknown_model_and_bad_entries_are_reported():
    registry = build(
        provider={"mystery": {}, "kimi-k2.5": {}},
        priorities={"mystery": {"quick": 1, "turbo": 3, "coding": "1"}, "absent": {"quick": 1}},
    )
    assert registry.best(Tier.QUICK).id == "mystery"
    assert registry.get("mystery").ranks == {Tier.CODING: UNKNOWN_RANK, Tier.QUICK: 1}
    assert len(registry.warnings) == 3


def test_sunset_models_are_never_picked_but_stay_visible():
    provider = {
        "kimi-k2.5": {"sunset_at": PAST, "replacement_model": "kimi-k3"},
        "minimax-m2.7": {},
    }
    registry = build(provider=provider)
    assert registry.lifecycle("kimi-k2.5") is Lifecycle.SUNSET
    assert registry.get("kimi-k2.5").replacement == "kimi-k3"
    assert "kimi-k2.5" not in ids(registry.models())
    for tier in Tier:
        assert "kimi-k2.5" not in ids(registry.ranked(tier))
    assert registry.best(Tier.REASONING) is None
    assert registry.cheapest().id == "minimax-m2.7"
    assert registry.with_larger_context(Tier.QUICK, 250_000) is None


def test_future_dates_do_not_retire_a_model():
    registry = build(provider={"kimi-k2.5": {"deprecated_at": FUTURE, "sunset_at": FUTURE}})
    assert registry.lifecycle("kimi-k2.5") is Lifecycle.ACTIVE
    assert registry.best(Tier.CODING).id == "kimi-k2.5"


def test_deprecated_models_come_last_and_only_serve_when_alone():
    registry = build(
        provider={"kimi-k2.5": {"deprecated_at": PAST}, "minimax-m2.7": {}, "nemotron-3-super-fp4": {}},
        pins={"coding": "kimi-k2.5"},
    )
    assert registry.lifecycle("kimi-k2.5") is Lifecycle.DEPRECATED
    assert ids(registry.ranked(Tier.CODING)) == ["minimax-m2.7", "nemotron-3-super-fp4", "kimi-k2.5"]
    assert ids(registry.ranked(Tier.QUICK)) == ["minimax-m2.7", "kimi-k2.5"]
    alone = build(provider={"kimi-k2.5": {"status": "deprecated"}})
    assert alone.lifecycle("kimi-k2.5") is Lifecycle.DEPRECATED
    assert alone.best(Tier.QUICK).id == "kimi-k2.5"


def test_models_without_tool_calls_are_not_routed():
    registry = build(api=[{"id": "kimi-k2.5", "tool_call": False}, {"id": "minimax-m2.7"}])
    assert ids(registry.models()) == ["minimax-m2.7"]
    assert registry.get("kimi-k2.5") is not None


def test_larger_context_searches_same_tier_then_neighbours():
    registry = everything()
    assert registry.with_larger_context(Tier.REASONING, 150_000).id == "claude-opus-4-6"
    assert registry.with_larger_context(Tier.REASONING, 210_000).id == "kimi-k2.5"
    assert registry.with_larger_context(Tier.REASONING, 300_000).id == "nemotron-3-super"
    assert registry.with_larger_context(Tier.QUICK, 300_000).id == "gpt-4.1-nano"
    assert registry.with_larger_context(Tier.QUICK, 300_000, exclude={"gpt-4.1-nano", "gemini-2.0-flash"}).id == (
        "gpt-4.1"  # quick has nothing left, so coding is searched next
    )
    assert registry.with_larger_context(Tier.QUICK, 1_048_000).id == "gemini-2.0-flash"
    assert registry.with_larger_context(Tier.CODING, 2_000_000) is None


def test_larger_context_prefers_an_active_model_in_another_tier_over_a_deprecated_one():
    registry = build(provider={"kimi-k2.5": {"deprecated_at": PAST}, "gpt-4.1": {}})
    assert registry.with_larger_context(Tier.QUICK, 200_000).id == "gpt-4.1"
    assert registry.with_larger_context(Tier.QUICK, 200_000, exclude=("gpt-4.1",)).id == "kimi-k2.5"


def test_cost_in_usd():
    kimi = build(provider={"kimi-k2.5": {}}).get("kimi-k2.5")
    assert kimi.cost(1_000_000, 1_000_000) == pytest.approx(3.6)
    opus = build(provider={"claude-opus-4-6": {}}).get("claude-opus-4-6")
    assert opus.cost(10_000, 2_000, cache_read=100_000, cache_write=20_000) == pytest.approx(
        (10_000 * 5 + 2_000 * 25 + 100_000 * 0.5 + 20_000 * 6.25) / 1_000_000
    )


def test_unknown_model_cache_prices_default_to_its_input_price():
    spec = build(api=[{"id": "mystery", "cost_input": 0.7}]).get("mystery")
    assert (spec.cost_cache_read, spec.cost_cache_write) == (0.7, 0.7)


def test_cheapest_prefers_models_without_a_thinking_phase():
    registry = build(provider={"kimi-k2.5": {}, "nemotron-3-super-fp4": {}, "gpt-4.1-mini": {}})
    assert registry.cheapest().id == "gpt-4.1-mini"
    assert build(provider={model_id: {} for model_id in KIMCHI_MODELS}).cheapest().id == "nemotron-3-super-fp4"
    assert build(provider={}).cheapest() is None


def test_primary_tier_of_models_not_available():
    registry = build(provider={})
    assert registry.primary_tier("claude-opus-4-6") is Tier.REASONING
    assert registry.primary_tier("gpt-4.1-nano-2025-04-14") is Tier.QUICK
    assert registry.primary_tier("who-knows") is Tier.CODING


def test_build_is_deterministic_whatever_the_input_order():
    models = [family.ids[0] for family in default_families().families] + ["mystery-a", "mystery-b"]
    orders = set()
    for seed in range(5):
        shuffled = models[:]
        random.Random(seed).shuffle(shuffled)
        registry = build(provider={m: {} for m in shuffled[::2]}, api=[{"id": m} for m in shuffled[1::2]])
        orders.add(tuple(tuple(ids(registry.ranked(tier))) for tier in Tier) + (tuple(ids(registry.models())),))
    assert len(orders) == 1


def test_naive_now_is_taken_as_utc():
    registry = build(provider={"kimi-k2.5": {"sunset_at": "2026-03-01T11:00:00"}}, now=NOW.replace(tzinfo=None))
    assert registry.lifecycle("kimi-k2.5") is Lifecycle.SUNSET
    later = build(provider={"kimi-k2.5": {"sunset_at": "2026-03-01T13:00:00+00:00"}}, now=NOW - timedelta(days=1))
    assert later.lifecycle("kimi-k2.5") is Lifecycle.ACTIVE


def test_family_data_is_validated():
    good = {"defaults": {"context_window": 1, "max_output": 1, "cost_input": 0, "cost_output": 0}, "families": []}
    assert FamilyTable.from_json(good).families == ()
    family = {"family": "x", "name": "X", "ids": ["x"], "ranks": {"coding": UNKNOWN_RANK}, "context_window": 1,
              "max_output": 1, "cost": {"input": 0, "output": 0, "cache_read": 0, "cache_write": 0},
              "reasoning": False, "images": False}  # fmt: skip
    with pytest.raises(ValueError, match="bad rank"):
        FamilyTable.from_json({**good, "families": [family]})
    with pytest.raises(ValueError, match="duplicate"):
        ok = {**family, "ranks": {"coding": 1}}
        FamilyTable.from_json({**good, "families": [ok, ok]})
