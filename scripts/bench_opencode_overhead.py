"""What the plugin costs an `opencode run` turn: wall time with and without it, and when the first hook reaches Python.

Runs the real opencode binary offline (fake model server, fresh sandbox per run), interleaving the two variants.
Usage: .venv/bin/python scripts/bench_opencode_overhead.py [-n 5]
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
    args = parser.parse_args()
    walls: dict[str, list[float]] = {"without plugin": [], "with plugin": []}
    first_hook: list[float] = []
    chat_message: list[float] = []
    with FakeModelServer() as server, tempfile.TemporaryDirectory(prefix="kimchi-bench-") as tmp:
        for i in range(args.n + args.warm):
            for variant in walls:
                root = Path(tmp) / f"{0 if args.warm else i}-{variant.replace(' ', '-')}"
                sandbox = OpencodeSandbox(root, server.api_base)
                log = root / "kimchi.log"
                if variant == "with plugin":
                    sandbox.configure(plugins=[shim_plugin({"verbose": True, "logFile": str(log)})])
                result = sandbox.run("hello")
                if result.rc != 0:
                    print(f"run failed ({variant}): rc={result.rc}\n{result.stderr[-2000:]}", file=sys.stderr)
                    return 1
                if args.warm and i == 0:
                    continue  # the run that warms the caches
                walls[variant].append(result.wall_s)
                detail = ""
                if variant == "with plugin":
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
                    first_hook.append(min(hooks.values()))
                    chat_message.append(hooks["chat.message"])
                    detail = f"  first hook {first_hook[-1]:.2f} s  chat.message {chat_message[-1]:.2f} s"
                print(f"run {i + 1} {variant:15s} {result.wall_s:.2f} s{detail}", flush=True)
    for variant, values in walls.items():
        print(f"opencode run wall, {variant:15s}: {_summary(values)}")
    overhead = statistics.median(walls["with plugin"]) - statistics.median(walls["without plugin"])
    print(f"median overhead of the plugin      : {overhead:+.2f} s")
    print(f"process start -> first hook        : {_summary(first_hook)}")
    print(f"process start -> chat.message      : {_summary(chat_message)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
