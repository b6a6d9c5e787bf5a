"""The cost simulator on a small sample of the labelled sessions: prints its table and checks what must hold whatever
the figures (capability moves never blocked by cache awareness, fixed policies' tier shares equal the label mix)."""

from __future__ import annotations

import pytest

from scripts import simulate_costs as sim


@pytest.fixture(scope="module")
def sample():
    return sim.load_sessions("AB")[:12] + sim.load_sessions("K")[:6]


@pytest.mark.parametrize("lineup", ["frontier", "kimchi"])
def test_simulator_sample(sample, lineup):
    results = sim.simulate(sample, lineup)
    print(f"\n[{lineup}] " + sim.table(results, lineup, len(sample)))
    always_r, always_c, routed, aware = (results[name] for name in sim.POLICIES)
    labels = [turn["tier"] for session in sample for turn in session["turns"]]
    assert {t.turns for t in results.values()} == {len(labels)}
    assert always_r.on_tier == labels.count("reasoning") and always_r.below_tier == 0
    assert always_c.below_tier == labels.count("reasoning") and always_c.on_tier == labels.count("coding")
    assert always_r.switches == always_c.switches == 0
    # cache awareness only ever stays on a warm, more capable model: never below what routing served
    assert aware.below_tier <= routed.below_tier
    if lineup == "kimchi":  # no cache discount: nothing to keep, so the same decisions and the same bill
        assert aware.kept_warm == 0 and aware.usd == pytest.approx(routed.usd)
    else:
        assert aware.kept_warm > 0 and aware.switches < routed.switches
