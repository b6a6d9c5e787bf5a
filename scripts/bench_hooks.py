"""Hook latency, brain CPU and start-up of the real brain through one direct pipe client, each figure beside the same
client driving the echo child (scripts/echo_brain.py: parses each frame, answers an empty patch) in the same run.

Phases, reported separately: start-up (spawn → `initialize` answered, spawn → `config` answered with a fresh cached
model catalogue), the first seconds after `config` (background loads may run), and the steady state (brain and echo
calls alternate, so both see the same machine noise). Brain CPU per request is the brain's user+system time over a
run of requests divided by their number.

The brain and the echo child run in a user's layout of the environment (bench_child.user_layout_python: no
editable-install import hook); `--dev-venv` runs them with the dev `.venv` as it is.

Usage: .venv/bin/python scripts/bench_hooks.py [-n 3000] [--starts 15] [--root CHECKOUT] [--baseline CHECKOUT]
                                               [--dev-venv]
  --root      run the brain from another checkout of this repository (same interpreter)
  --baseline  also run every phase with the brain from this checkout, interleaved with the measured one (before/after
              in one run: both see the same machine load)
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
TICK_S = 1 / os.sysconf("SC_CLK_TCK")
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
    return json.loads((FIXTURES / f"{name}.json").read_text())


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
    cfg = fixture("config")["params"]
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
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * TICK_S

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


def cpu_us(child: Child, hooks: list[tuple[str, dict[str, Any]]], first_id: int, calls: int) -> float:
    """The child's CPU time per request over `calls` requests cycling through `hooks`, in µs."""
    before = child.cpu_s()
    for rpc_id in range(first_id, first_id + calls):
        fx = hooks[rpc_id % len(hooks)][1]
        child.call(frame(rpc_id, fx["method"], fx["params"]))
    return (child.cpu_s() - before) / calls * 1e6


def session(brain: Child, echo: Child, home: Path, n: int) -> None:
    brain.call(init_frame(home))
    echo.call(init_frame(home))
    idle = brain.settled_rss_mb()
    brain.call(frame(2, "config", config_params()))
    echo.call(frame(2, "config", config_params()))
    cheap = [(name, fixture(name)) for name in CHEAP_HOOKS]
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
        f"first {FIRST_SECONDS_S:.0f} s after config: cheap hooks p50 {p50:.3f} ms, p99 {p99:.3f} ms, "
        f"max {max(first):.3f} ms ({len(first)} calls)"
    )

    for label, make in (
        ("cheap hooks", lambda i: frame(i, cheap[i % len(cheap)][1]["method"], cheap[i % len(cheap)][1]["params"])),
        ("chat.message 5 KB", lambda i: chat_message(i, 5 * 1024)),
    ):
        real, floor = [], []
        for k in range(WARMUP + n):
            rpc_id += 1
            data = make(rpc_id)
            a, b = brain.call(data), echo.call(data)
            if k >= WARMUP:
                real.append(a)
                floor.append(b)
        (r50, r99), (f50, f99) = quantiles(real), quantiles(floor)
        line = (
            f"  {label:18} brain p50 {r50:.3f} p99 {r99:.3f} ms | echo p50 {f50:.3f} p99 {f99:.3f} ms | "
            f"p99 {r99 / f99:.2f}× floor"
        )
        if label == "cheap hooks":
            line += f"  goal ≤ {CHEAP_P99_RATIO:.0f}×: {verdict(r99 <= CHEAP_P99_RATIO * f99)}"
        else:
            ok = r50 <= CHAT_P50_MS and r99 <= CHAT_P99_RATIO * f99 and r99 <= CHAT_P99_MS
            line += f"  goal p50 ≤ {CHAT_P50_MS} ms, p99 ≤ {CHAT_P99_RATIO:.0f}× and ≤ {CHAT_P99_MS} ms: {verdict(ok)}"
        print(line)

    calls = max(n, 3000)
    used_us = cpu_us(brain, cheap, rpc_id + 1, calls)
    echo_us = cpu_us(echo, cheap, rpc_id + 1 + calls, calls)
    print(
        f"  brain CPU per cheap hook: {used_us:.0f} µs (echo child {echo_us:.0f} µs, {used_us / echo_us:.1f}×)  "
        f"goal ≤ {CPU_US_PER_REQUEST:.0f} µs: {verdict(used_us <= CPU_US_PER_REQUEST)}"
    )
    print(f"  RSS: idle {idle:.1f} MB, after this session {brain.rss_mb():.1f} MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3000, help="steady-state calls per kind")
    parser.add_argument("--starts", type=int, default=15, help="spawns for the start-up figures")
    parser.add_argument("--root", type=Path, help="checkout to run the brain from (PYTHONPATH)")
    parser.add_argument("--baseline", type=Path, help="checkout measured alongside, interleaved (before/after)")
    parser.add_argument("--dev-venv", action="store_true", help="run the children with .venv (editable install)")
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
        for root in roots:
            brain, echo = Child(brain_argv, home, root), Child(echo_argv, home, None)
            print(f"brain from {root or REPO_ROOT}, load average {os.getloadavg()[0]:.1f}")
            print(f"steady state ({args.n} calls per kind after {WARMUP} warm-up calls, brain and echo alternating)")
            try:
                session(brain, echo, home, args.n)
            finally:
                brain.close()
                echo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
