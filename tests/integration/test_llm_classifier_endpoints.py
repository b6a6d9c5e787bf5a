"""The LLM second opinion against real misbehaving endpoints on 127.0.0.1: down, silent, trickling bytes, nonsense,
HTTP 500. Every failure is "no opinion" within the deadline, and the router then decides on its own."""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import datetime, timezone

import pytest

from kimchi_plugin.provider.llm_classifier import MAX_DEADLINE_S, LlmClassifier
from kimchi_plugin.routing.registry import Registry
from kimchi_plugin.routing.router import Policy, Request, Router
from kimchi_plugin.routing.sessions import SessionState
from kimchi_plugin.routing.tiers import Tier
from tests.support.misbehaving_server import (
    answer,
    closed_port,
    completion,
    http,
    serve,  # noqa: F401 - a fixture
    silent,
    trickle,
)

DEADLINE_S = MAX_DEADLINE_S  # the deadline the plugin runs with; long enough for the request to arrive under load
# Scheduling noise on a loaded 2-CPU machine, on top of the deadline. Still far below what a missing deadline costs: a
# silent endpoint holds the call until the client gives up, a trickling one sends content only after 20 s.
SLACK_S = 3.0
API_KEY = "sk-test-llm-classifier-key"
MODELS = {m: {} for m in ("kimi-k2.5", "glm-5", "minimax-m2.7")}


def _closed_port_url() -> str:
    return f"http://127.0.0.1:{closed_port()}/openai/v1"


async def _classify(base_url: str, text: str = "hmm, what about the cache thing") -> tuple[Tier | None, float]:
    llm = LlmClassifier(base_url=base_url, api_key=API_KEY, model_id="minimax-m2.7", deadline_s=DEADLINE_S)
    started = time.monotonic()
    try:
        tier = await llm(text, "earlier message")
    finally:
        await llm.close()
    return tier, time.monotonic() - started


FAILURES = {
    "http 500": answer(http("500 Internal Server Error", b'{"error": {"message": "boom"}}')),
    "http 429": answer(http("429 Too Many Requests", b'{"error": {"message": "slow down"}}')),
    "not json": answer(http("200 OK", b"<html>gateway</html>", "text/html")),
    "no choices": answer(http("200 OK", b'{"object": "chat.completion"}')),
    "choices not a list": answer(http("200 OK", b'{"choices": "coding"}')),
    "empty choices": answer(http("200 OK", b'{"choices": []}')),
    "content not text": answer(http("200 OK", completion({"tier": "coding"}))),
    "content is a word salad": answer(http("200 OK", completion("I think that depends on many factors"))),
    "connection dropped": lambda conn: conn.shutdown(socket.SHUT_RDWR),
    "truncated body": answer(http("200 OK", completion("coding"))[:-10]),
    "silent": silent,
    "trickling bytes": trickle,
}


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_failure_is_no_opinion_within_the_deadline(serve, name: str):
    server = serve(FAILURES[name])

    tier, elapsed = asyncio.run(_classify(server.base_url))

    assert tier is None
    assert elapsed < DEADLINE_S + SLACK_S, f"{name}: {elapsed:.3f}s"
    assert server.wait_for_requests(1) == 1  # the endpoint really was asked


def test_endpoint_down_is_no_opinion_at_once():
    tier, elapsed = asyncio.run(_classify(_closed_port_url()))

    assert tier is None
    assert elapsed < DEADLINE_S + SLACK_S


def test_a_good_answer_is_used_and_cached(serve):
    server = serve(answer(http("200 OK", completion("Coding."))))

    async def twice() -> tuple[Tier | None, Tier | None]:
        llm = LlmClassifier(base_url=server.base_url, api_key=API_KEY, model_id="minimax-m2.7", deadline_s=DEADLINE_S)
        try:
            return await llm("add a flag", ""), await llm("add a flag", "")
        finally:
            await llm.close()

    assert asyncio.run(twice()) == (Tier.CODING, Tier.CODING)
    assert server.wait_for_requests(1) == 1
    assert f"Bearer {API_KEY}".encode() in server.bodies[0]


def _router(llm: LlmClassifier) -> Router:
    registry = Registry.build(
        provider_models=MODELS,
        api_models=None,
        pins=None,
        priorities=None,
        now=datetime(2026, 1, 1, tzinfo=timezone.utc),
    )
    return Router(registry, Policy(llm_threshold=1.0), llm)  # consult the LLM on every automatic decision


async def _route(base_url: str) -> tuple[str, Tier, float]:
    llm = LlmClassifier(base_url=base_url, api_key=API_KEY, model_id="minimax-m2.7", deadline_s=DEADLINE_S)
    request = Request(
        session_id="s", text="thoughts on the cache layer?", agent="build", primary=True, requested="auto", now=0.0
    )
    started = time.monotonic()
    try:
        decision = await _router(llm).route(request, SessionState("s"))
    finally:
        await llm.close()
    assert decision.model is not None
    return decision.source, decision.tier, time.monotonic() - started


@pytest.mark.parametrize("name", ["http 500", "trickling bytes", "content is a word salad"])
def test_router_decides_alone_when_the_classifier_fails(serve, name: str):
    server = serve(FAILURES[name])

    source, _tier, elapsed = asyncio.run(_route(server.base_url))

    assert source != "llm"
    assert elapsed < DEADLINE_S + SLACK_S
    assert server.wait_for_requests(1) == 1


def test_router_decides_alone_when_the_endpoint_is_down():
    source, _tier, elapsed = asyncio.run(_route(_closed_port_url()))

    assert source != "llm"
    assert elapsed < DEADLINE_S + SLACK_S


def test_router_uses_a_goodanswer(serve):
    server = serve(answer(http("200 OK", completion("reasoning"))))

    source, tier, _ = asyncio.run(_route(server.base_url))

    assert (source, tier) == ("llm", Tier.REASONING)
