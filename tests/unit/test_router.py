"""Router: who is in control of a message, which tier that gives, and which model serves it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from kimchi_plugin.routing.registry import Registry
from kimchi_plugin.routing.router import Policy, Request, Router
from kimchi_plugin.routing.sessions import SessionState, SessionStore
from kimchi_plugin.routing.tiers import Profile, Tier

OPUS, SONNET, MINIMAX, NEMOTRON = "claude-opus-4-6", "claude-sonnet-4", "minimax-m2.7", "nemotron-3-super-fp4"
NOW = datetime(2026, 11, 25, tzinfo=timezone.utc)


def _registry(*models: str, **provider_models) -> Registry:
    config = {m: {} for m in models}
    config.update(provider_models)
    return Registry.build(provider_models=config, api_models=None, pins=None, priorities=None, now=NOW)


@pytest.fixture
def router() -> Router:
    return Router(_registry(OPUS, SONNET, MINIMAX), Policy())


def route(
    router: Router, state: SessionState, text: str, *, requested="auto", agent="build", primary=True, now=0.0, tokens=0
):
    request = Request("s1", text, agent, primary, requested, now, tokens)
    return asyncio.run(router.route(request, state))


def test_auto_routes_by_message_and_follow_up(router: Router) -> None:
    state = SessionState("s1")
    assert route(router, state, "Plan the architecture for auth").model.id == OPUS
    assert route(router, state, "Now implement the auth module").model.id == SONNET
    debug = route(router, state, "Debug the TypeError in the handler")
    assert (debug.model.id, debug.profile) == (OPUS, Profile.DEBUGGER)
    fix = route(router, state, "Fix it")
    assert (fix.model.id, fix.source) == (SONNET, "followup")


def test_concrete_pick_is_honoured_even_after_auto_routing(router: Router) -> None:
    state = SessionState("s1")
    route(router, state, "Plan the architecture for auth")
    picked = route(router, state, "Plan the architecture for auth", requested=MINIMAX)
    assert (picked.model.id, picked.source) == (MINIMAX, "pick")
    # Back to auto: routing resumes, nothing persisted from the pick.
    assert route(router, state, "Plan the architecture for auth").model.id == OPUS


def test_tier_pick_keeps_the_mode_inside_the_tier(router: Router) -> None:
    state = SessionState("s1")
    decision = route(router, state, "why does the handler crash with a TypeError?", requested="reasoning")
    assert (decision.model.id, decision.profile, decision.source) == (OPUS, Profile.DEBUGGER, "tier")
    coding = route(router, state, "why does the handler crash with a TypeError?", requested="coding")
    assert (coding.model.id, coding.profile) == (SONNET, Profile.CODER)


def test_one_shot_command_is_stripped_and_applies_once(router: Router) -> None:
    state = SessionState("s1")
    decision = route(router, state, "/debug add a button")
    assert (decision.profile, decision.source, decision.text) == (Profile.DEBUGGER, "command", "add a button")
    assert route(router, state, "add a button to the form").tier is Tier.CODING


def test_lock_holds_until_auto(router: Router) -> None:
    state = SessionState("s1")
    assert route(router, state, "/lock reasoning").model.id == OPUS
    assert route(router, state, "rename foo to bar").source == "lock"
    released = route(router, state, "/auto rename foo to bar in utils.py")
    assert (released.tier, released.text) == (Tier.CODING, "rename foo to bar in utils.py")
    assert state.lock is None


def test_explicit_quick_is_honoured_but_automatic_quick_is_floored_for_primary_agents(router: Router) -> None:
    state = SessionState("s1")
    floored = route(router, state, "where is the config file?")
    assert (floored.tier, floored.source) == (Tier.CODING, "floor")
    assert route(router, state, "/quick where is the config file?").model.id == MINIMAX
    subagent = route(router, state, "where is the config file?", agent="my-helper", primary=False)
    assert subagent.tier is Tier.QUICK


def test_floor_can_be_switched_off() -> None:
    router = Router(_registry(OPUS, SONNET, MINIMAX), Policy(floor_primary=False))
    assert route(router, SessionState("s1"), "where is the config file?").model.id == MINIMAX


def test_builtin_subagents_get_their_tier(router: Router) -> None:
    state = SessionState("s2")
    assert route(router, state, "Plan the architecture", agent="explore", primary=False).model.id == MINIMAX
    assert route(router, state, "where is x?", agent="general", primary=False).model.id == SONNET


def test_model_suggestion_is_consumed_by_the_next_message(router: Router) -> None:
    state = SessionState("s1")
    state.suggestion = Tier.REASONING
    assert route(router, state, "add a button").source == "suggestion"
    assert route(router, state, "add a button to the page").tier is Tier.CODING


def test_recently_failed_model_is_skipped_and_reasoning_never_drops_to_quick() -> None:
    router = Router(_registry(OPUS, SONNET, MINIMAX), Policy())
    state = SessionState("s1")
    state.failed_until = {OPUS: 100.0}
    decision = route(router, state, "Plan the architecture for auth", now=50.0)
    assert decision.model.id == SONNET  # escalation from Reasoning goes to Coding, not Quick
    assert route(router, state, "Plan the architecture for auth", now=150.0).model.id == OPUS


def test_failing_pick_falls_back_within_its_tier() -> None:
    router = Router(_registry(OPUS, SONNET, MINIMAX, "claude-sonnet-4-5"), Policy())
    state = SessionState("s1")
    state.failed_until = {SONNET: 100.0}
    decision = route(router, state, "add a button", requested=SONNET, now=10.0)
    assert decision.model.id == "claude-sonnet-4-5"
    assert decision.notes and SONNET in decision.notes[0]


def test_large_conversation_moves_to_a_larger_window() -> None:
    router = Router(_registry(MINIMAX, NEMOTRON, "kimi-k2.5"), Policy())
    state = SessionState("s1")
    small = route(router, state, "add a button", tokens=10_000)
    big = route(router, state, "add a button", tokens=240_000)
    assert big.model.context_window > small.model.context_window
    assert big.model.context_window * 0.85 >= 240_000
    assert big.notes


def test_llm_second_opinion_only_when_unsure() -> None:
    asked: list[str] = []

    async def llm(text: str, previous: str):
        asked.append(text)
        return Tier.REASONING

    router = Router(_registry(OPUS, SONNET, MINIMAX), Policy(llm_threshold=0.5), llm)
    state = SessionState("s1")
    route(router, state, "Debug the TypeError in the handler")
    assert asked == []
    unsure = route(router, SessionState("s2"), "hmm the thing with the stuff over there from before")
    assert asked == ["hmm the thing with the stuff over there from before"]
    assert (unsure.source, unsure.tier) == ("llm", Tier.REASONING)


def test_sessions_do_not_share_state(router: Router) -> None:
    store = SessionStore()
    a, b = store.get("a", 0), store.get("b", 0)
    route(router, a, "/lock reasoning")
    assert route(router, b, "add a button").tier is Tier.CODING


def test_store_is_bounded_and_expires_idle_sessions() -> None:
    store = SessionStore(max_sessions=3, idle_ttl_s=10)
    for i in range(5):
        store.get(str(i), float(i))
    assert len(store) == 3 and store.peek("0") is None
    store.get("4", 100.0)
    assert len(store) == 1
