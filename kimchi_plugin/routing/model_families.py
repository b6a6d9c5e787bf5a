"""The bundled model families (`data/models.json`) as validated pydantic models.

A family holds what every model id of that family defaults to; `spec_fields` gives it under `ModelSpec`'s field
names, so the registry merges it with metadata without repeating the fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from kimchi_plugin.routing.model_metadata import parse_datetime, read_text
from kimchi_plugin.routing.tiers import Tier

# Prices are USD per this many tokens (per 1M).
TOKENS_PER_PRICE_UNIT = 1_000_000
# Rank of a model the data has no family for; every rank in the data is below it.
UNKNOWN_RANK = 1000

Price = Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)]
Count = Annotated[int, Field(strict=True, gt=0)]


class Cost(BaseModel):
    """USD per 1M tokens."""

    model_config = ConfigDict(frozen=True)

    input: Price
    output: Price
    cache_read: Price
    cache_write: Price


class Defaults(BaseModel):
    """Metadata for a model the data has no family for, field by field."""

    model_config = ConfigDict(frozen=True)

    context_window: Count
    max_output: Count
    cost_input: Price
    cost_output: Price

    def spec_fields(self, model_id: str) -> dict[str, Any]:
        """`ModelSpec` fields of an unknown model (cache prices unknown: None)."""
        return {
            "name": model_id,
            "context_window": self.context_window,
            "max_output": self.max_output,
            "cost_input": self.cost_input,
            "cost_output": self.cost_output,
            "cost_cache_read": None,
            "cost_cache_write": None,
            "reasoning": False,
            "images": False,
            "fixed_temperature": None,
            "deprecated_at": None,
            "sunset_at": None,
            "replacement": None,
        }


class Family(BaseModel):
    """Bundled defaults and tier ranks for every model id of one family."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(alias="family")
    name: str
    ids: tuple[Annotated[str, Field(min_length=1)], ...] = Field(min_length=1)
    ranks: dict[Tier, int]
    context_window: Count
    max_output: Count
    cost: Cost
    reasoning: StrictBool
    images: StrictBool
    fixed_temperature: Price | None = None
    deprecated_at: datetime | None = None
    sunset_at: datetime | None = None
    replacement: str | None = None

    @field_validator("ranks", mode="before")
    @classmethod
    def _ranks(cls, value: object) -> object:
        if not isinstance(value, dict) or not value:
            raise ValueError("serves no tier")
        for tier, rank in value.items():
            if (
                tier not in {t.value for t in Tier}
                or isinstance(rank, bool)
                or not isinstance(rank, int)
                or not 0 < rank < UNKNOWN_RANK
            ):
                raise ValueError(f"bad rank {tier!r}={rank!r}")
        return value

    @field_validator("deprecated_at", "sunset_at", mode="before")
    @classmethod
    def _moment(cls, value: object) -> datetime | None:
        return parse_datetime(value)

    @field_validator("replacement", mode="before")
    @classmethod
    def _text(cls, value: object) -> str | None:
        return read_text(value)

    def spec_fields(self) -> dict[str, Any]:
        """The family's defaults under `ModelSpec`'s field names."""
        return {
            "name": self.name,
            "context_window": self.context_window,
            "max_output": self.max_output,
            "cost_input": self.cost.input,
            "cost_output": self.cost.output,
            "cost_cache_read": self.cost.cache_read,
            "cost_cache_write": self.cost.cache_write,
            "reasoning": self.reasoning,
            "images": self.images,
            "fixed_temperature": self.fixed_temperature,
            "deprecated_at": self.deprecated_at,
            "sunset_at": self.sunset_at,
            "replacement": self.replacement,
        }


class ModelsFile(BaseModel):
    """The `models.json` document."""

    defaults: Defaults
    families: tuple[Family, ...]

    @model_validator(mode="after")
    def _unique_keys(self) -> ModelsFile:
        keys = [family.key for family in self.families]
        if len(set(keys)) != len(keys):
            raise ValueError("models.json: duplicate family key")
        return self
