"""Fuzz the real brain process with hostile stdin frames (tests/fuzz/frames.py) and print the account: requests
answered, parse errors, internal errors, memory against the idle baseline, exit code.

Usage: .venv/bin/python scripts/bench_fuzz.py [--frames 10000] [--long] [--seed N] [--window 100 | --flood]
  --long   100,000 frames in 10 runs with different seeds
  --flood  send every frame at once instead of 100 at a time (shows what an unthrottled writer does to memory)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.fuzz.frames import WINDOW, run  # noqa: E402

LONG_RUNS = 10
RSS_GROWTH_LIMIT_MB = 150.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--long", action="store_true", help=f"{LONG_RUNS} runs of --frames frames, seeds in a row")
    parser.add_argument("--window", type=int, default=WINDOW, help="frames in flight before waiting")
    parser.add_argument("--flood", action="store_true", help="no window: everything at once")
    args = parser.parse_args()
    runs = LONG_RUNS if args.long else 1
    failed = False
    total = 0
    for n in range(runs):
        seed = args.seed + n
        with tempfile.TemporaryDirectory(prefix="kimchi-fuzz-") as tmp:
            report = run(Path(tmp), args.frames, seed, oversized=1, window=0 if args.flood else args.window)
        total += report.frames
        problems = report.problems(report.rss_idle_mb + RSS_GROWTH_LIMIT_MB)
        failed |= bool(problems)
        print(
            f"seed {seed}: {report.frames} frames in {report.seconds:.1f} s -> {report.replies} replies; "
            f"{report.requests} requests, {len(report.unanswered)} unanswered, {len(report.duplicated)} answered twice; "
            f"{report.undecodable} undecodable frames, {report.null_id_replies} null-id/parse-error replies; "
            f"internal errors {report.internal_errors} (+{report.exempt_internal_errors} exempt); "
            f"RSS idle {report.rss_idle_mb:.0f} MB, peak {report.rss_peak_mb:.0f} MB, end {report.rss_end_mb:.0f} MB; "
            f"exit {report.exit_code}",
            flush=True,
        )
        for problem in problems:
            print(f"  PROBLEM: {problem}")
    print(f"{total} frames, {'problems found' if failed else 'no crash, every request answered, memory bounded'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
