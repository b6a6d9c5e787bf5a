"""Fuzz the real brain process with hostile stdin frames for longer than the test suite does, and print each run's
account: requests answered, parse errors, internal errors, memory against the idle baseline, exit code. It runs the
fuzz test (tests/fuzz/test_fuzz_frames.py) through pytest with bigger numbers, so the frames and the checks stay the
suite's own.

Usage: .venv/bin/python scripts/bench_fuzz.py [--frames 10000] [--long] [--seed N] [--window 100 | --flood]
  --long   100,000 frames in 10 runs with different seeds
  --flood  send every frame at once instead of 100 at a time (shows what an unthrottled writer does to memory)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
FUZZ_TEST = "tests/fuzz/test_fuzz_frames.py"
LONG_RUNS = 10
WINDOW = 100


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--long", action="store_true", help=f"{LONG_RUNS} runs of --frames frames, seeds in a row")
    parser.add_argument("--window", type=int, default=WINDOW, help="frames in flight before waiting")
    parser.add_argument("--flood", action="store_true", help="no window: everything at once")
    args = parser.parse_args()
    env = {
        **os.environ,
        "KIMCHI_FUZZ_FRAMES": str(args.frames),
        "KIMCHI_FUZZ_SEED": str(args.seed),
        "KIMCHI_FUZZ_RUNS": str(LONG_RUNS if args.long else 1),
        "KIMCHI_FUZZ_WINDOW": str(0 if args.flood else args.window),
    }
    argv = [sys.executable, "-m", "pytest", FUZZ_TEST, "-q", "-s"]
    return subprocess.run(argv, cwd=REPO_ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
