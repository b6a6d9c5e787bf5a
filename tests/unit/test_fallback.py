"""Model fallback: which failures switch models, which model failed, what the next turn uses, and when it clears."""

from __future__ import annotations

import pytest
from session_support import Clock, calls, event, registry, routed_model, runtime, send

from kimchi_plugin.routing import fallback
from kimchi_plugin.routing.router import Policy, Router
from kimchi_plugin.routing.sessions import SessionState
from kimchi_plugin.routing.tiers import Tier

KIMI, SONNET, MINIMAX, OPUS, HAIKU = (
    "kimi-k2.5",
    "claude-sonnet-4",
    "minimax-m2.7",
    "claude-opus-4-6",
    "claude-haiku-4-5",
)


def api_error(status: int, message: str = "boom", name: str = "APIError") -> dict:
    return {"name": name, "data": {"message": message, "statusCode": status}}


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (api_error(429, "Too Many Requests"), "rate-limit"),
        (api_error(500), "unavailable"),
        (api_error(502), "unavailable"),
        (api_error(503, "model overloaded"), "unavailable"),
        (api_error(404, "model not found: x"), "unavailable"),
        (api_error(408, "request timeout"), "unavailable"),
        ({"name": "UnknownError", "data": {"message": "socket hang up (timeout)"}}, "unavailable"),
        ({"name": "ContextOverflowError", "data": {"message": "too long"}}, "overflow"),
        (api_error(400, "This model's maximum context length is 128000 tokens"), "overflow"),
    ],
)
def test_failures_that_switch_models(error: dict, kind: str) -> None:
    failure = fallback.classify_error(error)
    assert failure is not None and failure.kind == kind


@pytest.mark.parametrize(
    "error",
    [
        api_error(401, "Unauthorized"),
        api_error(403, "Forbidden"),
        {"name": "ProviderAuthError", "data": {"message": "no key"}},
        {"name": "MessageAbortedError", "data": {"message": "aborted"}},
        {"name": "MessageOutputLengthError", "data": {}},
        api_error(400, "messages: invalid role"),  # the same request fails on any model
        None,
        {"unexpected": "shape"},
    ],
)
def test_failures_that_never_switch_models(error) -> None:
    assert fallback.classify_error(error) is None


def test_retry_statuses_classify_by_message() -> None:
    assert fallback.classify_retry("Rate limit exceeded, try later").kind == "rate-limit"
    assert fallback.classify_retry("injected failure 503 for kimi").kind == "unavailable"
    assert fallback.classify_retry("invalid api key") is None


def test_rate_limits_are_avoided_shorter_than_outages() -> None:
    state = SessionState("s")
    assert fallback.note_failure(state, KIMI, fallback.classify_error(api_error(429)), now=0.0)
    assert state.failed_until[KIMI] == fallback.RATE_LIMIT_AVOID_S
    assert fallback.note_failure(state, SONNET, fallback.classify_error(api_error(500)), now=0.0)
    assert state.failed_until[SONNET] == fallback.UNAVAILABLE_AVOID_S


def test_one_failure_reported_several_times_is_noted_once() -> None:
    state = SessionState("s")
    failure = fallback.classify_error(api_error(429))
    assert fallback.note_failure(state, KIMI, failure, now=0.0) is True
    assert fallback.note_failure(state, KIMI, failure, now=1.0) is False
    assert state.fallback_note == f"{KIMI} was rate limited (429)"


def test_success_clears_the_model() -> None:
    state = SessionState("s")
    fallback.note_failure(state, KIMI, fallback.classify_error(api_error(503)), now=0.0)
    fallback.note_success(state, KIMI)
    assert KIMI not in state.failed_until


# -- which model the next turn gets ----------------------------------------------------------------


def test_next_best_of_the_same_tier_then_other_tiers() -> None:
    router = Router(registry(KIMI, SONNET, MINIMAX, OPUS), Policy())
    state = SessionState("s")
    state.failed_until = {KIMI: 100.0}
    assert router.pick_model(Tier.CODING, state, 0.0, 0)[0].id == SONNET
    state.failed_until = {KIMI: 100.0, SONNET: 100.0, MINIMAX: 100.0}
    assert router.pick_model(Tier.CODING, state, 0.0, 0)[0].id == OPUS  # Coding escalates to Reasoning first
    assert router.pick_model(Tier.CODING, state, 200.0, 0)[0].id == KIMI  # avoidance expired


def test_reasoning_never_drops_to_quick() -> None:
    router = Router(registry(OPUS, HAIKU), Policy())
    state = SessionState("s")
    state.failed_until = {OPUS: 100.0}
    model, _ = router.pick_model(Tier.REASONING, state, 0.0, 0)
    assert model is None
    router = Router(registry(OPUS, HAIKU, SONNET), Policy())
    assert router.pick_model(Tier.REASONING, state, 0.0, 0)[0].id == SONNET


def test_quick_escalates_to_coding() -> None:
    router = Router(registry(HAIKU, SONNET, OPUS), Policy())
    state = SessionState("s")
    state.failed_until = {HAIKU: 100.0}
    assert router.pick_model(Tier.QUICK, state, 0.0, 0)[0].id == SONNET


def test_overflow_goes_to_a_larger_window() -> None:
    router = Router(registry(KIMI, SONNET, MINIMAX, **{"gpt-4.1": {}}), Policy())
    state = SessionState("s")
    fallback.note_failure(state, SONNET, fallback.classify_error({"name": "ContextOverflowError"}), now=0.0)
    model, notes = router.pick_model(Tier.CODING, state, 0.0, 0, prefer=router.registry.get(SONNET))
    assert model.context_window > 200_000  # not the next-ranked 196K/200K windows
    assert any(SONNET in note for note in notes)


# -- through the hooks: what OpenCode reports, what the next message gets ----------------------------


def _serving(reg_models=(KIMI, SONNET, MINIMAX)):
    clock = Clock()
    rt, pushed = runtime(registry(*reg_models), clock)
    first = send(rt, "s1", "implement the parser module")
    return rt, pushed, clock, routed_model(first)


def test_retry_status_arms_fallback_for_the_served_model_and_says_so() -> None:
    rt, pushed, _clock, served = _serving()
    assert served == KIMI
    for attempt in (1, 2, 3):  # OpenCode retries a 429 by itself, reporting only its status
        event(
            rt,
            "session.status",
            sessionID="s1",
            status={"type": "retry", "attempt": attempt, "message": "Rate limit reached", "next": 0},
        )
    toasts = [a for batch in pushed for a in calls(batch, "tui.showToast")]
    assert len(toasts) == 1
    body = toasts[0]["args"]["body"]
    assert body["variant"] == "warning" and KIMI in body["message"] and SONNET in body["message"]
    nxt = send(rt, "s1", "implement the parser module")
    assert routed_model(nxt) == SONNET
    toast = calls(nxt["actions"], "tui.showToast")[0]["args"]["body"]["message"]
    assert f"{KIMI} was rate limited" in toast and f"{SONNET} serves instead" in toast


def test_session_error_records_the_model_that_actually_served() -> None:
    rt, _pushed, _clock, _ = _serving()
    picked = send(rt, "s1", "implement it", model=MINIMAX)  # explicit pick
    assert routed_model(picked) == MINIMAX
    event(rt, "session.error", sessionID="s1", error=api_error(503))
    state = rt.sessions.peek("s1")
    assert set(state.failed_until) == {MINIMAX}
    assert routed_model(send(rt, "s1", "implement it", model=MINIMAX)) == KIMI  # a pick that fails falls back too


def test_the_fallback_model_failing_moves_on_instead_of_looping() -> None:
    rt, _pushed, _clock, _ = _serving()
    event(rt, "session.error", sessionID="s1", error=api_error(500))
    assert routed_model(send(rt, "s1", "implement it")) == SONNET
    event(rt, "session.error", sessionID="s1", error=api_error(500))
    assert routed_model(send(rt, "s1", "implement it")) == MINIMAX


@pytest.mark.parametrize("error", [api_error(401), api_error(403), {"name": "MessageAbortedError", "data": {}}])
def test_auth_errors_and_aborts_never_switch(error: dict) -> None:
    rt, pushed, _clock, _ = _serving()
    event(rt, "session.error", sessionID="s1", error=error)
    assert pushed == []
    assert routed_model(send(rt, "s1", "implement it")) == KIMI


def test_errored_message_uses_its_own_model_and_a_finished_one_clears() -> None:
    rt, _pushed, _clock, _ = _serving()
    info = {"role": "assistant", "providerID": "kimchi", "sessionID": "s1", "modelID": KIMI, "id": "a1"}
    event(rt, "message.updated", info={**info, "error": api_error(502)})
    assert KIMI in rt.sessions.peek("s1").failed_until
    event(rt, "message.updated", info={**info, "finish": "stop", "tokens": {"input": 10, "output": 5}})
    assert rt.sessions.peek("s1").failed_until == {}


def test_errors_of_unknown_sessions_and_other_providers_are_ignored() -> None:
    rt, pushed, _clock, _ = _serving()
    event(rt, "session.error", sessionID="other", error=api_error(500))
    event(
        rt,
        "message.updated",
        info={
            "role": "assistant",
            "providerID": "openai",
            "sessionID": "s1",
            "modelID": "gpt",
            "error": api_error(500),
        },
    )
    assert pushed == [] and rt.sessions.peek("s1").failed_until == {}
