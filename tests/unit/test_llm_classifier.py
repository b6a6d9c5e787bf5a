"""The LLM second opinion without a network: reading a tier out of a reply, the circuit breaker on an injected clock,
and the deadline cap inside the chat.message budget (the endpoint tests are in tests/integration)."""

from __future__ import annotations

import pytest

from kimchi_plugin.provider.llm_classifier import (
    FAILURES_TO_OPEN,
    MAX_DEADLINE_S,
    PAUSE_S,
    Breaker,
    LlmClassifier,
    parse_tier,
)
from kimchi_plugin.routing.tiers import Tier


@pytest.mark.parametrize(
    ("reply", "tier"),
    [
        ("quick", Tier.QUICK),
        ("**Reasoning**", Tier.REASONING),
        (" coding - it edits code", Tier.CODING),
        ("", None),
        (None, None),
        (42, None),
        ("unsure", None),
    ],
)
def test_parse_tier(reply: object, tier: Tier | None):
    assert parse_tier(reply) is tier


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_pauses_after_repeated_failures_and_a_trial_call_decides() -> None:
    clock = _Clock()
    breaker = Breaker(clock)
    for _ in range(FAILURES_TO_OPEN - 1):
        breaker.failure()
        assert breaker.allows()
    breaker.failure()
    assert not breaker.allows()
    clock.now += PAUSE_S
    assert breaker.allows()  # one trial call
    breaker.failure()
    assert not breaker.allows()
    clock.now += PAUSE_S
    assert not breaker.allows()  # the pause doubled
    clock.now += PAUSE_S
    assert breaker.allows()
    breaker.success()
    breaker.failure()
    assert breaker.allows()  # closed again: one failure is not enough


def test_deadline_is_capped_inside_the_chat_message_budget() -> None:
    llm = LlmClassifier(base_url="http://127.0.0.1:9/v1", api_key=None, model_id="m", deadline_s=1.2)
    assert llm._deadline == MAX_DEADLINE_S < 1.5
