"""The fast fuzz run: ~10,000 hostile frames piped into the real brain process (see tests/fuzz/frames.py); zero
crashes, every request answered, memory bounded. `scripts/bench_fuzz.py --long` runs more."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.frames import run

pytestmark = pytest.mark.subprocess

FRAMES = 10_000
SEED = 20260101
RSS_GROWTH_LIMIT_MB = 150.0  # over idle, after the run (huge strings and deep frames come and go)


def test_ten_thousand_hostile_frames(tmp_path: Path):
    report = run(tmp_path, FRAMES, SEED)

    assert report.problems(report.rss_idle_mb + RSS_GROWTH_LIMIT_MB) == [], report
    assert report.requests > FRAMES // 3  # the mix really carried requests
