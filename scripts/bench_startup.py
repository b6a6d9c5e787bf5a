"""Brain start-up: spawn → ready (`initialize` answered), spawn → `config` answered (a fresh cached catalogue, as at
a user's every start after the first) and spawn → the first `chat.message` routed (sent right behind the `config`
answer, as OpenCode's first turn follows its start), against bare interpreter start-up and a child that answers
`initialize` without importing anything (scripts/echo_brain.py), interleaved in one run; the brain's CPU time when
`config` is answered (main thread) and in all (every thread, spawn → exit at end of input after that message); then
what the brain imports before `config` is answered (`python -X importtime`), largest first, and what it imports after.

The children run in a user's layout of the environment (bench_child.user_layout_python); `--dev-venv` runs them with
the dev `.venv` (an editable install, whose import hook costs ~20 ms of CPU at every start).

Usage: .venv/bin/python scripts/bench_startup.py [-n 20] [--baseline CHECKOUT] [--dev-venv] [--fresh] [--bootstrap]
  --baseline   also start the brain from this checkout, interleaved with this one (before/after in one run)
  --fresh      also a first start: no catalogue cache (`config` fetches it from a local fake model server, with a
               key; the LLM classifier off, so that the first message is routed by the brain alone) and no databases
  --bootstrap  also time the shim's first-run set-up (fresh virtualenv + pip install of this package; needs PyPI)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_child import ECHO, PYTHON, REPO_ROOT, frame, user_layout_python  # beside this script
from bench_hooks import chat_message, config_params, seed_catalogue
from fake_model_server import FakeModelServer, metadata_entry
from opencode_sandbox import DEFAULT_MODELS

READY_GOAL_MS = 150.0  # the fast-path issue's target for spawn → `initialize` answered
CONFIG_GOAL_MS = 250.0  # ... and for spawn → `config` answered (cached catalogue)
TOP_IMPORTS = 15
INIT_TIMEOUT_S = 10.0
LINGER_S = 2.0  # the import profile: how long the child runs on after the config answer
CONFIG_LOGGED = '"config patched"'  # the brain's log line as it answers `config`: stderr before it, and after
FIRST_MESSAGE_CHARS = 200
FRESH_KEY = "sk-bench-fresh"  # the fake model server takes any key


def init_frame(log_file: Path, options: dict[str, Any] | None = None) -> bytes:
    params = {
        "protocolVersion": 1,
        "shimVersion": "bench",
        "options": {"logFile": str(log_file), **(options or {})},
        "directory": str(REPO_ROOT),
        "worktree": str(REPO_ROOT),
    }
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}).encode() + b"\n"


def env(tmp: Path, root: Path | None = None, first: Path | None = None) -> dict[str, str]:
    """The child's environment: its state, cache and data (usage and corrections databases) under `tmp`, kept from
    one start to the next; with `first`, cache and data under that new folder (a first start)."""
    # Bytecode may be written (the dev environment turns that off): a user's environment has it compiled.
    clean = {
        k: v for k, v in os.environ.items() if k not in ("KIMCHI_API_KEY", "CASTAI_API_KEY", "PYTHONDONTWRITEBYTECODE")
    }
    home = first or tmp
    clean.update(XDG_STATE_HOME=str(tmp), XDG_CACHE_HOME=str(home / "cache"), XDG_DATA_HOME=str(home / "data"))
    if root is not None:
        clean["PYTHONPATH"] = str(root)
    return clean


@dataclass
class Start:
    ready_ms: float  # spawn → `initialize` answered
    config_ms: float  # spawn → `config` answered (nan when not asked)
    cpu_ms: float  # the CPU time of the child's main thread when `config` was answered
    routed_ms: float  # spawn → the first `chat.message` answered (nan when not asked)
    total_cpu_ms: float  # the child's CPU time, every thread, spawn → exit
    stderr_before: str  # what the child wrote to stderr before `config` was answered
    stderr_after: str


@dataclass(frozen=True)
class Config:
    """What a start is given: the `config` hook's params, the `initialize` options, a new folder for a first start."""

    params: dict[str, Any]
    options: dict[str, Any]
    first: Path | None = None


def spawn(
    argv: list[str],
    tmp: Path,
    root: Path | None = None,
    extra: tuple[str, ...] = (),
    config: Config | None = None,
    route: bool = False,
    linger_s: float = 0.0,
) -> Start:
    """One start: `initialize`, then (with `config`) the `config` hook and (with `route`) a first `chat.message` right
    behind its answer, each timed from the spawn; the child's input ends `linger_s` after (work left for after the
    answers runs meanwhile)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*argv[:1], *extra, *argv[1:]],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env(tmp, root, config.first if config else None),
        cwd=tmp,
    )
    assert proc.stdin and proc.stdout and proc.stderr
    err: list[bytes] = []
    reader = threading.Thread(target=lambda: err.extend(proc.stderr or ()), daemon=True)
    reader.start()

    def ask(request: bytes, answered: bytes) -> float:
        assert proc.stdin and proc.stdout
        proc.stdin.write(request)
        proc.stdin.flush()
        reply = proc.stdout.readline()
        while b'"method"' in reply:  # a notification (client.actions) ahead of the answer
            reply = proc.stdout.readline()
        if answered not in reply:
            proc.kill()
            raise RuntimeError(f"no answer from {argv} to {request[:60]!r}: {reply[:200]!r}")
        return (time.perf_counter() - started) * 1000

    ready = ask(init_frame(tmp / "brain.log", config.options if config else None), b'"protocolVersion":1')
    configured, cpu, routed = float("nan"), float("nan"), float("nan")
    if config is not None:
        configured = ask(frame(2, "config", config.params), b'"result"')
        cpu = cpu_ms(proc.pid)
        if route:
            routed = ask(chat_message(3, FIRST_MESSAGE_CHARS), b'"result"')
    time.sleep(linger_s)
    proc.stdin.close()  # end of input ends the brain
    watchdog = threading.Timer(INIT_TIMEOUT_S, proc.kill)
    watchdog.start()
    _, status, usage = os.wait4(proc.pid, 0)  # the child's rusage: CPU time of all its threads
    watchdog.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    reader.join()
    text = b"".join(err).decode(errors="replace")
    at = text.find(CONFIG_LOGGED)  # logged by the main thread as it makes the answer
    before = text[: max(at, 0)] if config else text
    total_cpu = (usage.ru_utime + usage.ru_stime) * 1000
    return Start(ready, configured, cpu, routed, total_cpu, before, text[at:] if at >= 0 else "")


def cpu_ms(pid: int) -> float:
    """The CPU time of the child's main thread — the thread `config` waits for (the kernel's schedstat, in ns: the
    tick-counted user and system times move in 10 ms steps)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e6


def bare(python: Path, tmp: Path) -> float:
    started = time.perf_counter()
    subprocess.run([str(python), "-c", "pass"], check=True, env=env(tmp), cwd=tmp)
    return (time.perf_counter() - started) * 1000


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"median {statistics.median(values):7.1f} ms  p90 {p90:7.1f}  min {min(values):7.1f}  (n={len(values)})"


def import_profile(stderr: str) -> tuple[list[tuple[int, str]], int]:
    """(top-level imports by cumulative µs, total µs) from `-X importtime` output."""
    top: list[tuple[int, str]] = []
    for row in stderr.splitlines():
        if not row.startswith("import time:") or "[us]" in row:
            continue
        _, cumulative, name = row[len("import time:") :].split("|", 2)
        if not name.startswith(" ") or name.startswith("  "):
            continue  # nested import: counted in its parent's cumulative time
        top.append((int(cumulative), name.strip()))
    top.sort(reverse=True)
    return top, sum(us for us, _ in top)


def bootstrap(tmp: Path) -> None:
    """The shim's first start on a machine without the venv: resolve the brain command with an empty cache."""
    node = shutil.which("node")
    if node is None:
        print("bootstrap: node not found")
        return
    script = (
        "import { resolveBrainCommand } from "
        + json.dumps((REPO_ROOT / "plugin_shim" / "python_env.js").as_uri())
        + ";"
        "const t = Date.now(); const r = await resolveBrainCommand(null, (m) => console.error(m));"
        "console.log(JSON.stringify({ms: Date.now() - t, command: r.command}));"
    )
    work = tmp / "pkg"
    # A copy of the package without the repo's .venv, so the shim takes the first-run path.
    shutil.copytree(
        REPO_ROOT,
        work,
        ignore=shutil.ignore_patterns(".venv", "node_modules", ".git", ".e2e-cache", "__pycache__", "tests"),
    )
    script = script.replace(
        json.dumps((REPO_ROOT / "plugin_shim" / "python_env.js").as_uri()),
        json.dumps((work / "plugin_shim" / "python_env.js").as_uri()),
    )
    out = subprocess.run(
        [node, "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        env={**env(tmp), "KIMCHI_CACHE_DIR": str(tmp / "cache")},
        timeout=900,
    )
    if out.returncode != 0:
        print(f"bootstrap failed: {out.stderr[-1500:]}")
        return
    result = json.loads(out.stdout.strip().splitlines()[-1])
    cold = spawn([result["command"], "-m", "kimchi_plugin"], tmp).ready_ms
    print(
        f"first-run bootstrap (venv + pip install): {result['ms'] / 1000:.1f} s; then first spawn → ready "
        f"{cold:.0f} ms (cold bytecode)"
    )


def print_imports(title: str, stderr: str) -> None:
    top, total = import_profile(stderr)
    print(f"\n{title} (python -X importtime, top-level, cumulative): {total / 1000:.1f} ms in all")
    for us, module in top[:TOP_IMPORTS]:
        print(f"  {us / 1000:7.1f} ms  {module}")


def fresh_config(server: FakeModelServer, tmp: Path) -> Config:
    """A first start: no catalogue cache and no databases yet, the fake server's endpoint and a key (the LLM
    classifier off)."""
    params = config_params()
    options = params["output"]["provider"]["kimchi"]["options"]
    options.update(baseURL=server.api_base, apiKey=FRESH_KEY)
    return Config(params, {"llmClassifier": False}, Path(tempfile.mkdtemp(prefix="first-", dir=tmp)))


def report(root: Path | None, runs: list[Start], floor_ms: float, fresh: bool = False) -> None:
    ready = statistics.median(s.ready_ms for s in runs)
    configured = statistics.median(s.config_ms for s in runs)
    kind = "first start (catalogue fetched)" if fresh else "cached catalogue"
    print(f"brain from {root or REPO_ROOT}, {kind}")
    print(f"  spawn → initialize answered     : {summary([s.ready_ms for s in runs])}  ({ready / floor_ms:.1f}× echo)")
    print(
        f"  spawn → config answered         : {summary([s.config_ms for s in runs])}  "
        f"({configured / floor_ms:.1f}× echo)"
    )
    print(f"  spawn → chat.message routed     : {summary([s.routed_ms for s in runs])}")
    print(f"  main thread CPU at config answer : {summary([s.cpu_ms for s in runs])}")
    print(f"  CPU, all threads, spawn → exit   : {summary([s.total_cpu_ms for s in runs])}")
    if not fresh:
        print(
            f"  goals: initialize ≤ {READY_GOAL_MS:.0f} ms {'met' if ready <= READY_GOAL_MS else 'MISSED'}, "
            f"config ≤ {CONFIG_GOAL_MS:.0f} ms {'met' if configured <= CONFIG_GOAL_MS else 'MISSED'}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="runs per variant")
    parser.add_argument("--baseline", type=Path, help="checkout started alongside, interleaved (before/after)")
    parser.add_argument("--fresh", action="store_true", help="also first starts against a local fake model server")
    parser.add_argument("--bootstrap", action="store_true", help="also time the first-run venv set-up")
    parser.add_argument("--dev-venv", action="store_true", help="run the children with .venv (editable install)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kimchi-start-") as name, FakeModelServer() as server:
        server.metadata = [metadata_entry(slug) for slug in DEFAULT_MODELS]
        tmp = Path(name)
        seed_catalogue(tmp / "cache")
        warm = Config(config_params(), {})
        python = PYTHON if args.dev_venv else user_layout_python(tmp)
        brain = [str(python), "-m", "kimchi_plugin"]
        echo = [str(python), str(ECHO)]
        roots: list[Path | None] = [args.baseline, None] if args.baseline else [None]
        for root in roots:
            spawn(brain, tmp, root, config=warm, route=True)  # warm the page cache and bytecode once
        starts: dict[Path | None, list[Start]] = {root: [] for root in roots}
        firsts: dict[Path | None, list[Start]] = {root: [] for root in roots}
        floor: list[float] = []
        interpreter: list[float] = []
        for _ in range(args.n):
            for root in roots:
                starts[root].append(spawn(brain, tmp, root, config=warm, route=True))
                if args.fresh:
                    firsts[root].append(spawn(brain, tmp, root, config=fresh_config(server, tmp), route=True))
            floor.append(spawn(echo, tmp).ready_ms)
            interpreter.append(bare(python, tmp))
        layout = "dev .venv (editable install)" if args.dev_venv else "user layout"
        print(f"start-up, warm {layout}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"echo child spawn → answered       : {summary(floor)}")
        print(f"python -c pass (spawn → exit)     : {summary(interpreter)}")
        f50 = statistics.median(floor)
        for root in roots:
            report(root, starts[root], f50)
            if args.fresh:
                report(root, firsts[root], f50, fresh=True)
        profiled = spawn(brain, tmp, extra=("-X", "importtime"), config=warm, linger_s=LINGER_S)
        print_imports("imports before config is answered", profiled.stderr_before)
        print_imports(f"imports in the {LINGER_S:.0f} s after the config answer", profiled.stderr_after)
        if args.bootstrap:
            print()
            bootstrap(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
