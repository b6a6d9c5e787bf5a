"""What the plugin costs an `opencode run` turn: wall time against a no-work plugin, and when hooks reach Python.

Runs the real opencode binary offline (fake model server, fresh sandbox per run), the variants interleaved in rounds
whose order rotates (each variant runs first, second, ... equally often). The baseline is a plugin that registers
the same hooks and does nothing (what any plugin costs OpenCode is not ours to cut). The fake server serves Kimchi's
model-metadata route, as the real endpoint does, so the brain's `config` answer is final and kept for the next start,
as for a user with a key.
Usage: .venv/bin/python scripts/bench_opencode_overhead.py [-n 5] [--warm] [--baseline CHECKOUT] [--no-catalog]
       [--awaits]
  --baseline    a third variant, interleaved: the plugin (shim and brain) of another checkout of this repository
                (before/after in one run; its brain, and then this checkout's too, is started through the plugin's
                `command` option, so that the two differ in their code alone)
  --no-catalog  the metadata route answers 404 (an endpoint without it: no answer is kept, every start waits)
  --awaits      every variant's plugin wrapped in a recorder of how long OpenCode awaits each hook (all but `event`,
                which OpenCode does not await): where a run waits on the plugin

Figures printed:
  wall medians    per variant, and their difference to the no-work plugin (the README's overhead figure); on a
                  shared machine one checkout's medians move by more than the change being measured
  paired          per round, the difference between two variants run back to back (variant - no-work plugin, and
                  with --baseline, plugin - baseline: after - before), for wall time, CPU time (opencode and the
                  children it reaped, the brain among them; RUSAGE_CHILDREN) and with --awaits the awaited total;
                  the median of those differences with a bootstrap 90 % interval (resampled rounds, fixed seed):
                  load that drifts over minutes cancels out of each pair, and an interval that excludes 0 says
                  the two differ
  brain CPU       with --baseline, per run, the CPU time of the brain process (every thread), as a thread started
                  before the package is imported last wrote it down (every 5 ms): what the brain asks of the
                  machine's CPUs, which OpenCode's own start shares; paired plugin - baseline
  awaited total   with --awaits, per run, the time during which OpenCode awaited at least one hook of the plugin
                  (overlapping calls count once): the plugin's own share of a run, whatever the machine's load
                  does to OpenCode; also per hook, as medians per run
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from fake_model_server import FakeModelServer, metadata_entry  # beside this script
from opencode_sandbox import DEFAULT_MODELS, OpencodeSandbox, plugin_entry, shim_plugin

REPO_ROOT = Path(__file__).resolve().parents[1]
PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
FIRST_START_ANSWER = REPO_ROOT / "plugin_shim" / "first_start_answer.json"
BASELINE = "no-work plugin"
BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 15  # fixed: the same runs always give the same interval
INTERVAL = 0.90
CPU_SAMPLE_S = 0.005  # how often a brain started with --baseline writes its CPU time down


def _no_work_plugin(directory: Path) -> Path:
    """A plugin with the shim's hooks (its own and those the shipped handshake lists), each doing nothing."""
    hooks = [
        "config",
        "chat.message",
        "event",
        "dispose",
        *json.loads(FIRST_START_ANSWER.read_text())["initialize"]["hooks"],
    ]
    body = ", ".join(f"{json.dumps(hook)}: async () => {{}}" for hook in dict.fromkeys(hooks))
    path = directory / "no_work_plugin.js"
    path.write_text(f'export default {{ id: "no-work", server: async () => ({{ tool: {{}}, {body} }}) }};\n')
    return path


def _awaits_recorder(directory: Path, plugin: list[Any], name: str) -> tuple[list[Any], Path]:
    """`plugin` wrapped in a module that appends, per awaited hook call, its name, start (epoch ms) and duration."""
    records = directory / f"awaits-{name}.jsonl"
    module = directory / f"awaits-{name}.mjs"
    module.write_text(
        f"""import {{ appendFileSync }} from "node:fs";
import target from {json.dumps(plugin[0])};
const now = () => performance.timeOrigin + performance.now();
const record = (hook, start) =>
  appendFileSync({json.dumps(str(records))}, JSON.stringify({{ hook, at: start, ms: now() - start }}) + "\\n");
const timed = (hook, fn) => async (...args) => {{
  const start = now();
  try {{
    return await fn(...args);
  }} finally {{
    record(hook, start);
  }}
}};
export default {{
  id: target.id,
  server: async (...args) => {{
    const start = now();
    const hooks = await target.server(...args);
    record("server", start);
    return new Proxy(hooks, {{
      get: (obj, hook) => (typeof obj[hook] === "function" && hook !== "event" ? timed(hook, obj[hook]) : obj[hook]),
    }});
  }},
}};
"""
    )
    return [module.as_uri(), plugin[1]], records


def _awaited(records: Path, started_at: float) -> tuple[dict[str, tuple[float, int]], float]:
    """Per hook of one run: milliseconds during which OpenCode awaited at least one call of it (overlapping calls,
    such as one `tool.definition` per tool, count once), and the number of calls; and the run's total: milliseconds
    during which OpenCode awaited any hook of the plugin."""
    spans: dict[str, list[tuple[float, float]]] = {}
    for line in records.read_text().splitlines() if records.exists() else []:
        entry = json.loads(line)
        if entry["at"] >= started_at * 1000:  # a reused sandbox's records hold earlier runs too
            spans.setdefault(entry["hook"], []).append((entry["at"], entry["at"] + entry["ms"]))
    totals = {hook: (_covered(calls), len(calls)) for hook, calls in spans.items()}
    return totals, _covered([call for calls in spans.values() for call in calls])


def _covered(spans: list[tuple[float, float]]) -> float:
    """The length of the union of (start, end) spans."""
    covered, reached = 0.0, float("-inf")
    for start, end in sorted(spans):
        covered += max(0.0, end - max(start, reached))
        reached = max(reached, end)
    return covered


def _children_cpu_s() -> float:
    """CPU seconds (user and system) of every child this process has reaped, and of the children they reaped."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _paired(differences: list[float]) -> tuple[float, float, float]:
    """The median of paired differences and its bootstrap interval (INTERVAL, resampled pairs, fixed seed)."""
    rng = random.Random(BOOTSTRAP_SEED)
    medians = sorted(statistics.median(rng.choices(differences, k=len(differences))) for _ in range(BOOTSTRAP_SAMPLES))
    tail = (1 - INTERVAL) / 2
    low = medians[int(tail * BOOTSTRAP_SAMPLES)]
    high = medians[min(int((1 - tail) * BOOTSTRAP_SAMPLES), BOOTSTRAP_SAMPLES - 1)]
    return statistics.median(differences), low, high


def _rotated(variants: list[str], round_index: int) -> list[str]:
    """The round's order: each round starts one variant later, so none always runs first (or right after another)."""
    shift = round_index % len(variants)
    return variants[shift:] + variants[:shift]


def _brain_from(checkout: Path, cpu_file: Path) -> list[str]:
    """The brain command with the package imported from `checkout` (same interpreter and libraries), run as the shim
    runs it (`python -m kimchi_plugin`, no arguments). A daemon thread writes the process's CPU time (every thread)
    into `cpu_file` every CPU_SAMPLE_S: the last value is what the brain used (it may be killed as OpenCode exits)."""
    code = (
        "import os, runpy, sys, threading, time\n"
        f"out = os.open({str(cpu_file)!r}, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)\n"
        "def sample():\n"
        "    while True:\n"
        "        os.pwrite(out, b'%14.6f' % time.process_time(), 0)\n"
        f"        time.sleep({CPU_SAMPLE_S})\n"
        "threading.Thread(target=sample, daemon=True).start()\n"
        f"sys.path.insert(0, {str(checkout)!r})\n"
        "runpy.run_module('kimchi_plugin', run_name='__main__', alter_sys=True)\n"
    )
    return [str(PYTHON), "-c", code]


def _brain_cpu_s(cpu_file: Path) -> float:
    text = cpu_file.read_text().strip() if cpu_file.exists() else ""
    return float(text) if text else float("nan")


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
    parser.add_argument("--baseline", type=Path, help="checkout whose plugin is measured alongside (before/after)")
    parser.add_argument("--no-catalog", action="store_true", help="the model-metadata route answers 404")
    parser.add_argument("--awaits", action="store_true", help="record how long OpenCode awaits each hook")
    args = parser.parse_args()
    variants = [BASELINE, "with plugin", *(["with baseline"] if args.baseline else [])]
    walls: dict[str, list[float]] = {variant: [] for variant in variants}
    cpus: dict[str, list[float]] = {variant: [] for variant in variants}
    awaited_totals: dict[str, list[float]] = {variant: [] for variant in variants}
    first_hook: dict[str, list[float]] = {variant: [] for variant in variants if variant != BASELINE}
    chat_message: dict[str, list[float]] = {variant: [] for variant in first_hook}
    brain_cpus: dict[str, list[float]] = {variant: [] for variant in first_hook}
    awaits: dict[str, list[dict[str, tuple[float, int]]]] = {variant: [] for variant in variants}
    with FakeModelServer() as server, tempfile.TemporaryDirectory(prefix="kimchi-bench-") as tmp:
        server.metadata = [metadata_entry(slug) for slug in DEFAULT_MODELS]
        if args.no_catalog:
            server.metadata_status = 404
        no_work = _no_work_plugin(Path(tmp))
        for i in range(args.n + args.warm):
            for variant in _rotated(variants, i):
                root = Path(tmp) / f"{0 if args.warm else i}-{variant.replace(' ', '-')}"
                sandbox = OpencodeSandbox(root, server.api_base)
                log = root / "kimchi.log"
                if variant in first_hook:
                    options: dict[str, object] = {"verbose": True, "logFile": str(log)}
                    cpu_file = root / "brain-cpu"  # one command per sandbox: a new one would void the kept answer
                    if variant == "with baseline":
                        options["command"] = _brain_from(args.baseline, cpu_file)
                        plugin = plugin_entry(args.baseline.resolve() / "plugin_shim" / "index.js", options)
                    else:
                        if args.baseline:  # started as the baseline's brain is: the pair differs in code alone
                            options["command"] = _brain_from(REPO_ROOT, cpu_file)
                        plugin = shim_plugin(options)
                else:
                    plugin = plugin_entry(no_work)
                if args.awaits:
                    plugin, records = _awaits_recorder(root, plugin, variant.replace(" ", "-"))
                sandbox.configure(plugins=[plugin])
                cpu_before = _children_cpu_s()
                result = sandbox.run("hello")
                cpu = _children_cpu_s() - cpu_before
                if result.rc != 0:
                    print(f"run failed ({variant}): rc={result.rc}\n{result.stderr[-2000:]}", file=sys.stderr)
                    return 1
                if args.warm and i == 0:
                    continue  # the run that warms the caches
                walls[variant].append(result.wall_s)
                cpus[variant].append(cpu)
                detail = f"  cpu {cpu:.2f} s"
                if args.awaits:
                    per_hook, total = _awaited(records, result.started_at)
                    awaits[variant].append(per_hook)
                    awaited_totals[variant].append(total)
                    detail += f"  awaited {total:.0f} ms"
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
                    if args.baseline:
                        brain_cpus[variant].append(_brain_cpu_s(cpu_file))
                        detail += f"  brain cpu {brain_cpus[variant][-1]:.3f} s"
                    first_hook[variant].append(min(hooks.values()))
                    chat_message[variant].append(hooks["chat.message"])
                    detail += f"  first hook {min(hooks.values()):.2f} s  chat.message {hooks['chat.message']:.2f} s"
                print(f"run {i + 1} {variant:15s} {result.wall_s:.2f} s{detail}", flush=True)
    for variant, values in walls.items():
        print(f"opencode run wall, {variant:15s}: {_summary(values)}")
    for variant in first_hook:
        overhead = statistics.median(walls[variant]) - statistics.median(walls[BASELINE])
        print(f"{variant}: median overhead {overhead:+.2f} s")
        print(f"  process start -> first hook   : {_summary(first_hook[variant])}")
        print(f"  process start -> chat.message : {_summary(chat_message[variant])}")
    pairs = [(variant, BASELINE) for variant in first_hook]
    if args.baseline:
        pairs.append(("with plugin", "with baseline"))
    figures = [("wall", walls, 1.0, "s"), ("CPU", cpus, 1.0, "s")]
    if args.awaits:
        figures.append(("awaited total", awaited_totals, 0.001, "s"))
    if args.baseline:
        figures.append(("brain CPU", brain_cpus, 1.0, "s"))
    print(f"paired differences, median [bootstrap {INTERVAL:.0%} interval] over {args.n} rounds:")
    for name, per_variant, scale, unit in figures:
        for after, before in pairs:
            if before not in per_variant:
                continue  # the brain's CPU: no brain in the no-work plugin
            paired = zip(per_variant[after], per_variant[before], strict=True)
            differences = [(a - b) * scale for a, b in paired if not math.isnan(a - b)]  # a brain gone before a sample
            if not differences:
                continue
            median, low, high = _paired(differences)
            print(
                f"  {name:13s} {after} - {before}: {median:+.3f} {unit} [{low:+.3f}, {high:+.3f}]"
                f"{'' if len(differences) == args.n else f' ({len(differences)} pairs)'}"
            )
    for variant, values in brain_cpus.items():
        sampled = [value for value in values if not math.isnan(value)]
        if sampled:
            print(f"brain CPU, {variant}: median {statistics.median(sampled):.3f} s per run (n={len(sampled)})")
    for variant, runs in awaits.items():
        if runs:
            names = sorted({hook for run in runs for hook in run})
            medians = {hook: statistics.median(run.get(hook, (0.0, 0))[0] for run in runs) for hook in names}
            calls = {hook: max(run.get(hook, (0.0, 0))[1] for run in runs) for hook in names}
            listed = ", ".join(f"{hook} {medians[hook]:.0f} ms ({calls[hook]}x)" for hook in names)
            print(f"OpenCode awaited, {variant} (median per run; calls): {listed}")
            print(f"  awaited total, {variant}: median {statistics.median(awaited_totals[variant]):.0f} ms per run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
