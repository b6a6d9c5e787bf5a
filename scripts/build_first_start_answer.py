"""Write plugin_shim/first_start_answer.json: what the real brain of this checkout answers a new user, asked over
JSON-RPC the way the plugin asks it, with no API key and no network (so from the catalogue shipped in the package,
kimchi_plugin/data/catalog.json). The plugin applies it while its Python side is not running yet.

Two config answers, for the two cases the brain tells apart: Kimchi is the main provider (no `model` set) and another
provider is (`model` names another provider; only the provider and commands are added).

Usage: .venv/bin/python scripts/build_first_start_answer.py [--check]   (--check: exit 1 when the file is stale)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from kimchi_plugin.settings import DEFAULT_BASE_URL

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "plugin_shim" / "first_start_answer.json"
CONFIGS = {"kimchiMain": {}, "otherMain": {"model": "other-provider/other-model"}}


def ask_brain(home: Path) -> dict:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_DATA_HOME": str(home / "data"),
    }
    initialize = {
        "method": "initialize",
        "params": {"protocolVersion": 1, "options": {}, "directory": "", "worktree": ""},
    }
    # One brain per config: its answer may depend on what it was sent before.
    answers: dict = {"config": {}}
    for name, config in CONFIGS.items():
        frames = [
            {"jsonrpc": "2.0", "id": 1, **initialize},
            {"jsonrpc": "2.0", "id": 2, "method": "config", "params": {"input": None, "output": config}},
        ]
        done = subprocess.run(
            [sys.executable, "-m", "kimchi_plugin"],
            input="".join(json.dumps(f) + "\n" for f in frames),
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        )
        replies = {r["id"]: r for r in map(json.loads, done.stdout.splitlines())}
        handshake = replies[1]["result"]
        answers["initialize"] = {key: handshake[key] for key in ("hooks", "observed", "readOnly", "filters")}
        answers["config"][name] = replies[2]["result"]["output"]
    return answers


def render() -> str:
    with tempfile.TemporaryDirectory(prefix="kimchi-first-start-") as home:
        answers = ask_brain(Path(home))
    return json.dumps({"baseURL": DEFAULT_BASE_URL, **answers}, indent=2, sort_keys=True) + "\n"


def main() -> int:
    text = render()
    if "--check" in sys.argv[1:]:
        same = TARGET.exists() and TARGET.read_text() == text
        print(
            "first_start_answer.json is up to date"
            if same
            else "first_start_answer.json is stale: run .venv/bin/python scripts/build_first_start_answer.py",
            file=sys.stderr,
        )
        return 0 if same else 1
    TARGET.write_text(text)
    print(f"wrote {TARGET}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
