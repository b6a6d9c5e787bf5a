"""Metadata as it arrives (OpenCode's provider config, the catalogue API, the bundled families) read defensively into
`ModelSpec` field values: a value of the wrong type or range means "not given", never an error."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any


def read_positive_int(value: object) -> int | None:
    """A positive integer (integral floats accepted), else None."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def read_price(value: object) -> float | None:
    """A finite non-negative number as float, else None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
        return float(value)
    return None


def read_flag(value: object) -> bool | None:
    """A real boolean, else None."""
    return value if isinstance(value, bool) else None


def read_text(value: object) -> str | None:
    """Non-blank text, stripped, else None."""
    return value.strip() if isinstance(value, str) and value.strip() else None


def aware(moment: datetime) -> datetime:
    """A datetime with a time zone (naive means UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def parse_datetime(value: object) -> datetime | None:
    """An aware datetime from a datetime or ISO-8601 text (naive means UTC); None if invalid."""
    if isinstance(value, datetime):
        return aware(value)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return aware(datetime.fromisoformat(text))
    except ValueError:
        return None


_METADATA_READERS = {
    "name": read_text,
    "context_window": read_positive_int,
    "max_output": read_positive_int,
    "cost_input": read_price,
    "cost_output": read_price,
    "cost_cache_read": read_price,
    "cost_cache_write": read_price,
    "reasoning": read_flag,
    "images": read_flag,
    "tool_call": read_flag,
    "fixed_temperature": read_price,
    "deprecated_at": parse_datetime,
    "sunset_at": parse_datetime,
    "replacement": read_text,
    "deprecation_note": read_text,
}


def from_metadata(entry: Mapping[str, Any]) -> dict[str, Any]:
    """Valid fields of a normalised metadata entry (ModelSpec field names)."""
    fields = {}
    for name, read in _METADATA_READERS.items():
        value = read(entry.get(name))
        if value is not None:
            fields[name] = value
    return fields


def _section(config: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = config.get(key)
    return value if isinstance(value, Mapping) else {}


def from_provider_config(config: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Valid fields of one OpenCode `provider.<id>.models.<model id>` entry."""
    limit = _section(config, "limit")
    cost = _section(config, "cost")
    inputs = _section(config, "modalities").get("input")
    raw = {
        "name": config.get("name"),
        "context_window": limit.get("context"),
        "max_output": limit.get("output"),
        "cost_input": cost.get("input"),
        "cost_output": cost.get("output"),
        "cost_cache_read": cost.get("cache_read"),
        "cost_cache_write": cost.get("cache_write"),
        "reasoning": config.get("reasoning"),
        "images": ("image" in inputs) if isinstance(inputs, list) else None,
        "tool_call": config.get("tool_call"),
        "deprecated_at": config.get("deprecated_at"),
        "sunset_at": config.get("sunset_at"),
        "replacement": config.get("replacement_model"),
        "deprecation_note": config.get("deprecation_note"),
    }
    fields = from_metadata(raw)
    # OpenCode's `status: "deprecated"` carries no date: deprecated as of now.
    if config.get("status") == "deprecated" and "deprecated_at" not in fields:
        fields["deprecated_at"] = now
    return fields
