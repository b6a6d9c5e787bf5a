"""The LLM second opinion without a network: reading a tier out of a reply, the circuit breaker on an injected clock,
and the deadline cap inside the chat.message budget (the endpoint tests are in tests/integration)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest

from kimchi_plugin.provider import llm_classifier
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


class _Transport(httpx.AsyncBaseTransport):
    """Answers every request with a tier and counts its own closing."""

    def __init__(self) -> None:
        self.closed = 0
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return httpx.Response(200, json={"choices": [{"message": {"content": "quick"}}]})

    async def aclose(self) -> None:
        self.closed += 1


@pytest.mark.parametrize("asked", [False, True])
def test_close_closes_the_client_only_once_it_has_sent_a_request(asked: bool) -> None:
    transport = _Transport()

    async def session() -> None:
        llm = LlmClassifier(base_url="http://x/v1", api_key="k", model_id="m", deadline_s=1.0, transport=transport)
        if asked:
            assert await llm("hi", "") is Tier.QUICK
        await llm.close()
        assert llm._client is None

    asyncio.run(session())
    assert transport.closed == (1 if asked else 0)


def test_the_client_is_prepared_on_its_own_thread_once_the_start_is_over(monkeypatch) -> None:
    monkeypatch.setattr(llm_classifier, "PREPARE_AFTER_S", 0.0)
    llm = LlmClassifier(base_url="http://x/v1", api_key="k", model_id="m", deadline_s=1.0, transport=_Transport())
    llm._prepare.join(5.0)
    assert llm._client is not None  # built before any vague message asked for it


def test_a_classifier_closed_during_the_start_never_builds_its_client(monkeypatch) -> None:
    monkeypatch.setattr(llm_classifier, "PREPARE_AFTER_S", 60.0)
    llm = LlmClassifier(base_url="http://x/v1", api_key="k", model_id="m", deadline_s=1.0, transport=_Transport())
    asyncio.run(llm.close())
    llm._prepare.join(5.0)
    assert not llm._prepare.is_alive() and llm._client is None


class _HeldBuild:
    """Holds every client build until released; `entered` is set once a build has begun. A safety timer releases it
    after 10 s, so that a close that waits for the build fails its test instead of hanging it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered = threading.Event()
        self.released = threading.Event()
        self._safety = threading.Timer(10.0, self.released.set)
        self._safety.daemon = True
        self._safety.start()
        real = httpx.AsyncClient

        def held(**kwargs: Any) -> httpx.AsyncClient:
            self.entered.set()
            self.released.wait()
            return real(**kwargs)

        monkeypatch.setattr(httpx, "AsyncClient", held)


def test_close_during_a_build_does_not_wait_for_it_and_the_built_client_is_dropped(monkeypatch) -> None:
    monkeypatch.setattr(llm_classifier, "PREPARE_AFTER_S", 0.0)
    build = _HeldBuild(monkeypatch)
    llm = LlmClassifier(base_url="http://x/v1", api_key="k", model_id="m", deadline_s=1.0, transport=_Transport())
    assert build.entered.wait(5.0)
    asyncio.run(llm.close())
    assert not build.released.is_set()  # close returned while the build was still held
    build.released.set()
    llm._prepare.join(5.0)
    assert llm._client is None


def test_a_question_waiting_for_the_client_when_closed_gets_no_opinion_and_sends_nothing(monkeypatch) -> None:
    monkeypatch.setattr(llm_classifier, "PREPARE_AFTER_S", 60.0)
    build = _HeldBuild(monkeypatch)
    transport = _Transport()

    async def session() -> Tier | None:
        llm = LlmClassifier(base_url="http://x/v1", api_key="k", model_id="m", deadline_s=1.0, transport=transport)
        question = asyncio.ensure_future(llm("hi", ""))
        assert await asyncio.to_thread(build.entered.wait, 5.0)
        await llm.close()
        build.released.set()
        answer = await question
        assert llm._client is None
        return answer

    assert asyncio.run(session()) is None
    assert transport.requests == 0 and transport.closed == 0
