"""Latency of the message classifier and the conversation decision: p50/p99 in microseconds.

    python scripts/bench_classifier.py [--rounds N]

Short, medium and long prose, a pasted traceback, and a 200 KB paste (only a bounded head and tail
of which is read).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kimchi_plugin.routing.classifier import classify
from kimchi_plugin.routing.conversation import ConversationState, Message, decide

TRACE = "\n".join(
    ["Traceback (most recent call last):"]
    + [
        f'  File "/srv/app/module_{i}.py", line {i * 7}, in handler_{i}\n    result = step_{i}(payload)'
        for i in range(12)
    ]
    + ["KeyError: 'customer_id'"]
)
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
    "200KB": "review this generated file before I commit it\n```python\n"
    + "value_%d = compute(%d)  # padding line\n" * 8000
    + "```\nis it safe?",
}


def measure(fn, text: str, rounds: int) -> tuple[float, float]:
    for _ in range(min(rounds, 200)):
        fn(text)
    samples = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        fn(text)
        samples.append((time.perf_counter_ns() - start) / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3000)
    args = parser.parse_args(argv)

    state = ConversationState()
    state.sync(
        [Message("user", "the tests fail after the refactor"), Message("assistant", "Looking.", (("bash", True),))]
    )

    def in_session(text: str) -> object:
        return decide(text, state)

    print(f"{'case':<10} {'chars':>8} {'classify p50':>13} {'p99':>8} {'decide p50':>11} {'p99':>8}  (µs)")
    for name, text in CASES.items():
        rounds = args.rounds if len(text) < 10_000 else max(200, args.rounds // 10)
        c50, c99 = measure(classify, text, rounds)
        d50, d99 = measure(in_session, text, rounds)
        print(f"{name:<10} {len(text):>8} {c50:>13.1f} {c99:>8.1f} {d50:>11.1f} {d99:>8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
