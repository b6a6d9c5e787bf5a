"""The learning simulation (scripts/simulate_learning.py) on a sample of the labelled sets: a user who wants every
refactoring message on Reasoning is followed after a few corrections, and accuracy on the other messages does not
drop. Prints its table."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from kimchi_plugin.routing.tiers import Profile, Tier

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "simulate_learning.py"
FEW = 8  # corrections of the preferred mode after which it must be mostly followed


@pytest.fixture(scope="module")
def sim():
    spec = importlib.util.spec_from_file_location("simulate_learning", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_systematic_preference_is_followed_and_nothing_else_drops(sim) -> None:
    result = sim.simulate(sim.load("ABCD"), Profile.REFACTORER, Tier.REASONING)
    print("\n" + sim.table(result, Profile.REFACTORER, Tier.REASONING))
    before, *_ = result.curve
    after_few = next(followed for count, followed, _ in result.curve if count >= FEW)
    assert result.held_out > 0 and before[1] < 0.1  # the router alone sends refactoring to Coding
    assert after_few >= 0.6
    assert all(others >= result.others_before - 0.002 for _, _, others in result.curve)
    assert result.moved_wrong <= result.moved_others - result.moved_wrong  # learning fixes more than it breaks
