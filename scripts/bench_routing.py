"""In-process cost of routing: the decision (`Router.route`, heuristic path), the whole `chat.message` handler behind
the dispatcher (JSON frame in, JSON frame out), and `experimental.chat.messages.transform` on a ~100K-token
conversation (cold and incremental) against the hook's time budget. Each figure has a baseline from the same run.

Usage: .venv/bin/python scripts/bench_routing.py [-n 5000] [--tokens 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("KIMCHI_LOG_LEVEL", "WARNING")  # the brain's info lines would bury the figures

from kimchi_plugin.app import plugin_services  # noqa: E402
from kimchi_plugin.brain import Brain  # noqa: E402
from kimchi_plugin.logs import configure_logging  # noqa: E402
from kimchi_plugin.opencode.routes import build_routes  # noqa: E402
from kimchi_plugin.routing.registry import Registry  # noqa: E402
from kimchi_plugin.routing.router import Policy, Request, Router  # noqa: E402
from kimchi_plugin.routing.sessions import SessionStore  # noqa: E402
from kimchi_plugin.rpc.dispatch import build_dispatcher  # noqa: E402

MESSAGES = REPO_ROOT / "tests" / "routing_data" / "a" / "messages.jsonl"
PROVIDER = "kimchi"
# The models a Kimchi user typically has configured (families known to the bundled table).
PROVIDER_MODELS = {m: {} for m in ("kimi-k2.5", "glm-5", "minimax-m2.7", "minimax-m2.5", "nemotron-3-super")}
SESSIONS = 64
TRANSFORM_BUDGET_MS = 300.0  # the shim's default budget for experimental.chat.messages.transform
DECISION_GOAL_P50_MS = 0.2
WARMUP = 300
CHARS_PER_TOKEN = 4  # only for sizing the synthetic conversation; the brain counts exactly


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def line(label: str, values: list[float], base: list[float] | None = None, unit: str = "ms") -> str:
    text = f"{label:44s} p50 {statistics.median(values):9.4f}  p99 {pct(values, 0.99):9.4f} {unit}"
    if base is not None:
        text += f"   | baseline p50 {statistics.median(base):8.4f}  p99 {pct(base, 0.99):8.4f} {unit}"
    return text


def texts() -> list[str]:
    return [json.loads(row)["text"] for row in MESSAGES.read_text().splitlines() if row.strip()]


async def bench_decision(n: int, corpus: list[str]) -> None:
    registry = Registry.build(
        provider_models=PROVIDER_MODELS, api_models=None, pins=None, priorities=None, now=datetime.now(timezone.utc)
    )
    router = Router(registry, Policy())
    store = SessionStore()
    lookup = {f"s{i}": i for i in range(SESSIONS)}
    decided: list[float] = []
    floor: list[float] = []
    for i in range(WARMUP + n):
        text = corpus[i % len(corpus)]
        sid = f"s{i % SESSIONS}"
        state = store.get(sid, float(i))
        request = Request(session_id=sid, text=text, agent="build", primary=True, requested="kimi-k2.5", now=float(i))
        started = time.perf_counter_ns()
        await router.route(request, state)
        mid = time.perf_counter_ns()
        await _lookup(lookup, sid)
        done = time.perf_counter_ns()
        if i >= WARMUP:
            decided.append((mid - started) / 1e6)
            floor.append((done - mid) / 1e6)
    auto: list[float] = []
    for i in range(WARMUP + n):
        text = corpus[i % len(corpus)]
        sid = f"a{i % SESSIONS}"
        state = store.get(sid, float(i))
        request = Request(session_id=sid, text=text, agent="build", primary=True, requested="auto", now=float(i))
        started = time.perf_counter_ns()
        await router.route(request, state)
        if i >= WARMUP:
            auto.append((time.perf_counter_ns() - started) / 1e6)
    print(
        f"routing decision, {n} eval-set messages over {SESSIONS} sessions, {len(registry.models())} models "
        f"(baseline: awaited dict lookup)"
    )
    print(line("Router.route, automatic (heuristic path)", auto, floor))
    print(line("Router.route, explicit model pick", decided, floor))
    verdict = "met" if statistics.median(auto) <= DECISION_GOAL_P50_MS else "MISSED"
    print(f"  goal p50 <= {DECISION_GOAL_P50_MS} ms: {verdict}")


async def _lookup(table: dict[str, int], key: str) -> int:
    return table[key]


def chat_frame(i: int, text: str) -> str:
    sid = f"ses_{i % SESSIONS}"
    model = {"providerID": PROVIDER, "modelID": "auto"}
    params = {
        "input": {"sessionID": sid, "agent": "build", "model": model, "messageID": f"msg_{i}"},
        "output": {
            "message": {"id": f"msg_{i}", "sessionID": sid, "role": "user", "agent": "build", "model": model},
            "parts": [{"id": f"prt_{i}", "type": "text", "text": text}],
        },
    }
    return json.dumps({"jsonrpc": "2.0", "id": i, "method": "chat.message", "params": params})


async def make_brain(workdir: Path) -> tuple[Brain, object]:
    env = {"HOME": str(workdir), "XDG_STATE_HOME": str(workdir), "XDG_CACHE_HOME": str(workdir)}
    runtime = Brain(plugin_services(env=env, log_file=str(workdir / "brain.log")))
    dispatch = build_dispatcher(build_routes(runtime))
    init = {
        "protocolVersion": 1,
        "options": {"llmClassifier": False, "toasts": True, "logFile": str(workdir / "b.log")},
    }
    await dispatch(json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init}))
    config = {"model": f"{PROVIDER}/auto", "provider": {PROVIDER: {"models": PROVIDER_MODELS}}}
    await dispatch(json.dumps({"jsonrpc": "2.0", "id": 0, "method": "config", "params": {"output": config}}))
    runtime.tokens.wait_until_loaded()
    return runtime, dispatch


async def bench_hook(n: int, corpus: list[str], workdir: Path) -> None:
    _, dispatch = await make_brain(workdir)
    hook: list[float] = []
    floor: list[float] = []
    for i in range(WARMUP + n):
        frame = chat_frame(i, corpus[i % len(corpus)])
        started = time.perf_counter_ns()
        reply = await dispatch(frame)
        mid = time.perf_counter_ns()
        json.dumps(json.loads(frame))
        done = time.perf_counter_ns()
        assert '"result"' in reply, reply
        if i >= WARMUP:
            hook.append((mid - started) / 1e6)
            floor.append((done - mid) / 1e6)
    print("\nchat.message through the dispatcher (JSON in -> JSON out), baseline: json.loads + json.dumps of the frame")
    print(line("dispatch(chat.message frame)", hook, floor))


def conversation(tokens: int, session: str) -> list[dict]:
    """A coding session of user turns, assistant replies and tool calls (file reads, edits, test runs)."""
    code = (REPO_ROOT / "kimchi_plugin" / "routing" / "router.py").read_text()
    prose = "The failing test suggests the cursor is reused after the reconnect, so the stale offset is sent. "
    messages: list[dict] = []
    size = 0
    turn = 0
    while size < tokens * CHARS_PER_TOKEN:
        turn += 1
        user = {
            "info": {"id": f"msg_u{turn}", "role": "user", "sessionID": session, "agent": "build"},
            "parts": [{"id": f"prt_u{turn}", "type": "text", "text": f"step {turn}: now fix the next failing case"}],
        }
        tool_output = code[(turn * 997) % 4000 :][:3000]
        assistant = {
            "info": {"id": f"msg_a{turn}", "role": "assistant", "sessionID": session, "agent": "build"},
            "parts": [
                {"id": f"prt_r{turn}", "type": "reasoning", "text": prose * 3},
                {
                    "id": f"prt_t{turn}",
                    "type": "tool",
                    "tool": "read",
                    "state": {"status": "completed", "input": {"filePath": f"src/mod{turn}.py"}, "output": tool_output},
                },
                {"id": f"prt_x{turn}", "type": "text", "text": prose * 2},
            ],
        }
        messages += [user, assistant]
        size += len(json.dumps(user)) + len(json.dumps(assistant))
    return messages


def transform_frame(rpc_id: int, messages: list[dict]) -> str:
    params = {"input": {}, "output": {"messages": messages}}
    return json.dumps(
        {"jsonrpc": "2.0", "id": rpc_id, "method": "experimental.chat.messages.transform", "params": params}
    )


async def bench_transform(tokens: int, workdir: Path, rounds: int) -> None:
    from kimchi_plugin.routing.tokens import TokenCounter

    base = conversation(tokens, "ses_big")
    counter = TokenCounter()
    counter.wait_until_loaded()
    exact = sum(counter.count(json.dumps(m)) for m in base)
    cold: list[float] = []
    incremental: list[float] = []
    parse_floor: list[float] = []
    frame_bytes = 0
    for r in range(rounds):
        runtime, dispatch = await make_brain(workdir / f"t{r}")
        frame = transform_frame(1, base)
        frame_bytes = len(frame)
        gc.collect()
        started = time.perf_counter()
        reply = await dispatch(frame)
        cold.append((time.perf_counter() - started) * 1000)
        assert '"result"' in reply, reply[:300]
        started = time.perf_counter()
        json.loads(frame)
        parse_floor.append((time.perf_counter() - started) * 1000)
        grown = list(base)
        for step in range(5):  # each turn adds a user message and an assistant reply
            grown = grown + conversation(300, "ses_big")[:2]
            grown[-2]["info"]["id"] += f"-{r}-{step}"
            grown[-1]["info"]["id"] += f"-{r}-{step}"
            frame = transform_frame(2 + step, grown)
            started = time.perf_counter()
            await dispatch(frame)
            incremental.append((time.perf_counter() - started) * 1000)
        state = runtime.sessions.peek("ses_big")
        counted = state.transcript_tokens if state else 0
    print(
        f"\nexperimental.chat.messages.transform, {len(base)} messages, ~{exact // 1000}K tokens of JSON "
        f"({counted // 1000}K counted as sent to the model), frame {frame_bytes / 1e6:.1f} MB; "
        f"budget {TRANSFORM_BUDGET_MS:.0f} ms"
    )
    print(line("cold (first sight of the session)", cold, parse_floor))
    print(line("incremental (one new turn)", incremental, parse_floor))
    print("  baseline: json.loads of the same frame (the cost of merely reading it)")
    worst = max(pct(cold, 0.99), pct(incremental, 0.99))
    print(f"  within budget: {'yes' if worst < TRANSFORM_BUDGET_MS else 'NO'} (worst p99 {worst:.1f} ms)")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5000, help="routed messages per measurement")
    parser.add_argument("--tokens", type=int, default=100_000, help="size of the long conversation")
    parser.add_argument("--rounds", type=int, default=5, help="cold transform runs")
    args = parser.parse_args()
    configure_logging(log_file=None)
    corpus = texts()
    await bench_decision(args.n, corpus)
    with tempfile.TemporaryDirectory(prefix="kimchi-bench-") as tmp:
        await bench_hook(args.n, corpus, Path(tmp))
        await bench_transform(args.tokens, Path(tmp), args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
