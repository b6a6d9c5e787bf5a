"""Model registry: which models the user has, what they cost, and how they rank in each tier.

Pure: metadata arrives as mappings and the clock as `now`; family defaults and ranks come from the
bundled `data/models.json`, validated by the pydantic models of `model_families`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from kimchi_plugin.routing.model_families import TOKENS_PER_PRICE_UNIT, UNKNOWN_RANK, Defaults, Family, ModelsFile
from kimchi_plugin.routing.model_metadata import (
    aware,
    from_metadata,
    from_provider_config,
    parse_datetime,
    read_flag,
    read_positive_int,
    read_price,
    read_text,
)
from kimchi_plugin.routing.tiers import TIER_ORDER, Tier

__all__ = [
    "TOKENS_PER_PRICE_UNIT",
    "UNKNOWN_RANK",
    "Family",
    "FamilyTable",
    "ModelSpec",
    "Registry",
    "parse_datetime",
    "read_flag",
    "read_positive_int",
    "read_price",
    "read_text",
]

# The bundled model families, read by path as provider/bundled.py reads the catalogue (importlib.resources
# opens them through its readers, which start-up need not import before the config answer).
MODELS_FILE = Path(__file__).resolve().parents[1] / "data" / "models.json"
# Unknown non-reasoning models whose input + output price (USD per 1M) is at most this go to Quick.
QUICK_MAX_BLENDED_COST = 2.0
# Tier for ids nothing is known about (and for the `auto` virtual id).
DEFAULT_TIER = Tier.CODING
# Ids the plugin itself offers as routing targets; they never name a real model.
AUTO_ID = "auto"  # the routed virtual model; each tier is a virtual model too
VIRTUAL_IDS = frozenset({AUTO_ID, *(tier.value for tier in Tier)})

# Where to look for a larger context window once the requested tier has none: the nearest tier
# by capability first, the more capable one on a tie.
_NEIGHBOUR_TIERS: dict[Tier, tuple[Tier, ...]] = {
    Tier.REASONING: (Tier.CODING, Tier.QUICK),
    Tier.CODING: (Tier.REASONING, Tier.QUICK),
    Tier.QUICK: (Tier.CODING, Tier.REASONING),
}
_TIER_INDEX = {tier: index for index, tier in enumerate(TIER_ORDER)}

# What may follow a family's base id: a quantisation tag, then a date or release-channel tag.
_ID_SUFFIX = (
    r"(?:-(?:fp|int)\d+)?"
    r"(?:[-@]\d{8}|-\d{4}-\d{2}-\d{2}|-latest|-exp|-preview(?:-\d{2}-\d{2}|-\d{4}-\d{2}-\d{2})?)?"
)


class Lifecycle(str, Enum):
    """Where a model stands on its provider's retirement schedule at the registry's `now`."""

    ACTIVE = "active"
    DEPRECATED = "deprecated"  # still served; picked only when nothing else serves the tier
    SUNSET = "sunset"  # no longer served; never picked


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One available model with its merged metadata and its rank in each tier it serves."""

    id: str
    name: str
    family: str | None
    context_window: int
    max_output: int
    cost_input: float
    cost_output: float
    cost_cache_read: float
    cost_cache_write: float
    reasoning: bool
    images: bool
    tool_call: bool
    fixed_temperature: float | None
    deprecated_at: datetime | None
    sunset_at: datetime | None
    replacement: str | None
    deprecation_note: str | None
    ranks: Mapping[Tier, int] = field(hash=False)

    @property
    def blended_cost(self) -> float:
        """Input plus output price per 1M tokens: the tie-breaker between equal ranks."""
        return self.cost_input + self.cost_output

    def cost(self, input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0) -> float:
        """USD for one call with these token counts."""
        return (
            input_tokens * self.cost_input
            + output_tokens * self.cost_output
            + cache_read * self.cost_cache_read
            + cache_write * self.cost_cache_write
        ) / TOKENS_PER_PRICE_UNIT


class FamilyTable:
    """The bundled families plus the matcher that maps a model id to its family."""

    __slots__ = ("_by_group", "_matcher", "defaults", "families")

    def __init__(self, families: Sequence[Family], defaults: Defaults) -> None:
        self.families = tuple(families)
        self.defaults = defaults
        alternatives = []
        self._by_group: dict[str, Family] = {}
        for index, family in enumerate(self.families):
            group = f"f{index}"
            self._by_group[group] = family
            bases = "|".join(re.escape(normalize_id(base)) for base in family.ids)
            alternatives.append(f"(?P<{group}>{bases})")
        self._matcher = re.compile(f"^(?:{'|'.join(alternatives)}){_ID_SUFFIX}$")

    def match(self, model_id: str) -> Family | None:
        """The family `model_id` belongs to, or None."""
        found = self._matcher.match(normalize_id(model_id))
        return self._by_group[found.lastgroup] if found and found.lastgroup else None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FamilyTable:
        """Build from the `models.json` document; raises ValueError (a pydantic ValidationError) on malformed data."""
        document = ModelsFile.model_validate(data)
        return cls(document.families, document.defaults)


def normalize_id(model_id: str) -> str:
    """Lowercase, without any `provider/` prefix, dots written as dashes (`claude-opus-4.6` ≡ `-4-6`)."""
    return model_id.rsplit("/", 1)[-1].strip().lower().replace(".", "-")


@cache
def default_families() -> FamilyTable:
    """The families bundled with the package (read once)."""
    text = MODELS_FILE.read_text(encoding="utf-8")
    return FamilyTable.from_json(json.loads(text))


def unknown_model_tier(reasoning: bool, cost_input: float, cost_output: float) -> Tier:
    """Tier of a model with no family: reasoning-capable → Reasoning; cheap → Quick; else Coding."""
    if reasoning:
        return Tier.REASONING
    if cost_input + cost_output <= QUICK_MAX_BLENDED_COST:
        return Tier.QUICK
    return Tier.CODING


class Registry:
    """The models the user has, ranked per tier; immutable once built."""

    __slots__ = ("_families", "_lifecycle", "_primary", "_ranked", "_specs", "_usable", "now", "warnings")

    def __init__(
        self,
        specs: Mapping[str, ModelSpec],
        pins: Mapping[Tier, str],
        now: datetime,
        families: FamilyTable,
        warnings: Sequence[str],
    ) -> None:
        self.now = now
        self.warnings = tuple(warnings)
        self._families = families
        self._specs = dict(specs)
        self._lifecycle = {model_id: _lifecycle(spec, now) for model_id, spec in self._specs.items()}
        self._usable = tuple(
            spec
            for _, spec in sorted(self._specs.items())
            if spec.tool_call and self._lifecycle[spec.id] is not Lifecycle.SUNSET
        )
        self._ranked = {tier: self._rank_tier(tier, pins.get(tier)) for tier in Tier}
        self._primary = {spec.id: _best_tier_of(spec.ranks, pins, spec.id) for spec in self._specs.values()}

    @classmethod
    def build(
        cls,
        *,
        provider_models: Mapping[str, Mapping[str, Any]] | None,
        api_models: Sequence[Mapping[str, Any]] | None,
        pins: Mapping[str, str] | None,
        priorities: Mapping[str, Mapping[str, int]] | None,
        now: datetime,
        families: FamilyTable | None = None,
    ) -> Registry:
        """Merge provider-config and API metadata (API wins) over family defaults, then rank.

        `api_models` entries use ModelSpec field names (`id`, `context_window`, `cost_input`, ...).
        Invalid pins and priorities are ignored and described in `warnings`.
        """
        families = families or default_families()
        now = aware(now)
        warnings: list[str] = []
        metadata: dict[str, dict[str, Any]] = {}
        for model_id, config in (provider_models or {}).items():
            if _is_model_id(model_id) and isinstance(config, Mapping):
                metadata.setdefault(model_id, {}).update(from_provider_config(config, now))
        for entry in api_models or ():
            entry_id = entry.get("id") if isinstance(entry, Mapping) else None
            if isinstance(entry_id, str) and _is_model_id(entry_id):
                metadata.setdefault(entry_id, {}).update(from_metadata(entry))
        specs = {model_id: _make_spec(model_id, fields, families) for model_id, fields in metadata.items()}
        _apply_priorities(specs, priorities or {}, warnings)
        tier_pins = _parse_pins(pins or {}, specs, now, warnings)
        return cls(specs, tier_pins, now, families, warnings)

    def get(self, model_id: str) -> ModelSpec | None:
        """The available model with this exact id (sunset ones included, for warnings)."""
        return self._specs.get(model_id)

    def lifecycle(self, model_id: str) -> Lifecycle | None:
        """Retirement state of an available model at the registry's `now`."""
        return self._lifecycle.get(model_id)

    def ranked(self, tier: Tier) -> tuple[ModelSpec, ...]:
        """Usable models serving `tier`, best first; deprecated ones after all others."""
        return self._ranked[tier]

    def best(self, tier: Tier) -> ModelSpec | None:
        """The model to route `tier` to, or None when nothing serves it."""
        ranked = self._ranked[tier]
        return ranked[0] if ranked else None

    def primary_tier(self, model_id: str) -> Tier:
        """The tier a concrete pick of `model_id` works in: its best-ranked (or pinned) tier."""
        if model_id in self._primary:
            return self._primary[model_id]
        if model_id in VIRTUAL_IDS and model_id != AUTO_ID:
            return Tier(model_id)
        family = self._families.match(model_id)
        return _best_tier_of(family.ranks, {}, "") if family else DEFAULT_TIER

    def with_larger_context(
        self, tier: Tier | Sequence[Tier], needed_tokens: float, exclude: Collection[str] = ()
    ) -> ModelSpec | None:
        """Best model whose window holds `needed_tokens`: `tier` first, then neighbouring tiers (or the tiers of a
        given search order, e.g. the router's escalation order).

        Deprecated models are considered only when no active model anywhere fits.
        """
        search = (tier, *_NEIGHBOUR_TIERS[tier]) if isinstance(tier, Tier) else tuple(tier)
        for want_deprecated in (False, True):
            for candidate_tier in search:
                for spec in self._ranked[candidate_tier]:
                    if (
                        spec.context_window >= needed_tokens
                        and spec.id not in exclude
                        and (self._lifecycle[spec.id] is Lifecycle.DEPRECATED) == want_deprecated
                    ):
                        return spec
        return None

    def cheapest(self) -> ModelSpec | None:
        """Model for the LLM classifier: active before deprecated, no thinking phase, lowest price."""
        if not self._usable:
            return None
        return min(
            self._usable,
            key=lambda spec: (self._is_deprecated(spec), spec.reasoning, spec.blended_cost, spec.id),
        )

    def models(self) -> tuple[ModelSpec, ...]:
        """Every usable model (not sunset, supports tools), ordered by id."""
        return self._usable

    def _is_deprecated(self, spec: ModelSpec) -> bool:
        return self._lifecycle[spec.id] is Lifecycle.DEPRECATED

    def _rank_tier(self, tier: Tier, pinned: str | None) -> tuple[ModelSpec, ...]:
        serving = [spec for spec in self._usable if tier in spec.ranks]
        serving.sort(
            key=lambda spec: (
                self._is_deprecated(spec),
                spec.id != pinned,
                spec.ranks[tier],
                spec.blended_cost,
                spec.id,
            )
        )
        return tuple(serving)


def _lifecycle(spec: ModelSpec, now: datetime) -> Lifecycle:
    if spec.sunset_at is not None and now >= spec.sunset_at:
        return Lifecycle.SUNSET
    if spec.deprecated_at is not None and now >= spec.deprecated_at:
        return Lifecycle.DEPRECATED
    return Lifecycle.ACTIVE


def _best_tier_of(ranks: Mapping[Tier, int], pins: Mapping[Tier, str], model_id: str) -> Tier:
    if not ranks:
        return DEFAULT_TIER
    return min(ranks, key=lambda tier: (pins.get(tier) != model_id, ranks[tier], _TIER_INDEX[tier]))


def _is_model_id(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip()) and value.strip().lower() not in VIRTUAL_IDS


def _make_spec(model_id: str, fields: Mapping[str, Any], families: FamilyTable) -> ModelSpec:
    family = families.match(model_id)
    base: dict[str, Any] = {
        **(family.spec_fields() if family else families.defaults.spec_fields(model_id)),
        "tool_call": True,
        "deprecation_note": None,
        **fields,
    }
    # Without a known cache price, cached tokens are charged as plain input (the safe assumption).
    for cache_field in ("cost_cache_read", "cost_cache_write"):
        if base[cache_field] is None:
            base[cache_field] = base["cost_input"]
    if family:
        ranks = dict(family.ranks)
    else:
        ranks = {unknown_model_tier(base["reasoning"], base["cost_input"], base["cost_output"]): UNKNOWN_RANK}
    return ModelSpec(id=model_id, family=family.key if family else None, ranks=MappingProxyType(ranks), **base)


def _apply_priorities(
    specs: dict[str, ModelSpec], priorities: Mapping[str, Mapping[str, int]], warnings: list[str]
) -> None:
    for model_id, overrides in priorities.items():
        spec = specs.get(model_id)
        if spec is None or not isinstance(overrides, Mapping):
            warnings.append(f"priorities: ignored entry for unavailable model {model_id!r}")
            continue
        ranks = dict(spec.ranks)
        for tier_name, rank in overrides.items():
            tier = _tier(tier_name)
            if tier is None or not _is_int(rank):
                warnings.append(f"priorities: ignored {model_id!r} {tier_name!r}={rank!r}")
                continue
            ranks[tier] = rank
        specs[model_id] = _replace_ranks(spec, ranks)


def _replace_ranks(spec: ModelSpec, ranks: Mapping[Tier, int]) -> ModelSpec:
    values = {name: getattr(spec, name) for name in ModelSpec.__dataclass_fields__}
    values["ranks"] = MappingProxyType(dict(ranks))
    return ModelSpec(**values)


def _parse_pins(
    pins: Mapping[str, str], specs: dict[str, ModelSpec], now: datetime, warnings: list[str]
) -> dict[Tier, str]:
    """Valid pins by tier; a model pinned to a tier it does not serve joins that tier."""
    parsed: dict[Tier, str] = {}
    for tier_name, model_id in pins.items():
        tier = _tier(tier_name)
        spec = specs.get(model_id) if isinstance(model_id, str) else None
        if tier is None or spec is None:
            warnings.append(f"models: ignored pin {tier_name!r} -> {model_id!r} (unknown tier or unavailable model)")
        elif _lifecycle(spec, now) is Lifecycle.SUNSET or not spec.tool_call:
            warnings.append(f"models: ignored pin {tier_name!r} -> {model_id!r} (model cannot be used)")
        else:
            parsed[tier] = model_id
            if tier not in spec.ranks:
                specs[model_id] = _replace_ranks(spec, {**spec.ranks, tier: UNKNOWN_RANK})
    return parsed


def _tier(name: object) -> Tier | None:
    try:
        return Tier(name)
    except ValueError:
        return None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
