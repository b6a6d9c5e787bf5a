"""The fast fuzz run: ~10,000 hostile frames piped into the real brain process (see tests/fuzz/frames.py); zero
crashes, every request answered, memory bounded. `scripts/bench_fuzz.py` runs it longer (through the variables
below) and prints each run's account."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fuzz.frames import WINDOW, run

pytestmark = pytest.mark.subprocess

FRAMES = int(os.environ.get("KIMCHI_FUZZ_FRAMES", "10000"))
SEED = int(os.environ.get("KIMCHI_FUZZ_SEED", "20260101"))
RUNS = int(os.environ.get("KIMCHI_FUZZ_RUNS", "1"))  # seeds in a row from SEED
FUZZ_WINDOW = int(os.environ.get("KIMCHI_FUZZ_WINDOW", str(WINDOW)))  # frames in flight; 0 sends everything at once
RSS_GROWTH_LIMIT_MB = 150.0  # over idle, after the run (huge strings and deep frames come and go)


@pytest.mark.parametrize("seed", range(SEED, SEED + RUNS))
def test_ten_thousand_hostile_frames(tmp_path: Path, seed: int):
    report = run(tmp_path, FRAMES, seed, window=FUZZ_WINDOW)
    print(f"\nseed {seed}: {report.account()}")

    assert report.problems(report.rss_idle_mb + RSS_GROWTH_LIMIT_MB) == [], report
    assert report.requests > FRAMES // 3  # the mix really carried requests
