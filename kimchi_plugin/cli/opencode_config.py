"""OpenCode's config as a command sees it on disk: the global file, then the project's (later files win key by key),
and the options of the plugin's entry — so that `explain` routes among the user's models with the user's options,
as the plugin does inside OpenCode. JSONC comments are tolerated; an unreadable file counts as empty."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FILES = ("opencode.json", "opencode.jsonc")
PLUGIN_MARKERS = ("opencode-kimchi", "plugin_shim")
_COMMENT = re.compile(r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/', re.DOTALL)


def _read(path: Path) -> dict[str, Any]:
    try:
        text = _COMMENT.sub(lambda m: m.group(1) or "", path.read_text(encoding="utf-8"))
        data = json.loads(text)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            merged[key] = _merge(current, value)
        elif key == "plugin" and isinstance(current, list) and isinstance(value, list):
            merged[key] = [*current, *value]
        else:
            merged[key] = value
    return merged


def load(env: Mapping[str, str], project: Path) -> dict[str, Any]:
    """The merged config of the global config directory and the project (its root and `.opencode/`)."""
    config_home = Path(env.get("XDG_CONFIG_HOME") or Path(env.get("HOME", "~")).expanduser() / ".config")
    folders = [config_home / "opencode", project, project / ".opencode"]
    merged: dict[str, Any] = {}
    for folder in folders:
        for name in FILES:
            merged = _merge(merged, _read(folder / name))
    return merged


def plugin_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """The options of this plugin's entry (the last one wins, as in OpenCode)."""
    found: dict[str, Any] = {}
    for entry in config.get("plugin") or []:
        spec, options = (entry[0], entry[1]) if isinstance(entry, list) and len(entry) == 2 else (None, None)
        if isinstance(spec, str) and isinstance(options, dict) and any(m in spec for m in PLUGIN_MARKERS):
            found = dict(options)
    return found
