"""Hook latency, brain CPU and start-up of the real brain through one direct pipe client, each figure beside the same
client driving the echo child (scripts/echo_brain.py: parses each frame, answers an empty patch) in the same run.

Phases, reported separately: start-up (spawn → `initialize` answered, spawn → `config` answered with a fresh cached
model catalogue), the first seconds after `config` (background loads may run), and the steady state (the calls of
every brain and of the echo child alternate one by one, in a rotating order, so all see the same machine noise).
CPU per request is a child's time on a CPU (the kernel's per-thread schedstat, in nanoseconds: user and system, every
thread) over a run of requests divided by their number, measured in blocks whose order rotates among the children (the
median block).

The brain and the echo child run in a user's layout of the environment (bench_child.user_layout_python: no
editable-install import hook); `--dev-venv` runs them with the dev `.venv` as it is.

Usage: .venv/bin/python scripts/bench_hooks.py [-n 3000] [--starts 15] [--root CHECKOUT] [--baseline CHECKOUT]
                                               [--dev-venv] [--sessions N]
  --root      run the brain from another checkout of this repository (same interpreter)
  --baseline  also run every phase with the brain from this checkout, interleaved with the measured one call by call
              (before/after in one run: both see the same machine load)
  --sessions  run the session phases N times, each with fresh children, and print each figure's median over them: a
              child's steady-state latency moves with where the scheduler places it (two brains of the same code have
              differed by 20 % at the p50 within one session), its CPU time much less
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_child import ECHO, PYTHON, REPO_ROOT, child_env, frame, rss_mb, user_layout_python

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "hooks"
CHEAP_HOOKS = ("chat.params", "experimental.chat.system.transform", "tool.execute.after", "tool.definition--task")
BASE_URL = "http://127.0.0.1:9/v1"  # nothing listens: the cached catalogue must do
SESSION = "ses_dec450866ffeLHErrGYWpmt16l"  # the fixtures' session
FIRST_SECONDS_S = 2.0
SETTLE_S, SETTLE_TIMEOUT_S = 0.3, 3.0  # idle RSS: once it stops changing (the Brain is built after `initialize`)
WARMUP = 300
CPU_BLOCKS = 10  # CPU figures: each child's calls in this many blocks, the children's order rotating between blocks
SENTENCES = (
    "Refactor the session store so eviction happens in one place and add tests for the TTL. ",
    "Why does the websocket handler drop messages after a reconnect? The log shows a stale cursor. ",
    "Where is the retry policy for the payment client configured? ",
    "Review this diff for security problems, especially the token handling in the login flow. ",
    "Implement pagination for the /orders endpoint with a cursor and a page size limit. ",
)
# Targets (issue "the fast path"): ratios to the same-client echo floor, absolute where the issue gives one.
CHEAP_P99_RATIO = 3.0
CPU_US_PER_REQUEST = 80.0
CHAT_P50_MS, CHAT_P99_RATIO, CHAT_P99_MS = 0.4, 5.0, 1.0
INIT_MS, CONFIG_MS = 150.0, 250.0


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def chat_message(rpc_id: int, size: int) -> bytes:
    body = "".join(SENTENCES[(rpc_id + i) % len(SENTENCES)] for i in range(size // 60 + 1))[:size]
    model = {"providerID": "kimchi", "modelID": "auto"}
    return frame(
        rpc_id,
        "chat.message",
        {
            "input": {"sessionID": SESSION, "agent": "build", "model": model, "messageID": f"msg_{rpc_id}"},
            "output": {
                "message": {
                    "id": f"msg_{rpc_id}",
                    "sessionID": SESSION,
                    "role": "user",
                    "agent": "build",
                    "model": model,
                },
                "parts": [{"id": f"prt_{rpc_id}", "type": "text", "text": body}],
            },
        },
    )


def config_params() -> dict[str, Any]:
    cfg: dict[str, Any] = fixture("config")["params"]
    cfg["output"]["provider"]["kimchi"]["options"]["baseURL"] = BASE_URL
    return cfg


def seed_catalogue(cache_home: Path) -> None:
    """A fresh catalogue cache for BASE_URL, as the previous session would have left it."""
    digest = hashlib.sha256(BASE_URL.encode()).hexdigest()[:12]
    path = cache_home / "opencode-kimchi" / f"models-{digest}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    limits = {"context_window": 262144, "max_output_tokens": 32768}
    models = [{"slug": s, "limits": limits, "tool_call": True} for s in ("kimi-k2.5", "glm-5", "minimax-m2.7")]
    path.write_text(json.dumps({"format": 1, "fetched_at": time.time(), "models": models}))


class Child:
    """One brain-like child on pipes; requests are written and answered one at a time."""

    def __init__(self, argv: list[str], home: Path, root: Path | None) -> None:
        env = child_env(root, XDG_STATE_HOME=str(home / "state"), XDG_CACHE_HOME=str(home / "cache"), HOME=str(home))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=home
        )
        assert self.proc.stdin and self.proc.stdout
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout

    def call(self, data: bytes) -> float:
        """Round trip in ms."""
        started = time.perf_counter()
        self.stdin.write(data)
        self.stdin.flush()
        line = self.stdout.readline()
        elapsed = (time.perf_counter() - started) * 1000
        if not line or b'"error"' in line[:200]:
            raise RuntimeError(f"bad reply: {line[:300]!r}")
        return elapsed

    def cpu_s(self) -> float:
        """Time on a CPU so far, every thread (schedstat's first field: nanoseconds, where /proc/PID/stat counts
        10 ms ticks)."""
        tasks = Path(f"/proc/{self.proc.pid}/task")
        total = 0
        for task in tasks.iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, IndexError, ValueError):
                continue  # a thread that ended meanwhile
        return total / 1e9

    def rss_mb(self) -> float:
        return rss_mb(self.proc.pid)

    def settled_rss_mb(self) -> float:
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        last, since = self.rss_mb(), time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - since < SETTLE_S:
            time.sleep(0.05)
            if abs(self.rss_mb() - last) > 0.2:
                last, since = self.rss_mb(), time.monotonic()
        return last

    def close(self) -> None:
        self.stdin.close()
        self.proc.wait(timeout=10)


def init_frame(home: Path) -> bytes:
    options = {"llmClassifier": False, "logFile": str(home / "brain.log")}
    return frame(1, "initialize", {"protocolVersion": 1, "options": options, "directory": str(home)})


def quantiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def start_up(argv: list[str], echo: list[str], home: Path, roots: list[Path | None], runs: int) -> None:
    init: dict[Path | None, list[float]] = {root: [] for root in roots}
    config: dict[Path | None, list[float]] = {root: [] for root in roots}
    floor: list[float] = []
    for _ in range(runs):
        for root in roots:
            brain = Child(argv, home, root)
            brain.call(init_frame(home))
            init[root].append((time.perf_counter() - brain.started) * 1000)
            brain.call(frame(2, "config", config_params()))
            config[root].append((time.perf_counter() - brain.started) * 1000)
            brain.close()
        child = Child(echo, home, None)
        child.call(init_frame(home))
        floor.append((time.perf_counter() - child.started) * 1000)
        child.close()
    f50 = statistics.median(floor)
    print(f"start-up ({runs} spawns each, interleaved, medians; echo child spawn → answered {f50:.1f} ms)")
    for root in roots:
        i50, c50 = statistics.median(init[root]), statistics.median(config[root])
        print(f"  brain from {root or REPO_ROOT}")
        print(
            f"    spawn → initialize answered : {i50:6.1f} ms  ({i50 / f50:.1f}× echo)  "
            f"goal ≤ {INIT_MS:.0f} ms: {verdict(i50 <= INIT_MS)}"
        )
        print(
            f"    spawn → config answered     : {c50:6.1f} ms  ({c50 / f50:.1f}× echo, cached catalogue)  "
            f"goal ≤ {CONFIG_MS:.0f} ms: {verdict(c50 <= CONFIG_MS)}"
        )


def cpu_us(children: list[Child], make: Callable[[int], bytes], first_id: int, calls: int) -> list[float]:
    """Each child's CPU time per request over `calls` requests (`make(rpc_id)`), in µs: the median of its blocks' (the
    requests go in CPU_BLOCKS blocks per child, the children's order rotating between blocks, so all see the same
    machine noise, and a burst of another process's work spoils a block, not the figure)."""
    used: list[list[float]] = [[] for _ in children]
    per_block = max(1, calls // CPU_BLOCKS)
    rpc_id = first_id
    for block in range(CPU_BLOCKS):
        for k in range(len(children)):
            index = (k + block) % len(children)
            child = children[index]
            before = child.cpu_s()
            for _ in range(per_block):
                rpc_id += 1
                child.call(make(rpc_id))
            used[index].append((child.cpu_s() - before) / per_block * 1e6)
    return [statistics.median(blocks) for blocks in used]


def start_session(child: Child, home: Path) -> None:
    child.call(init_frame(home))
    child.call(frame(2, "config", config_params()))


def first_seconds(brain: Child, cheap: list[tuple[str, dict[str, Any]]]) -> None:
    """Cheap hooks right after the session's first routed turn, while background loads may run."""
    first: list[float] = []
    rpc_id = 10
    brain.call(chat_message(rpc_id, 5 * 1024))  # the session's routed turn: the cheap hooks then do their real work
    deadline = time.perf_counter() + FIRST_SECONDS_S
    while time.perf_counter() < deadline:
        _name, fx = cheap[rpc_id % len(cheap)]
        rpc_id += 1
        first.append(brain.call(frame(rpc_id, fx["method"], fx["params"])))
    p50, p99 = quantiles(first)
    print(
        f"  first {FIRST_SECONDS_S:.0f} s after config: cheap hooks p50 {p50:.3f} ms, p99 {p99:.3f} ms, "
        f"max {max(first):.3f} ms ({len(first)} calls)"
    )


def session(brains: dict[Path | None, Child], echo: Child, home: Path, n: int) -> dict[str, float]:
    """Every brain and the echo child through the same phases; steady-state calls alternate among them, in an order
    that rotates call by call (in a fixed order, the child called first always follows the echo child and the client's
    own work). Returns the steady state's figures by name."""
    figures: dict[str, float] = {}
    idle: dict[Path | None, float] = {}
    for root, brain in brains.items():
        brain.call(init_frame(home))
        idle[root] = brain.settled_rss_mb()
        brain.call(frame(2, "config", config_params()))
    start_session(echo, home)
    cheap = [(name, fixture(name)) for name in CHEAP_HOOKS]
    for root, brain in brains.items():
        print(f"brain from {root or REPO_ROOT}")
        first_seconds(brain, cheap)

    def cheap_call(rpc_id: int) -> bytes:
        fx = cheap[rpc_id % len(cheap)][1]
        return frame(rpc_id, fx["method"], fx["params"])

    def chat_call(rpc_id: int) -> bytes:
        return chat_message(rpc_id, 5 * 1024)

    children = [*brains.values(), echo]
    print(f"steady state ({n} calls per kind and child after {WARMUP} warm-up calls, the children's calls alternating)")
    rpc_id = 100_000
    for label, make in (("cheap hooks", cheap_call), ("chat.message 5 KB", chat_call)):
        times: list[list[float]] = [[] for _ in children]
        for k in range(WARMUP + n):
            rpc_id += 1
            data = make(rpc_id)
            for step in range(len(children)):
                index = (k + step) % len(children)  # each child takes each place in turn (see `session`)
                elapsed = children[index].call(data)
                if k >= WARMUP:
                    times[index].append(elapsed)
        f50, f99 = quantiles(times[-1])
        print(f"  {label}: echo p50 {f50:.3f} p99 {f99:.3f} ms")
        figures[f"{label} p50 ms, echo"], figures[f"{label} p99 ms, echo"] = f50, f99
        for root, measured in zip(brains, times):
            r50, r99 = quantiles(measured)
            figures[f"{label} p50 ms, brain from {root or REPO_ROOT}"] = r50
            figures[f"{label} p99 ms, brain from {root or REPO_ROOT}"] = r99
            line = f"    brain from {root or REPO_ROOT}: p50 {r50:.3f} p99 {r99:.3f} ms | p99 {r99 / f99:.2f}× floor"
            if label == "cheap hooks":
                line += f"  goal ≤ {CHEAP_P99_RATIO:.0f}×: {verdict(r99 <= CHEAP_P99_RATIO * f99)}"
            else:
                ok = r50 <= CHAT_P50_MS and r99 <= CHAT_P99_RATIO * f99 and r99 <= CHAT_P99_MS
                line += (
                    f"  goal p50 ≤ {CHAT_P50_MS} ms, p99 ≤ {CHAT_P99_RATIO:.0f}× and ≤ {CHAT_P99_MS} ms: {verdict(ok)}"
                )
            print(line)

    calls = max(n, 3000)
    for label, make, count in (("cheap hook", cheap_call, calls), ("chat.message 5 KB", chat_call, calls // 3)):
        rpc_id += 1
        used = cpu_us(children, make, rpc_id, count)
        rpc_id += count + len(children) * CPU_BLOCKS
        echo_us = used[-1]
        figures[f"CPU µs per {label}, echo"] = echo_us
        print(
            f"  CPU per {label} ({count} calls per child in {CPU_BLOCKS} rotating blocks): echo child {echo_us:.0f} µs"
        )
        for root, brain_us in zip(brains, used):
            figures[f"CPU µs per {label}, brain from {root or REPO_ROOT}"] = brain_us
            line = f"    brain from {root or REPO_ROOT}: {brain_us:.0f} µs ({brain_us / echo_us:.1f}× echo)"
            if label == "cheap hook":
                line += f"  goal ≤ {CPU_US_PER_REQUEST:.0f} µs: {verdict(brain_us <= CPU_US_PER_REQUEST)}"
            print(line)
    for root, brain in brains.items():
        print(
            f"  RSS, brain from {root or REPO_ROOT}: idle {idle[root]:.1f} MB, "
            f"after this session {brain.rss_mb():.1f} MB"
        )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3000, help="steady-state calls per kind")
    parser.add_argument("--starts", type=int, default=15, help="spawns for the start-up figures")
    parser.add_argument("--root", type=Path, help="checkout to run the brain from (PYTHONPATH)")
    parser.add_argument("--baseline", type=Path, help="checkout measured alongside, interleaved (before/after)")
    parser.add_argument("--dev-venv", action="store_true", help="run the children with .venv (editable install)")
    parser.add_argument(
        "--sessions", type=int, default=1, help="steady-state sessions, each with fresh children (medians over them)"
    )
    args = parser.parse_args()
    roots = [args.baseline, args.root] if args.baseline else [args.root]
    with tempfile.TemporaryDirectory(prefix="kimchi-hooks-") as name:
        home = Path(name)
        seed_catalogue(home / "cache")
        python = PYTHON if args.dev_venv else user_layout_python(home)
        brain_argv = [str(python), "-m", "kimchi_plugin"]
        echo_argv = [str(python), str(ECHO)]
        layout = "dev .venv (editable install)" if args.dev_venv else "user layout (bench_child.user_layout_python)"
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; environment: {layout}")
        for root in roots:
            Child(brain_argv, home, root).close()  # page cache and bytecode
        start_up(brain_argv, echo_argv, home, roots, args.starts)
        runs = []
        for number in range(1, args.sessions + 1):
            brains = {root: Child(brain_argv, home, root) for root in roots}
            echo = Child(echo_argv, home, None)
            print(f"session {number} of {args.sessions}, load average {os.getloadavg()[0]:.1f}")
            try:
                runs.append(session(brains, echo, home, args.n))
            finally:
                for child in [*brains.values(), echo]:
                    child.close()
        if len(runs) > 1:
            print(f"over the {len(runs)} sessions (each with fresh children), median [range]:")
            for name in runs[0]:
                values = [run[name] for run in runs]
                print(f"  {name}: {statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}]")
        print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
