"""Quality gate: the shipped classifier keeps its measured accuracy on the labelled test split.

Runs scripts/eval_routing.py as a user would and reads its JSON. The floors sit a little under the figures the
README reports, so a change that makes routing measurably worse fails here rather than in users' sessions.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MESSAGES_TIER_FLOOR = 0.90
ALL_TIER_FLOOR = 0.86
REASONING_LOWER_CEILING = 0.15


@pytest.fixture(scope="module")
def figures() -> dict:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "eval_routing.py"), "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    return json.loads(out[out.index("\n{") + 1 :])


def test_test_split_messages_are_routed_to_the_right_tier(figures: dict) -> None:
    assert figures["all/messages/test"]["tier_accuracy"] >= MESSAGES_TIER_FLOOR


def test_test_split_as_a_whole_keeps_its_accuracy(figures: dict) -> None:
    assert figures["all/all/test"]["tier_accuracy"] >= ALL_TIER_FLOOR


def test_reasoning_work_is_rarely_sent_to_a_lower_tier(figures: dict) -> None:
    assert figures["all/all/test"]["reasoning_routed_lower"] <= REASONING_LOWER_CEILING
