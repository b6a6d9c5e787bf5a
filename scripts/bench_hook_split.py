"""In-process CPU of the hooks through the dispatcher and method table the server uses (no pipes, no event-loop
reads): the four cheap hooks, `chat.message` with a 5 KB message, and the same `chat.message` with the classifier's
decision replayed from a cache, which leaves the rest of the path (adapter, JSON, router, Brain bookkeeping, the
decision line) — so the classifier's share and everyone else's show apart. The loop turns between calls, as in the
server, so work left for after the reply is counted. Figures are CPU time per call (process_time), each round's the
median of its BLOCKS blocks of calls, then the median of rounds.

    .venv/bin/python scripts/bench_hook_split.py [--rounds 5] [--baseline CHECKOUT] [--root CHECKOUT]

With --baseline (or --root) every round runs in a fresh child process with that checkout first on the path,
alternating with the measured checkout's (before/after in one run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_child import REPO_ROOT, frame
from bench_hooks import CHEAP_HOOKS, chat_message, config_params, fixture, init_frame, seed_catalogue

CHEAP_CALLS = 3000
CHAT_CALLS = 600
WARMUP = 300
BLOCKS = 6  # a round's figure is its median block: a burst of another process's work spoils one block, not the round
FIGURES = ("cheap hook", "chat.message 5 KB", "chat.message 5 KB, classifier replayed")


async def _figures() -> dict[str, float]:
    """One round in this process: µs of CPU per call for each of FIGURES."""
    with tempfile.TemporaryDirectory(prefix="kimchi-split-") as folder:
        return await _measure(Path(folder))


async def _measure(home: Path) -> dict[str, float]:
    from kimchi_plugin.app import plugin_services
    from kimchi_plugin.brain import Brain
    from kimchi_plugin.logs import configure_logging
    from kimchi_plugin.opencode.routes import build_routes
    from kimchi_plugin.routing import classifier, router
    from kimchi_plugin.rpc.dispatch import build_dispatcher

    seed_catalogue(home / "cache")
    env = {"HOME": str(home), "XDG_STATE_HOME": str(home / "state"), "XDG_CACHE_HOME": str(home / "cache")}
    log_file = str(home / "brain.log")
    configure_logging(log_file=log_file)
    brain = Brain(plugin_services(env=env, log_file=log_file))
    dispatch = build_dispatcher(build_routes(brain))
    await dispatch(init_frame(home).decode())
    await dispatch(frame(2, "config", config_params()).decode())
    classifier.load_weights()
    await dispatch(chat_message(10, 5 * 1024).decode())  # the session's routed turn

    cheap = [fixture(name) for name in CHEAP_HOOKS]
    cheap_frames = [frame(i, cheap[i % 4]["method"], cheap[i % 4]["params"]).decode() for i in range(CHEAP_CALLS)]
    chat_frames = [chat_message(i, 5 * 1024).decode() for i in range(1000, 1000 + CHAT_CALLS)]

    async def cpu_us(frames: list[str]) -> float:
        for text in frames[: WARMUP // 3]:
            await dispatch(text)
        size = len(frames) // BLOCKS
        blocks = []
        for start in range(0, size * BLOCKS, size):
            started = time.process_time()
            for text in frames[start : start + size]:
                reply = await dispatch(text)
                assert '"result"' in reply, reply[:300]
                await asyncio.sleep(0)
            blocks.append((time.process_time() - started) / size * 1e6)
        return statistics.median(blocks)

    figures = {FIGURES[0]: await cpu_us(cheap_frames), FIGURES[1]: await cpu_us(chat_frames)}
    names = vars(router)  # the router's own reference to the conversation decision
    decide = names["decide"]
    decided: dict[str, Any] = {}

    def replayed(text: str, state: Any, table: Any = None) -> Any:
        found = decided.get(text)
        if found is None:
            found = decided[text] = decide(text, state, table)
        return found

    names["decide"] = replayed  # the texts repeat every five messages: the warm-up calls decide each once
    figures[FIGURES[2]] = await cpu_us([chat_message(i, 5 * 1024).decode() for i in range(5000, 5000 + CHAT_CALLS)])
    names["decide"] = decide
    return figures


def _child_round(root: Path | None) -> dict[str, float]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root or REPO_ROOT), env.get("PYTHONPATH", "")]))
    out = subprocess.run(
        [sys.executable, __file__, "--child"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # the log lines' copy on stderr, discarded as the benchmarks' children do
        text=True,
        check=True,
        cwd=REPO_ROOT,
    ).stdout
    figures: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--root", type=Path, help="checkout to measure (default: this one)")
    parser.add_argument("--baseline", type=Path, help="checkout measured alongside, rounds alternating")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_figures())))
        return 0
    roots: list[Path | None] = [args.baseline, args.root] if args.baseline else [args.root]
    rounds: dict[Path | None, list[dict[str, float]]] = {root: [] for root in roots}
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {args.rounds} rounds per checkout")
    for _ in range(args.rounds):
        for root in roots:
            rounds[root].append(_child_round(root))
    for root in roots:
        print(f"checkout {root or REPO_ROOT} (µs of CPU per call, median of rounds)")
        for name in FIGURES:
            values = [r[name] for r in rounds[root]]
            print(f"  {name:40s} {statistics.median(values):7.1f}  (rounds {min(values):.1f}–{max(values):.1f})")
        whole, rest = (statistics.median(r[name] for r in rounds[root]) for name in FIGURES[1:])
        print(f"  {'the classifier decision, by difference':40s} {whole - rest:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
