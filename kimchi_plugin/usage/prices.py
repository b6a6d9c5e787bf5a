"""What tokens cost: token counts of a message, model prices, and the same tokens priced on the reference models.

Pure: prices come from the registry (USD per 1M tokens) as arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kimchi_plugin.routing.registry import TOKENS_PER_PRICE_UNIT


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens and USD of one message (or a sum of messages)."""

    input: int = 0
    output: int = 0
    reasoning: int = 0
    cache_read: int = 0
    cache_write: int = 0
    cost: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input + other.input,
            self.output + other.output,
            self.reasoning + other.reasoning,
            self.cache_read + other.cache_read,
            self.cache_write + other.cache_write,
            self.cost + other.cost,
        )

    def __sub__(self, other: Usage) -> Usage:
        return Usage(
            self.input - other.input,
            self.output - other.output,
            self.reasoning - other.reasoning,
            self.cache_read - other.cache_read,
            self.cache_write - other.cache_write,
            self.cost - other.cost,
        )

    def clamped(self) -> Usage:
        """Negative parts set to zero (what a monotonic counter may add)."""
        return Usage(
            max(self.input, 0),
            max(self.output, 0),
            max(self.reasoning, 0),
            max(self.cache_read, 0),
            max(self.cache_write, 0),
            max(self.cost, 0.0),
        )

    @property
    def is_zero(self) -> bool:
        return self == ZERO

    @property
    def tokens(self) -> int:
        return self.input + self.output + self.reasoning + self.cache_read + self.cache_write

    @property
    def prompt(self) -> int:
        """Tokens the request sent: uncached input, cache reads and cache writes."""
        return self.input + self.cache_read + self.cache_write


ZERO = Usage()


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per 1M tokens. Reasoning tokens are billed as output."""

    input: float
    output: float
    cache_read: float
    cache_write: float

    def cost(self, usage: Usage) -> float:
        return (
            usage.input * self.input
            + (usage.output + usage.reasoning) * self.output
            + usage.cache_read * self.cache_read
            + usage.cache_write * self.cache_write
        ) / TOKENS_PER_PRICE_UNIT


@dataclass(frozen=True, slots=True)
class Prices:
    """Prices of the models involved, and which models are the top Reasoning and top Coding ones."""

    models: Mapping[str, ModelPrice] = field(default_factory=dict)
    top_reasoning: str | None = None
    top_coding: str | None = None

    def get(self, model_id: str | None) -> ModelPrice | None:
        return self.models.get(model_id) if model_id else None


def prices_from(models: Iterable[Any], top_reasoning: str | None, top_coding: str | None) -> Prices:
    """Prices from registry entries (anything with `id`, `cost_input`, `cost_output`, `cost_cache_read`,
    `cost_cache_write` in USD per 1M tokens) and the ids of the top Reasoning and top Coding models."""
    return Prices(
        {m.id: ModelPrice(m.cost_input, m.cost_output, m.cost_cache_read, m.cost_cache_write) for m in models},
        top_reasoning,
        top_coding,
    )


@dataclass(frozen=True, slots=True)
class Baselines:
    """What a usage would have cost on the top Reasoning and top Coding models (None: price unknown)."""

    reasoning_model: str | None
    reasoning_cost: float | None
    coding_model: str | None
    coding_cost: float | None


def baselines(usage: Usage, prices: Prices) -> Baselines:
    """Price the same tokens on the two reference models."""
    top_r, top_c = prices.get(prices.top_reasoning), prices.get(prices.top_coding)
    return Baselines(
        prices.top_reasoning,
        top_r.cost(usage) if top_r else None,
        prices.top_coding,
        top_c.cost(usage) if top_c else None,
    )


def effective_cost(usage: Usage, price: ModelPrice | None) -> float:
    """OpenCode's reported cost when it has one, else our price for the model, else 0."""
    if usage.cost > 0:
        return usage.cost
    return price.cost(usage) if price else 0.0
