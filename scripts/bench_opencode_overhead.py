"""What the plugin costs an `opencode run` turn: wall time with and without it, and when the first hook reaches Python.

Runs the real opencode binary offline (fake model server, fresh sandbox per run), interleaving the variants.
Usage: .venv/bin/python scripts/bench_opencode_overhead.py [-n 5] [--warm] [--baseline CHECKOUT]
  --baseline  a third variant, interleaved: the plugin with the brain from another checkout of this repository
              (before/after in one run; the brain is started through the plugin's `command` option)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from fake_model_server import FakeModelServer  # beside this script
from opencode_sandbox import OpencodeSandbox, shim_plugin

REPO_ROOT = Path(__file__).resolve().parents[1]
PYTHON = REPO_ROOT / ".venv" / "bin" / "python"


def _brain_from(checkout: Path) -> list[str]:
    """The brain command with the package imported from `checkout` (same interpreter and libraries)."""
    code = f"import sys; sys.path.insert(0, {str(checkout)!r}); from kimchi_plugin.cli import main; sys.exit(main())"
    return [str(PYTHON), "-c", code]


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _hook_times(log: Path, started_at: float) -> dict[str, float]:
    """Seconds from process start to the first log line of each hook the brain handled."""
    first: dict[str, float] = {}
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        at = _epoch(entry["timestamp"]) - started_at
        if entry.get("event") == "hook" and at >= 0:  # a reused sandbox's log holds earlier runs too
            first.setdefault(entry["method"], at)
    return first


def _summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s  min {min(values):.2f}  max {max(values):.2f}  (n={len(values)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="runs per variant")
    parser.add_argument(
        "--warm",
        action="store_true",
        help="reuse one sandbox per variant (caches warm, as for a user's repeated runs); "
        "default: a fresh sandbox per run (first start after install or a config change)",
    )
    parser.add_argument("--baseline", type=Path, help="checkout whose brain is measured alongside (before/after)")
    args = parser.parse_args()
    walls: dict[str, list[float]] = {"without plugin": [], "with plugin": []}
    if args.baseline:
        walls["with baseline"] = []
    first_hook: dict[str, list[float]] = {variant: [] for variant in walls if variant != "without plugin"}
    chat_message: dict[str, list[float]] = {variant: [] for variant in first_hook}
    with FakeModelServer() as server, tempfile.TemporaryDirectory(prefix="kimchi-bench-") as tmp:
        for i in range(args.n + args.warm):
            for variant in walls:
                root = Path(tmp) / f"{0 if args.warm else i}-{variant.replace(' ', '-')}"
                sandbox = OpencodeSandbox(root, server.api_base)
                log = root / "kimchi.log"
                if variant in first_hook:
                    options: dict[str, object] = {"verbose": True, "logFile": str(log)}
                    if variant == "with baseline":
                        options["command"] = _brain_from(args.baseline)
                    sandbox.configure(plugins=[shim_plugin(options)])
                result = sandbox.run("hello")
                if result.rc != 0:
                    print(f"run failed ({variant}): rc={result.rc}\n{result.stderr[-2000:]}", file=sys.stderr)
                    return 1
                if args.warm and i == 0:
                    continue  # the run that warms the caches
                walls[variant].append(result.wall_s)
                detail = ""
                if variant in first_hook:
                    hooks = _hook_times(log, result.started_at) if log.exists() else {}
                    if "chat.message" not in hooks:
                        warnings = [ln for ln in sandbox.opencode_log().splitlines() if "level=WARN" in ln]
                        print(
                            f"run {i + 1}: the brain handled no chat.message; OpenCode warnings:",
                            *warnings[-5:],
                            sep="\n  ",
                            file=sys.stderr,
                        )
                        return 1
                    first_hook[variant].append(min(hooks.values()))
                    chat_message[variant].append(hooks["chat.message"])
                    detail = f"  first hook {min(hooks.values()):.2f} s  chat.message {hooks['chat.message']:.2f} s"
                print(f"run {i + 1} {variant:15s} {result.wall_s:.2f} s{detail}", flush=True)
    for variant, values in walls.items():
        print(f"opencode run wall, {variant:15s}: {_summary(values)}")
    for variant in first_hook:
        overhead = statistics.median(walls[variant]) - statistics.median(walls["without plugin"])
        print(f"{variant}: median overhead {overhead:+.2f} s")
        print(f"  process start -> first hook   : {_summary(first_hook[variant])}")
        print(f"  process start -> chat.message : {_summary(chat_message[variant])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
