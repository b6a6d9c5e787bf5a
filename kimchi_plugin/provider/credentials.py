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
from kimchi_plugin.settings import home

OPTION = "plugin option apiKey"
PROVIDER_OPTION = "provider options"
ENV_VARS = ("KIMCHI_API_KEY", "CASTAI_API_KEY")
# Every way to give the key, first found wins: named in the missing-key message and by `doctor`.
KEY_SOURCES = (
    f"{OPTION} (opencode.json plugin entry)",
    "provider.kimchi.options.apiKey in opencode.json",
    *(f"environment variable {name}" for name in ENV_VARS),
    "the Kimchi CLI config ~/.config/kimchi/config.json (api_key)",
)


def kimchi_cli_config(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CONFIG_HOME") or os.path.join(home(env), ".config")
    return Path(base) / "kimchi" / "config.json"


def _from_file(path: Path) -> str | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    key = data.get("api_key") if isinstance(data, dict) else None
    return key if isinstance(key, str) and key.strip() else None


def find_api_key(
    option: str | None, provider_options: Mapping[str, Any] | None, env: Mapping[str, str]
) -> tuple[str | None, str]:
    """The API key and where it was found (a label safe to log), or (None, "none")."""
    provider_key = (provider_options or {}).get("apiKey")
    candidates = (
        (option, OPTION),
        (provider_key if isinstance(provider_key, str) else None, PROVIDER_OPTION),
        *((env.get(name), name) for name in ENV_VARS),
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
