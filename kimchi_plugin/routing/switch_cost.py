"""Whether moving a session to a cheaper model pays for the prompt cache it leaves behind.

A model that did not serve the previous request holds no cache for the conversation, so its first request bills the
whole context as uncached input (or as cache writes, where the provider charges them); the model that did serve it
reads that context at its cached price. A move down to a cheaper tier is worth it only when what the cheaper model
saves over the requests until the next switch beats that one-off loss. Moves up (the work needs a more capable tier)
and explicit choices are never weighed: quality and the user's word come before cost.

Pure: prices (USD per 1M tokens, from the registry, which fills missing cache prices from the model's family in
data/models.json, or with the input price when nothing is known) and the session's figures are arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kimchi_plugin.routing.registry import TOKENS_PER_PRICE_UNIT, ModelSpec
from kimchi_plugin.routing.tiers import TIER_ORDER, Tier

# Prior for the number of requests a session stays on one model before the next switch (an agent turn is a few
# requests; a session usually keeps a tier for more than one turn), and how many observed stays it weighs as.
PRIOR_REQUESTS_PER_STAY = 8.0
PRIOR_WEIGHT = 2.0
MAX_REQUESTS_PER_STAY = 50.0
# Shape of a later request when the session has no figures yet: uncached prompt tokens it adds (tool results, the
# user's text, the previous answer) and the tokens it generates.
DEFAULT_NEW_TOKENS = 2_000
# Prior for the chance that a move down is followed by a move back up (the warm model's tier is needed again), and
# how many observed switches it weighs as.
PRIOR_RETURN = 0.5
PRIOR_RETURN_WEIGHT = 4.0
DEFAULT_OUTPUT_TOKENS = 500
SHORT_USD = 0.10  # amounts from this on are said with cents only


@dataclass(frozen=True, slots=True)
class CachePrices:
    """USD per 1M tokens of one model, as the switch rule needs them."""

    input: float
    output: float
    cache_read: float
    cache_write: float

    @classmethod
    def of(cls, spec: ModelSpec) -> CachePrices:
        return cls(spec.cost_input, spec.cost_output, spec.cost_cache_read, spec.cost_cache_write)

    @property
    def uncached(self) -> float:
        """Price of a prompt token the cache does not hold: written to the cache where writes are billed."""
        return self.cache_write if self.cache_write > 0 else self.input

    @property
    def cached(self) -> float:
        """Price of a prompt token read from a warm cache."""
        return self.cache_read


@dataclass(frozen=True, slots=True)
class Workload:
    """What the session is expected to send until its next switch."""

    requests: float = PRIOR_REQUESTS_PER_STAY
    new_tokens: int = DEFAULT_NEW_TOKENS
    output_tokens: int = DEFAULT_OUTPUT_TOKENS
    return_probability: float = PRIOR_RETURN  # chance the session then comes back to the warm model's tier


@dataclass(frozen=True, slots=True)
class SwitchDecision:
    """Stay or switch, the expected cost of each over the workload, and why."""

    switch: bool
    stay_usd: float
    switch_usd: float
    reason: str

    @property
    def saved_usd(self) -> float:
        """What staying saved against switching (0 when the decision was to switch)."""
        return 0.0 if self.switch else self.switch_usd - self.stay_usd


def expected_requests(stays: Sequence[int], current: int = 0) -> float:
    """Requests until the next switch: the mean length of the session's finished stays on one model, shrunk towards
    the prior; a stay already longer than that (`current` requests so far) is expected to last as long again."""
    mean = (PRIOR_REQUESTS_PER_STAY * PRIOR_WEIGHT + sum(stays)) / (PRIOR_WEIGHT + len(stays))
    return min(max(mean, float(current), 1.0), MAX_REQUESTS_PER_STAY)


def return_probability(moves_up: int, switches: int) -> float:
    """Chance that a move down is undone: the session's share of switches that went up a tier, shrunk towards the
    prior."""
    return (PRIOR_RETURN * PRIOR_RETURN_WEIGHT + moves_up) / (PRIOR_RETURN_WEIGHT + switches)


def horizon_cost(prices: CachePrices, prefix_tokens: int, workload: Workload, *, warm: bool) -> float:
    """USD of the next `workload.requests` requests on one model. Request k reads the prefix and what the k earlier
    requests added from the cache, and adds `new_tokens` uncached; a cold model reads its first prefix uncached."""
    n = workload.requests
    read_tokens = n * prefix_tokens + workload.new_tokens * n * (n - 1) / 2
    per_request = workload.new_tokens * prices.uncached + workload.output_tokens * prices.output
    usd = read_tokens * prices.cached + n * per_request
    if not warm:
        usd += prefix_tokens * (prices.uncached - prices.cached)
    return usd / TOKENS_PER_PRICE_UNIT


def _more_capable(target: Tier, current: Tier) -> bool:
    return TIER_ORDER.index(target) < TIER_ORDER.index(current)


def _usd(amount: float) -> str:
    return f"${amount:.2f}" if amount >= SHORT_USD else f"${amount:.4f}"


def decide_switch(
    *,
    warm_model: str | None,
    warm_tier: Tier | None,
    prefix_tokens: int,
    target_model: str,
    target_tier: Tier,
    warm_prices: CachePrices | None,
    target_prices: CachePrices,
    workload: Workload,
    explicit: bool = False,
) -> SwitchDecision:
    """Whether to move the session from the model holding its warm cache to the router's choice.

    `explicit`: the user picked the model or tier (or the move must happen, e.g. a fallback after a failure); it is
    never vetoed, nor is a move to a more capable tier. Otherwise the cheaper of staying and switching wins.
    """
    if explicit:
        return SwitchDecision(True, 0.0, 0.0, f"switched to {target_model}: explicit choice")
    if warm_model is None or warm_tier is None or warm_prices is None or warm_model == target_model:
        return SwitchDecision(True, 0.0, 0.0, f"on {target_model}: no warm cache elsewhere")
    if _more_capable(target_tier, warm_tier):
        return SwitchDecision(
            True, 0.0, 0.0, f"switched to {target_model}: the work needs the {target_tier.value} tier"
        )
    if prefix_tokens <= 0:
        return SwitchDecision(True, 0.0, 0.0, f"switched to {target_model}: nothing cached on {warm_model}")
    stay = horizon_cost(warm_prices, prefix_tokens, workload, warm=True)
    # Switching leaves the warm cache behind for good: coming back later starts the warm model cold on the grown
    # context, which staying would not have paid.
    grown = prefix_tokens + workload.requests * workload.new_tokens
    back = workload.return_probability * grown * (warm_prices.uncached - warm_prices.cached) / TOKENS_PER_PRICE_UNIT
    move = horizon_cost(target_prices, prefix_tokens, workload, warm=False) + max(back, 0.0)
    cached = f"{prefix_tokens / 1000:.0f}K tokens cached, ~{workload.requests:.0f} requests ahead"
    if move > stay:
        reason = f"stayed on {warm_model}: switching to {target_model} would cost {_usd(move - stay)} more ({cached})"
        return SwitchDecision(False, stay, move, reason)
    reason = f"switched to {target_model}: saves {_usd(stay - move)} despite the cache left on {warm_model} ({cached})"
    return SwitchDecision(True, stay, move, reason)
