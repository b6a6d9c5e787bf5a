"""Latency of the message classifier and the conversation decision (p50/p99 in microseconds, and CPU time per call,
the stable figure on a busy machine), the cost of the weight table (load time, memory), and the CPU time of a whole
`chat.message` through the dispatcher by message size (beside decoding and encoding the same frame, the part that
must grow with the message).

    python scripts/bench_classifier.py [--rounds N]
    python scripts/bench_classifier.py --baseline <checkout> [--runs N]   # before -> after, interleaved

Short, medium and long prose, a pasted traceback, a 5 KB message of varied prose (consecutive messages of set A), 5 KB
of plain English prose, and a 200 KB paste (only a bounded head and tail of which is read), each classified over and
over; and "5KB new": distinct 5 KB messages of the labelled texts (written sets and real corpus), each classified once
a pass, as a brain meets new messages (with what earlier ones left in the token caches). The plain prose, and the
`chat.message` messages, are bench_hooks.py's sentences. `--baseline` runs the classifier figures in child processes,
this checkout's and the other's package in turn, and prints each case's medians before -> after.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import cast

from bench_hooks import SENTENCES
from bench_routing import chat_frame, make_brain
from compare_features import joined, labelled_texts

import kimchi_plugin
from kimchi_plugin.routing.classifier import classify, load_weights
from kimchi_plugin.routing.classify import table as table_file
from kimchi_plugin.routing.conversation import ConversationState, Message, decide

ROOT = Path(__file__).resolve().parent.parent
SET_A = ROOT / "tests" / "routing_data" / "a" / "messages.jsonl"
FIVE_KB = 5000
# Distinct 5 KB messages of the labelled texts classified once a pass, and how many passes.
NEW_MESSAGES = 300
NEW_PASSES = 3
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


def measure(fn: Callable[[str], object], texts: list[str], rounds: int) -> tuple[float, float, float]:
    """p50 and p99 of the wall time of a call, and the CPU time per call (µs), the texts taken in turn."""
    for i in range(min(rounds, 200)):
        fn(texts[i % len(texts)])
    samples = []
    cpu = time.process_time()
    for i in range(rounds):
        text = texts[i % len(texts)]
        start = time.perf_counter_ns()
        fn(text)
        samples.append((time.perf_counter_ns() - start) / 1000)
    cpu_us = (time.process_time() - cpu) / rounds * 1e6
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1], cpu_us


def new_messages() -> list[str]:
    """Distinct 5 KB messages: consecutive labelled texts joined, from the whole routing data."""
    every = list(joined(labelled_texts(), FIVE_KB))
    return [text[:FIVE_KB] for text in every[:: max(1, len(every) // NEW_MESSAGES)][:NEW_MESSAGES]]


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


# Figures of one case: chars, then p50, p99 and CPU of classify and of the decision in a session (µs).
Row = tuple[int, float, float, float, float, float, float]


def case_rows(rounds: int) -> dict[str, Row]:
    """Every case's figures."""
    state = ConversationState()
    state.sync(
        [Message("user", "the tests fail after the refactor"), Message("assistant", "Looking.", (("bash", True),))]
    )

    def in_session(text: str) -> object:
        return decide(text, state)

    rows = {}
    for name, texts in {**{name: [text] for name, text in CASES.items()}, "5KB new": new_messages()}.items():
        size = len(texts[0])
        turns = rounds if size < 10_000 else max(200, rounds // 10)
        if len(texts) > 1:
            turns = len(texts) * NEW_PASSES
        rows[name] = (size, *measure(classify, texts, turns), *measure(in_session, texts, turns))
    return rows


def print_rows(rows: dict[str, Row]) -> None:
    print(
        f"{'case':<10} {'chars':>8} {'classify p50':>13} {'p99':>8} {'CPU':>7} {'decide p50':>11} {'p99':>8} {'CPU':>7}"
        "  (µs)"
    )
    for name, (size, *figures) in rows.items():
        print(f"{name:<10} {size:>8} " + " ".join(f"{x:>{w}.1f}" for x, w in zip(figures, (13, 8, 7, 11, 8, 7))))


def child_rows(checkout: Path, rounds: int) -> dict[str, Row]:
    """The case figures of a checkout's package, measured in a child process (run from neither checkout)."""
    done = subprocess.run(
        [sys.executable, __file__, "--rows-json", "--rounds", str(rounds)],
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
        env={**os.environ, "PYTHONPATH": str(checkout)},
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the benchmark of {checkout} failed:\n{done.stderr}")
    package, rows = json.loads(done.stdout)
    if not Path(package).resolve().is_relative_to(checkout.resolve()):
        raise SystemExit(f"{checkout}: the child imported {package}")
    return {name: cast(Row, tuple(row)) for name, row in rows.items()}


def compare(baseline: Path, runs: int, rounds: int) -> None:
    """Each case's median figures, the baseline's and this checkout's children alternating (which starts, too)."""
    results: dict[Path, list[dict[str, Row]]] = {baseline: [], ROOT: []}
    for run in range(runs):
        for checkout in (baseline, ROOT) if run % 2 == 0 else (ROOT, baseline):
            results[checkout].append(child_rows(checkout, rounds))
    print(f"before = {baseline}, after = {ROOT}: medians of {runs} interleaved runs (µs)")
    print(f"{'case':<10} {'chars':>8} {'classify p50 before -> after':>30} {'CPU before -> after':>26}")
    for name, (size, *_) in results[ROOT][0].items():
        cells = []
        for column in (1, 3):
            was, now = (statistics.median(rows[name][column] for rows in results[side]) for side in (baseline, ROOT))
            cells.append(f"{was:.1f} -> {now:.1f} ({now / was:.2f}x)")
        print(f"{name:<10} {size:>8} {cells[0]:>30} {cells[1]:>26}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3000)
    parser.add_argument("--no-hook", action="store_true", help="leave out the whole chat.message figures")
    parser.add_argument("--baseline", type=Path, help="another checkout: classifier figures before -> after")
    parser.add_argument("--runs", type=int, default=5, help="with --baseline: child processes per checkout")
    parser.add_argument("--rows-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rows_json:
        load_weights()
        print(json.dumps([kimchi_plugin.__file__, case_rows(args.rounds)]))
        return 0
    if args.baseline:
        compare(args.baseline, args.runs, args.rounds)
        return 0

    load_ms, held_mib, file_mib = table_cost()
    print(f"weight table: decode {load_ms:.1f} ms, holds {held_mib:.1f} MiB in memory, file {file_mib:.2f} MiB")
    load_weights()
    print_rows(case_rows(args.rounds))
    if not args.no_hook:
        asyncio.run(hook_cpu())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
