"""What a session knows about its prompt cache, and the cache check of a routing decision.

OpenCode reports every request's usage (`message.updated`: uncached input, cache read, cache write). The whole
prompt of the last request is what its model now holds warm; which model that is, how many requests the session stays
on one model and how many uncached tokens a request adds are learnt from those reports. `weigh` then asks
routing.switch_cost whether leaving the warm model for the router's cheaper choice pays for the cache left behind.

Pure: usage figures and model specs are arguments.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from kimchi_plugin.routing.registry import ModelSpec
from kimchi_plugin.routing.switch_cost import (
    CachePrices,
    SwitchDecision,
    Workload,
    decide_switch,
    expected_requests,
    return_probability,
)
from kimchi_plugin.routing.tiers import TIER_ORDER, Tier

# Decision sources that are the user's own choice: a model or tier pick, a slash command, a /lock. Never weighed.
EXPLICIT_SOURCES = frozenset({"pick", "tier", "command", "lock"})
MAX_STAYS = 20  # finished stays remembered per session
MAX_SAMPLES = 20  # uncached-token samples remembered per session
MAX_SEEN = 8  # message ids remembered so that a message's repeated updates count once


@dataclass(slots=True)
class CacheState:
    """The session's warm model, its cached prefix, and the history the expected workload is learnt from."""

    warm_model: str | None = None
    warm_tier: Tier | None = None
    prefix_tokens: int = 0
    current_stay: int = 0  # requests served by the warm model since the last switch
    switches: int = 0
    moves_up: int = 0
    stays: deque[int] = field(default_factory=lambda: deque(maxlen=MAX_STAYS))
    new_tokens: deque[int] = field(default_factory=lambda: deque(maxlen=MAX_SAMPLES))
    seen: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_SEEN))
    keeping: bool = False  # the previous decision kept the warm cache: a run of stays is credited once

    def observe(
        self, message_id: str, model_id: str, tier: Tier, *, input_tokens: int, cache_read: int, cache_write: int
    ) -> None:
        """A completed request: its whole prompt is now the cached prefix of `model_id`."""
        prompt = input_tokens + cache_read + cache_write
        if prompt <= 0 or message_id in self.seen:
            return
        self.seen.append(message_id)
        if model_id != self.warm_model:
            if self.warm_model is not None and self.warm_tier is not None:
                self.stays.append(self.current_stay)
                self.switches += 1
                self.moves_up += TIER_ORDER.index(tier) < TIER_ORDER.index(self.warm_tier)
            self.current_stay = 0
        else:
            self.new_tokens.append(input_tokens + cache_write)  # what the warm model did not hold
        self.warm_model, self.warm_tier, self.prefix_tokens = model_id, tier, prompt
        self.current_stay += 1

    def forget(self) -> None:
        """The context was replaced (compaction): nothing is warm any more; the learnt habits stay."""
        self.warm_model, self.warm_tier, self.prefix_tokens, self.keeping = None, None, 0, False

    def workload(self) -> Workload:
        """The expected requests until the next switch and their shape, from this session's history."""
        samples = self.new_tokens
        return Workload(
            requests=expected_requests(list(self.stays), self.current_stay),
            new_tokens=sum(samples) // len(samples) if samples else Workload().new_tokens,
            return_probability=return_probability(self.moves_up, self.switches),
        )


# What `weigh` passes when no other model holds a warm cache: decide_switch answers before pricing anything.
_UNPRICED = CachePrices(0.0, 0.0, 0.0, 0.0)
_UNWEIGHED = Workload()


def weigh(cache: CacheState, warm: ModelSpec | None, target: ModelSpec, target_tier: Tier) -> SwitchDecision:
    """Stay on `warm` (the model holding the cache, when it could still serve) or move to the router's `target`."""
    if warm is None or cache.warm_tier is None or warm.id == target.id:  # the usual case: nothing to weigh
        return decide_switch(
            warm_model=None,
            warm_tier=None,
            prefix_tokens=0,
            target_model=target.id,
            target_tier=target_tier,
            warm_prices=None,
            target_prices=_UNPRICED,
            workload=_UNWEIGHED,
        )
    return decide_switch(
        warm_model=cache.warm_model,
        warm_tier=cache.warm_tier,
        prefix_tokens=cache.prefix_tokens,
        target_model=target.id,
        target_tier=target_tier,
        warm_prices=CachePrices.of(warm),
        target_prices=CachePrices.of(target),
        workload=cache.workload(),
    )
