"""Quality gate: the shipped classifier keeps its measured accuracy on the labelled test splits.

Runs scripts/eval_routing.py as a user would and reads its JSON: the written sets' test split, and the test split of
the committed corpus of real users' turns (repositories that never train). The floors sit a little under the figures
the README reports, so a change that makes routing measurably worse fails here rather than in users' sessions.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MESSAGES_TIER_FLOOR = 0.90
ALL_TIER_FLOOR = 0.85
REASONING_LOWER_CEILING = 0.135
REAL_MESSAGES_TIER_FLOOR = 0.68
REAL_SESSION_TURNS_FLOOR = 0.76
REAL_REASONING_LOWER_CEILING = 0.35
REAL_CONFIDENT_WRONG_CEILING = 0.05
REAL_CALIBRATION_ERROR_CEILING = 0.03


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


def test_real_users_messages_are_routed_to_the_right_tier(figures: dict) -> None:
    real = figures["real/messages/test"]
    assert real["tier_accuracy"] >= REAL_MESSAGES_TIER_FLOOR
    assert real["reasoning_sent_lower"] <= REAL_REASONING_LOWER_CEILING


def test_real_sessions_under_a_primary_agent_keep_their_accuracy(figures: dict) -> None:
    assert figures["real/session turns (build, sure)/test"]["tier_accuracy"] >= REAL_SESSION_TURNS_FLOOR


def test_confidence_on_real_messages_means_what_it_says(figures: dict) -> None:
    """Few confident mistakes and a small calibration error: the LLM second opinion is asked where it helps."""
    real = figures["real/messages/test"]
    assert real["wrong_with_confidence_ge_0.8"] <= REAL_CONFIDENT_WRONG_CEILING
    assert real["ece"] <= REAL_CALIBRATION_ERROR_CEILING
