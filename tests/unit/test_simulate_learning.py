"""The learning simulation (scripts/simulate_learning.py) on a sample of the labelled sets: a user who wants every
refactoring message on Reasoning is followed after a few corrections, and accuracy on the other messages does not
drop. Prints its table."""

from __future__ import annotations

from kimchi_plugin.routing.tiers import Profile, Tier
from scripts import simulate_learning as sim

FEW = 8  # corrections of the preferred mode after which it must be mostly followed


def test_a_systematic_preference_is_followed_and_nothing_else_drops() -> None:
    result = sim.simulate(sim.load("ABCD"), Profile.REFACTORER, Tier.REASONING)
    print("\n" + sim.table(result, Profile.REFACTORER, Tier.REASONING))
    before, *_ = result.curve
    after_few = next(followed for count, followed, _ in result.curve if count >= FEW)
    assert result.held_out > 0 and before[1] < 0.1  # the router alone sends refactoring to Coding
    assert after_few >= 0.6
    assert all(others >= result.others_before - 0.002 for _, _, others in result.curve)
    assert result.moved_wrong <= result.moved_others - result.moved_wrong  # learning fixes more than it breaks
