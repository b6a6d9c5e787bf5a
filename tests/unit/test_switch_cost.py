"""The cache-switch rule: a warm cache is kept when leaving it costs more than the cheaper model saves; moves up a
tier and explicit choices are never vetoed; the expected stay is learnt from the session with a prior."""

from __future__ import annotations

import pytest

from kimchi_plugin.routing.switch_cost import (
    MAX_REQUESTS_PER_STAY,
    PRIOR_REQUESTS_PER_STAY,
    PRIOR_RETURN,
    CachePrices,
    Workload,
    decide_switch,
    expected_requests,
    horizon_cost,
    return_probability,
)
from kimchi_plugin.routing.tiers import Tier

# USD per 1M tokens: input, output, cache read, cache write (a mid and a small model with discounted cache reads).
MID = CachePrices(3.0, 15.0, 0.3, 3.75)
SMALL = CachePrices(1.0, 5.0, 0.1, 1.25)
TOP = CachePrices(5.0, 25.0, 0.5, 6.25)
NO_DISCOUNT = CachePrices(0.6, 3.0, 0.6, 0.6)
CHEAP_NO_DISCOUNT = CachePrices(0.3, 1.2, 0.3, 0.3)


def move(
    warm_prices,
    target_prices,
    *,
    prefix=80_000,
    requests=3.0,
    warm_tier=Tier.CODING,
    target_tier=Tier.QUICK,
    explicit=False,
    back=0.0,
):
    return decide_switch(
        warm_model="mid",
        warm_tier=warm_tier,
        prefix_tokens=prefix,
        target_model="small",
        target_tier=target_tier,
        warm_prices=warm_prices,
        target_prices=target_prices,
        workload=Workload(requests=requests, return_probability=back),
        explicit=explicit,
    )


def test_horizon_cost_by_hand():
    work = Workload(requests=3, new_tokens=2_000, output_tokens=500)
    # reads: 3 × 80K + 2K × (0 + 1 + 2) = 246K at 0.3; per request 2K at 3.75 and 500 at 15
    assert horizon_cost(MID, 80_000, work, warm=True) == pytest.approx((246_000 * 0.3 + 3 * (7_500 + 7_500)) / 1e6)
    # cold: the first prefix is written at 1.25 instead of read at 0.1
    cold = horizon_cost(SMALL, 80_000, work, warm=False)
    assert cold == pytest.approx((246_000 * 0.1 + 3 * (2_500 + 2_500) + 80_000 * (1.25 - 0.1)) / 1e6)


def test_the_issue_example_one_off_loss():
    # 80K tokens: leaving a cache read at 0.50 for a model whose uncached input is 3 $/M costs ~0.24 $ at once
    warm = CachePrices(5.0, 25.0, 0.5, 0.0)
    target = CachePrices(3.0, 15.0, 0.3, 0.0)
    one = Workload(requests=1, new_tokens=0, output_tokens=0)
    assert horizon_cost(target, 80_000, one, warm=False) == pytest.approx(0.24)
    assert horizon_cost(warm, 80_000, one, warm=True) == pytest.approx(0.04)


def test_warm_cache_kept_when_switching_costs_more():
    decision = move(MID, SMALL, requests=3)
    assert not decision.switch
    assert decision.switch_usd == pytest.approx(0.1316) and decision.stay_usd == pytest.approx(0.1188)
    assert decision.saved_usd == pytest.approx(0.0128)
    assert decision.reason == (
        "stayed on mid: switching to small would cost $0.0128 more (80K tokens cached, ~3 requests ahead)"
    )


def test_a_likely_return_counts_the_warm_model_started_cold_again():
    alone = move(MID, SMALL, requests=10)
    likely = move(MID, SMALL, requests=10, back=0.9)
    # coming back: 80K + 10 × 2K tokens written again on the mid model instead of read (3.75 - 0.3 per 1M), 90 % sure
    assert likely.switch_usd - alone.switch_usd == pytest.approx(0.9 * 100_000 * 3.45 / 1e6)
    assert alone.switch and not likely.switch


def test_return_probability_learnt_with_a_prior():
    assert return_probability(0, 0) == PRIOR_RETURN
    assert return_probability(6, 6) == pytest.approx((PRIOR_RETURN * 4 + 6) / 10)
    assert return_probability(0, 100) < 0.05


def test_a_long_stay_ahead_pays_for_the_cache_loss():
    decision = move(MID, SMALL, requests=30)
    assert decision.switch and decision.saved_usd == 0.0
    assert decision.reason.startswith("switched to small: saves $")
    assert decision.switch_usd < decision.stay_usd


def test_without_a_cache_discount_the_cheaper_model_always_wins():
    decision = move(NO_DISCOUNT, CHEAP_NO_DISCOUNT, prefix=150_000, requests=1)
    assert decision.switch and decision.switch_usd < decision.stay_usd


@pytest.mark.parametrize(
    ("warm_tier", "target_tier"),
    [(Tier.QUICK, Tier.REASONING), (Tier.CODING, Tier.REASONING), (Tier.QUICK, Tier.CODING)],
)
def test_a_move_to_a_more_capable_tier_is_never_vetoed(warm_tier, target_tier):
    # staying on the small warm model would be far cheaper: the work still goes up
    decision = move(SMALL, TOP, prefix=190_000, requests=1, warm_tier=warm_tier, target_tier=target_tier)
    assert decision.switch
    assert decision.reason == f"switched to small: the work needs the {target_tier.value} tier"


def test_an_explicit_choice_is_never_vetoed():
    decision = move(MID, SMALL, prefix=190_000, requests=1, explicit=True)
    assert decision.switch and decision.reason == "switched to small: explicit choice"
    assert not move(MID, SMALL, prefix=190_000, requests=1).switch  # the same move, automatic, is vetoed


def test_nothing_to_lose_without_a_warm_cache():
    cold = decide_switch(
        warm_model=None,
        warm_tier=None,
        prefix_tokens=0,
        target_model="small",
        target_tier=Tier.QUICK,
        warm_prices=None,
        target_prices=SMALL,
        workload=Workload(),
    )
    assert cold.switch and cold.saved_usd == 0.0
    assert move(MID, SMALL, prefix=0).switch


def test_expected_requests_learnt_with_a_prior():
    assert expected_requests([]) == PRIOR_REQUESTS_PER_STAY
    assert expected_requests([2, 2, 2, 2]) == pytest.approx((8 * 2 + 8) / 6)
    assert expected_requests([2, 2, 2, 2], current=12) == 12
    assert expected_requests([1000]) == MAX_REQUESTS_PER_STAY
    assert expected_requests([0] * 30) == 1.0
