"""Latency of the message classifier and the conversation decision (p50/p99 in microseconds, and CPU time per call,
the stable figure on a busy machine), the cost of the weight table (load time, memory), and the CPU time of a whole
`chat.message` through the dispatcher by message size (beside decoding and encoding the same frame, the part that
must grow with the message).

    python scripts/bench_classifier.py [--rounds N]
    PYTHONPATH=<checkout> python scripts/bench_classifier.py   # another checkout's classifier, for a same-run baseline

Short, medium and long prose, a pasted traceback, a 5 KB message of varied prose (consecutive messages of set A), 5 KB
of plain English prose, and a 200 KB paste (only a bounded head and tail of which is read). The plain prose, and the
`chat.message` messages, are bench_hooks.py's sentences.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import cast

from bench_hooks import SENTENCES
from bench_routing import chat_frame, make_brain

from kimchi_plugin.routing.classifier import classify, load_weights
from kimchi_plugin.routing.classify import table as table_file
from kimchi_plugin.routing.conversation import ConversationState, Message, decide

SET_A = Path(__file__).resolve().parent.parent / "tests" / "routing_data" / "a" / "messages.jsonl"
FIVE_KB = 5000
LOAD_ROUNDS = 15
HOOK_SIZES = (5_000, 100_000, 1_000_000)
HOOK_CALLS = 4_000_000  # characters of messages per size (at least 20 calls)
HOOK_WARMUP = 10
TRACE = "\n".join(
    ["Traceback (most recent call last):"]
    + [
        f'  File "/srv/app/module_{i}.py", line {i * 7}, in handler_{i}\n    result = step_{i}(payload)'
        for i in range(12)
    ]
    + ["KeyError: 'customer_id'"]
)


def five_kb() -> str:
    """Consecutive messages of set A joined until 5 KB: the words of a long message, not one sentence repeated."""
    text = ""
    for line in SET_A.read_text(encoding="utf-8").splitlines():
        text += json.loads(line)["text"] + " "
        if len(text) >= FIVE_KB:
            break
    return text[:FIVE_KB]


CASES = {
    "short": "why does this crash?",
    "medium": (
        "the checkout endpoint returns 500 for about 2% of requests since yesterday's deploy, only for users "
        "with a saved card. can you figure out what changed and why?"
    ),
    "long": (
        "We're a small team running a Django monolith with Postgres and Celery. Reporting queries hammer the "
        "primary and slow the app down during business hours, deploys are scary because everything ships "
        "together, and the test suite takes 25 minutes. "
        * 4
        + "How should we plan the next two quarters: read replicas, splitting services, or something else?"
    ),
    "traceback": "getting this on every request, what's going on?\n" + TRACE,
    "5KB": five_kb(),  # non-ASCII letters: the Unicode patterns
    "5KB plain": "".join(SENTENCES[k % len(SENTENCES)] for k in range(FIVE_KB // 60 + 1))[:FIVE_KB],
    "200KB": "review this generated file before I commit it\n```python\n"
    + "value_%d = compute(%d)  # padding line\n" * 8000
    + "```\nis it safe?",
}


def measure(fn: Callable[[str], object], text: str, rounds: int) -> tuple[float, float, float]:
    """p50 and p99 of the wall time of a call, and the CPU time per call (µs)."""
    for _ in range(min(rounds, 200)):
        fn(text)
    samples = []
    cpu = time.process_time()
    for _ in range(rounds):
        start = time.perf_counter_ns()
        fn(text)
        samples.append((time.perf_counter_ns() - start) / 1000)
    cpu_us = (time.process_time() - cpu) / rounds * 1e6
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1], cpu_us


def table_cost() -> tuple[float, float, float]:
    """Median time to decode the shipped table (ms), and the memory it holds and its file size (MiB)."""
    data = table_file.shipped_bytes()
    times = []
    for _ in range(LOAD_ROUNDS):
        gc.collect()
        start = time.perf_counter()
        table_file.decode(data)
        times.append((time.perf_counter() - start) * 1000)
    gc.collect()
    tracemalloc.start()
    table = table_file.decode(data)
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del table
    return statistics.median(times), held / 2**20, len(data) / 2**20


async def hook_cpu() -> None:
    """CPU time per `chat.message` through the dispatcher, by message size, beside json.loads + json.dumps of the
    frame. The loop turns between calls, so what a call leaves for after its reply (the `/why` answer's save) is
    counted too."""
    with tempfile.TemporaryDirectory(prefix="kimchi-bench-") as folder:
        _, brain_dispatch = await make_brain(Path(folder))
        dispatch = cast(Callable[[str], Awaitable[str]], brain_dispatch)
        print(f"\n{'chat.message':<12} {'chars':>9} {'CPU per call':>13} {'frame JSON':>11}  (µs)")
        for size in HOOK_SIZES:
            calls = max(20, HOOK_CALLS // size)
            frames = [
                chat_frame(i, "".join(SENTENCES[(i + k) % len(SENTENCES)] for k in range(size // 60 + 1))[:size])
                for i in range(HOOK_WARMUP + calls)
            ]
            for frame in frames[:HOOK_WARMUP]:
                await dispatch(frame)
            start = time.process_time()
            for frame in frames[HOOK_WARMUP:]:
                await dispatch(frame)
                await asyncio.sleep(0)  # a loop turn between calls, as a server has: work after the reply runs
            hook_us = (time.process_time() - start) / calls * 1e6
            start = time.process_time()
            for frame in frames[HOOK_WARMUP:]:
                json.dumps(json.loads(frame))
            json_us = (time.process_time() - start) / calls * 1e6
            print(f"{'':<12} {size:>9} {hook_us:>13.0f} {json_us:>11.0f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3000)
    parser.add_argument("--no-hook", action="store_true", help="leave out the whole chat.message figures")
    args = parser.parse_args(argv)

    load_ms, held_mib, file_mib = table_cost()
    print(f"weight table: decode {load_ms:.1f} ms, holds {held_mib:.1f} MiB in memory, file {file_mib:.2f} MiB")
    load_weights()
    state = ConversationState()
    state.sync(
        [Message("user", "the tests fail after the refactor"), Message("assistant", "Looking.", (("bash", True),))]
    )

    def in_session(text: str) -> object:
        return decide(text, state)

    print(
        f"{'case':<10} {'chars':>8} {'classify p50':>13} {'p99':>8} {'CPU':>7} {'decide p50':>11} {'p99':>8} {'CPU':>7}"
        "  (µs)"
    )
    for name, text in CASES.items():
        rounds = args.rounds if len(text) < 10_000 else max(200, args.rounds // 10)
        c50, c99, c_cpu = measure(classify, text, rounds)
        d50, d99, d_cpu = measure(in_session, text, rounds)
        row = f"{c50:>13.1f} {c99:>8.1f} {c_cpu:>7.1f} {d50:>11.1f} {d99:>8.1f} {d_cpu:>7.1f}"
        print(f"{name:<10} {len(text):>8} {row}")
    if not args.no_hook:
        asyncio.run(hook_cpu())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
