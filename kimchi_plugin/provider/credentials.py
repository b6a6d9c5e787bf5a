"""Where the Kimchi API key comes from: plugin option → provider options → KIMCHI_API_KEY → CASTAI_API_KEY →
the Kimchi CLI config (`~/.config/kimchi/config.json`, field `api_key`). The key is registered with the log redactor
the moment it is found."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kimchi_plugin.logs import register_secret


def kimchi_cli_config(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "kimchi" / "config.json"


def _from_file(path: Path) -> str | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    key = data.get("api_key") if isinstance(data, dict) else None
    return key if isinstance(key, str) and key.strip() else None


def find_api_key(
    option: str | None, provider_options: Mapping[str, Any] | None, env: Mapping[str, str] = os.environ
) -> tuple[str | None, str]:
    """The API key and where it was found (a label safe to log), or (None, "none")."""
    provider_key = (provider_options or {}).get("apiKey")
    candidates = (
        (option, "plugin option apiKey"),
        (provider_key if isinstance(provider_key, str) else None, "provider options"),
        (env.get("KIMCHI_API_KEY"), "KIMCHI_API_KEY"),
        (env.get("CASTAI_API_KEY"), "CASTAI_API_KEY"),
    )
    for value, label in candidates:
        if value and value.strip():
            register_secret(value.strip())
            return value.strip(), label
    path = kimchi_cli_config(env)
    key = _from_file(path)
    if key:
        register_secret(key)
        return key, str(path)
    return None, "none"
