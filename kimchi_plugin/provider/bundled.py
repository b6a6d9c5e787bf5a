"""The model catalogue shipped with the package (`data/catalog.json`, the metadata endpoint's format): what the
provider offers when neither the endpoint nor a disk copy answered, so `kimchi/auto` always resolves to a model."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from kimchi_plugin.provider.catalog import CatalogError, parse_models

CATALOG_FILE = Path(__file__).resolve().parents[1] / "data" / "catalog.json"


@cache
def bundled_models(path: Path = CATALOG_FILE) -> tuple[dict[str, Any], ...]:
    """Normalised models of the shipped catalogue (ModelSpec field names); empty if the file is unusable."""
    try:
        _, models = parse_models(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, CatalogError):
        return ()
    return models
