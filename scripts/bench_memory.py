"""Resident memory of the real brain process: idle (initialized and serving), after a short session (a few turns, no
exact token count needed), once a long conversation made it load the o200k encoding, and while 100,000 messages are
routed over 10,000 sessions (it must stay flat: session state is bounded). Baselines from the same run: a bare
interpreter and the echo child (scripts/echo_brain.py). Targets (issue "the fast path"): idle ≤ 45 MB, short
session ≤ 70 MB, with the encoding ≤ 100 MB, flat.

Usage: .venv/bin/python scripts/bench_memory.py [--messages 100000] [--sessions 10000] [--root CHECKOUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_child import ECHO, PYTHON, child_env, frame, rss_mb

PROVIDER_MODELS = {m: {} for m in ("kimi-k2.5", "glm-5", "minimax-m2.7", "minimax-m2.5", "nemotron-3-super")}
SAMPLES = 10  # RSS readings during the routing run
SETTLE_S = 1.0  # RSS unchanged this long = the background load is done
SETTLE_TIMEOUT_S = 30.0
FLAT_TOLERANCE_MB = 8.0  # growth from the first to the last sample still called flat
SHORT_SESSION_TURNS = 8
LONG_REPEAT = 1500  # ~100K tokens
WINDOW = 32  # requests in flight at most (OpenCode waits for each hook; `serve` runs a few sessions at once)
ROOT: Path | None = None  # --root: run the brain from another checkout (before/after on one machine)
TEXTS = (
    "add a /health endpoint that returns the git sha",
    "why does the worker stop consuming after a reconnect? the logs show nothing",
    "where is the retry policy configured?",
    "review the auth middleware for token leaks",
    "refactor the session store into smaller functions",
    "plan the migration from celery to a plain queue: trade-offs?",
)


def chat(rpc_id: int, session: str, text: str) -> bytes:
    model = {"providerID": "kimchi", "modelID": "auto"}
    return frame(
        rpc_id,
        "chat.message",
        {
            "input": {"sessionID": session, "agent": "build", "model": model, "messageID": f"m{rpc_id}"},
            "output": {
                "message": {"id": f"m{rpc_id}", "sessionID": session, "agent": "build", "model": model},
                "parts": [{"type": "text", "text": f"{text} (#{rpc_id})"}],
            },
        },
    )


def transform(rpc_id: int, session: str, texts: list[str]) -> bytes:
    """`experimental.chat.messages.transform` with one text message per entry."""
    messages = [
        {
            "info": {"id": f"{session}-m{i}", "role": "user" if i % 2 == 0 else "assistant", "sessionID": session},
            "parts": [{"type": "text", "text": text}],
        }
        for i, text in enumerate(texts)
    ]
    return frame(rpc_id, "experimental.chat.messages.transform", {"input": {}, "output": {"messages": messages}})


def tool_after(rpc_id: int, session: str) -> bytes:
    return frame(
        rpc_id,
        "tool.execute.after",
        {
            "input": {
                "tool": "edit",
                "sessionID": session,
                "callID": f"c{rpc_id}",
                "args": {"filePath": f"src/f{rpc_id}.py"},
            },
            "output": {"title": "edit", "output": "ok", "metadata": {}},
        },
    )


class Brain:
    def __init__(self, argv: list[str], tmp: Path) -> None:
        env = child_env(ROOT, XDG_STATE_HOME=str(tmp), XDG_CACHE_HOME=str(tmp), KIMCHI_LOG_LEVEL="WARNING")
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=tmp
        )

    def call(self, data: bytes) -> dict:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(data)
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def settle(self) -> float:
        """RSS once it stops changing (background work finished)."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        last, since = rss_mb(self.proc.pid), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            now = rss_mb(self.proc.pid)
            if abs(now - last) > 0.5:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= SETTLE_S:
                break
        return last

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def route_many(brain: Brain, messages: int, sessions: int, window: int) -> list[tuple[int, float]]:
    """Route `messages` chat messages (each followed by an edit tool call) round-robin over `sessions`, with at most
    `window` requests in flight."""
    proc = brain.proc
    assert proc.stdin and proc.stdout
    every = max(1, messages // SAMPLES)
    slots = threading.Semaphore(max(2, window))

    def write() -> None:
        for i in range(messages):
            session = f"ses_{i % sessions:05d}"
            slots.acquire()
            slots.acquire()
            proc.stdin.write(chat(2 * i + 10, session, TEXTS[i % len(TEXTS)]) + tool_after(2 * i + 11, session))
            proc.stdin.flush()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    samples: list[tuple[int, float]] = []
    errors = 0
    for n in range(2 * messages):
        reply = json.loads(proc.stdout.readline())
        slots.release()
        errors += "error" in reply
        if n % (2 * every) == 2 * every - 1:
            samples.append(((n + 1) // 2, rss_mb(proc.pid)))
    writer.join()
    if errors:
        raise RuntimeError(f"{errors} error replies while routing")
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--window", type=int, default=WINDOW, help="requests in flight (0: no limit, a flood)")
    parser.add_argument("--root", type=Path, help="checkout to run the brain from (PYTHONPATH)")
    args = parser.parse_args()
    global ROOT
    ROOT = args.root
    with tempfile.TemporaryDirectory(prefix="kimchi-mem-") as name:
        tmp = Path(name)
        bare = subprocess.run(
            [str(PYTHON), "-c", "print(open('/proc/self/status').read())"], capture_output=True, text=True, check=True
        ).stdout
        bare_mb = next(int(r.split()[1]) / 1024 for r in bare.splitlines() if r.startswith("VmRSS:"))
        echo = Brain([str(PYTHON), str(ECHO)], tmp)
        echo.call(frame(1, "initialize", {"protocolVersion": 1}))
        echo_mb = echo.settle()
        echo.close()

        brain = Brain([str(PYTHON), "-m", "kimchi_plugin"], tmp)
        started = time.perf_counter()
        brain.call(frame(1, "initialize", {"protocolVersion": 1, "options": {"llmClassifier": False}}))
        idle_mb = brain.settle()  # initialized and serving; nothing loaded yet
        config = {"model": "kimchi/auto", "provider": {"kimchi": {"models": PROVIDER_MODELS}}}
        brain.call(frame(2, "config", {"input": None, "output": config}))
        history: list[str] = []
        for turn in range(SHORT_SESSION_TURNS):
            history += [TEXTS[turn % len(TEXTS)], "Done: " + TEXTS[(turn + 1) % len(TEXTS)] * 20]
            brain.call(chat(3 + 2 * turn, "ses_short", TEXTS[turn % len(TEXTS)]))
            brain.call(transform(4 + 2 * turn, "ses_short", history))
        short_mb = brain.settle()
        long_text = " ".join(TEXTS) * LONG_REPEAT  # a conversation far past any estimate-only threshold
        brain.call(transform(99, "ses_long", [long_text, "ok", long_text]))
        loaded_mb = brain.settle()  # the encoding loads in the background
        print(f"brain RSS (load average {os.getloadavg()[0]:.1f})")
        print(f"  baselines: bare interpreter {bare_mb:6.1f} MB, echo child {echo_mb:6.1f} MB")
        print(
            f"  idle (initialized, serving)       : {idle_mb:6.1f} MB  (+{idle_mb - echo_mb:.1f} over echo)  goal ≤ 45"
        )
        print(f"  after a short session ({SHORT_SESSION_TURNS} turns)   : {short_mb:6.1f} MB  goal ≤ 70")
        print(f"  long conversation, o200k loaded   : {loaded_mb:6.1f} MB  goal ≤ 100")
        window = args.window or 2 * args.messages
        samples = route_many(brain, args.messages, args.sessions, window)
        elapsed = time.perf_counter() - started
        print(
            f"  routing {args.messages} messages (+ one edit tool call each) over {args.sessions} sessions, "
            f"{window} requests in flight at most:"
        )
        for count, mb in samples:
            print(f"    after {count:7d} messages: {mb:6.1f} MB")
        growth = samples[-1][1] - samples[0][1]
        verdict = "flat" if growth <= FLAT_TOLERANCE_MB else "GROWING"
        print(
            f"  growth from first to last sample: {growth:+.1f} MB -> {verdict} "
            f"(tolerance {FLAT_TOLERANCE_MB:.0f} MB); {2 * args.messages / elapsed:.0f} frames/s"
        )
        brain.close()
    return 0 if verdict == "flat" else 1


if __name__ == "__main__":
    sys.exit(main())
