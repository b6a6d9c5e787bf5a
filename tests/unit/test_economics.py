"""Cache-aware switching, budgets and stall escalation through the Brain and the real handlers: a warm cache is kept
when leaving it costs more, a move to a more capable tier and the user's explicit choices are never touched, budgets
warn at 80 % and step automatic decisions down past 100 %, and a stuck turn moves the next message to Reasoning."""

from __future__ import annotations

from typing import Any

import pytest
from session_support import Clock, calls, event, registry, routed_model, run, runtime, send, tool_after, wire

from kimchi_plugin.opencode import chat
from kimchi_plugin.routing.cache_policy import CacheState
from kimchi_plugin.routing.switch_cost import CachePrices, decide_switch
from kimchi_plugin.routing.tiers import Tier
from kimchi_plugin.rpc.protocol import HookParams
from kimchi_plugin.settings import Settings

OPUS, SONNET, HAIKU = "claude-opus-4-6", "claude-sonnet-4-6", "claude-haiku-4-5"
PLAN = "plan the architecture of the new billing service and its trade-offs"
CODE = "implement the parser module"
S = "ses_1"


def _brain(clock: Clock | None = None, **options: Any):
    return runtime(registry(OPUS, SONNET, HAIKU), clock, **options)


def _send_as(brain, message_id: str, text: str) -> dict[str, Any]:
    """A `chat.message` carrying the user message's id (the replies' parentID)."""
    model = {"providerID": "kimchi", "modelID": "auto"}
    params = HookParams(
        input={"sessionID": S, "agent": "build", "model": model},
        output={
            "message": {"id": message_id, "sessionID": S, "agent": "build", "model": model},
            "parts": [{"type": "text", "text": text}],
        },
    )
    return wire(run(chat.chat_message(brain, params)))


def _reply(
    brain,
    n: int,
    model: str,
    *,
    fresh: int = 2_000,
    read: int = 0,
    cost: float = 0.0,
    session: str = S,
    parent: str | None = None,
):
    event(
        brain,
        "message.updated",
        info={
            "id": f"msg_a{n}",
            "sessionID": session,
            "role": "assistant",
            "providerID": "kimchi",
            "modelID": model,
            "tokens": {"input": fresh, "output": 300, "reasoning": 0, "cache": {"read": read, "write": 0}},
            "cost": cost,
            "time": {"created": 1_000 + n, "completed": 2_000 + n},
            "finish": "stop",
            **({"parentID": parent} if parent else {}),
        },
    )


def _toasts(result: dict[str, Any]) -> list[str]:
    return [a["args"]["body"]["message"] for a in calls(result["actions"], "tui.showToast")]


def _warm_opus(brain, prefix: int = 80_000) -> None:
    assert routed_model(send(brain, S, PLAN)) == OPUS
    _reply(brain, 1, OPUS, fresh=2_000, read=prefix - 2_000)


def _expected(brain, warm: str, target: str, target_tier: Tier, cache: CacheState):
    reg = brain.setup.registry
    return decide_switch(
        warm_model=warm,
        warm_tier=cache.warm_tier,
        prefix_tokens=cache.prefix_tokens,
        target_model=target,
        target_tier=target_tier,
        warm_prices=CachePrices.of(reg.get(warm)),
        target_prices=CachePrices.of(reg.get(target)),
        workload=cache.workload(),
    )


# -- cache-aware switching ---------------------------------------------------------------------------------------


def test_the_cache_learns_the_warm_model_and_prefix_once_per_message() -> None:
    cache = CacheState()
    cache.observe("a1", OPUS, Tier.REASONING, input_tokens=80_000, cache_read=0, cache_write=0)
    cache.observe("a1", OPUS, Tier.REASONING, input_tokens=80_000, cache_read=0, cache_write=0)  # repeated update
    cache.observe("a2", OPUS, Tier.REASONING, input_tokens=3_000, cache_read=80_000, cache_write=0)
    assert (cache.warm_model, cache.prefix_tokens, cache.current_stay) == (OPUS, 83_000, 2)
    assert list(cache.new_tokens) == [3_000]  # only a warm request says what a request adds
    cache.observe("a3", SONNET, Tier.CODING, input_tokens=90_000, cache_read=0, cache_write=0)
    assert (cache.switches, cache.moves_up, list(cache.stays)) == (1, 0, [2])
    cache.observe("a4", OPUS, Tier.REASONING, input_tokens=95_000, cache_read=0, cache_write=0)
    assert (cache.switches, cache.moves_up) == (2, 1)
    cache.forget()
    assert (cache.warm_model, cache.prefix_tokens) == (None, 0) and cache.switches == 2


def test_a_warm_cache_is_kept_when_the_cheaper_tier_would_cost_more() -> None:
    brain, _ = _brain()
    _warm_opus(brain)
    state = brain.sessions.peek(S)
    expected = _expected(brain, OPUS, SONNET, Tier.CODING, state.cache)
    assert not expected.switch  # 80K tokens cached at 0.5 $/M vs written at 3.75 $/M on Sonnet

    result = _send_as(brain, "msg_u2", CODE)

    assert routed_model(result) == OPUS
    assert state.last.model_id == OPUS and state.last.profile.value == "coder"  # the mode of the work is kept
    assert f"stayed on {OPUS}: switching to {SONNET} would cost" in "\n".join(_toasts(result))
    _reply(brain, 2, OPUS, fresh=1_000, read=80_000, parent="msg_u2")
    ledger = brain.usage.ledger(S)
    assert ledger.cache_saved == pytest.approx(expected.saved_usd) and ledger.kept_warm == 1


def test_a_run_of_stays_is_told_and_credited_once() -> None:
    brain, _ = _brain()
    _warm_opus(brain)
    assert _toasts(_send_as(brain, "msg_u2", CODE))
    _reply(brain, 2, OPUS, fresh=1_000, read=80_000, parent="msg_u2")
    second = _send_as(brain, "msg_u3", "now add tests for the parser module")
    assert routed_model(second) == OPUS and not any("stayed on" in t for t in _toasts(second))
    _reply(brain, 3, OPUS, fresh=1_000, read=81_000, parent="msg_u3")
    assert brain.usage.ledger(S).kept_warm == 1


def test_a_small_cache_does_not_hold_the_session() -> None:
    brain, _ = _brain()
    _warm_opus(brain, prefix=3_000)
    assert routed_model(send(brain, S, CODE)) == SONNET


def test_a_move_to_a_more_capable_tier_is_never_blocked() -> None:
    brain, _ = _brain()
    assert routed_model(send(brain, S, CODE)) == SONNET
    _reply(brain, 1, SONNET, fresh=2_000, read=150_000)
    assert routed_model(send(brain, S, PLAN)) == OPUS


@pytest.mark.parametrize(
    ("text", "model"),
    [(CODE, SONNET), (CODE, "coding"), ("/code implement the parser module", "auto"), ("/lock coding " + CODE, "auto")],
)
def test_explicit_choices_are_never_touched(text: str, model: str) -> None:
    brain, _ = _brain()
    _warm_opus(brain)
    result = send(brain, S, text, model=model)
    assert routed_model(result) == SONNET
    assert not any("stayed on" in t for t in _toasts(result))


def test_a_failed_warm_model_or_the_option_off_lets_the_session_move() -> None:
    brain, _ = _brain()
    _warm_opus(brain)
    event(brain, "session.error", sessionID=S, error={"name": "APIError", "data": {"statusCode": 503}})
    assert routed_model(send(brain, S, CODE)) == SONNET
    off, _ = _brain(cacheAware=False)
    _warm_opus(off)
    assert routed_model(send(off, S, CODE)) == SONNET


def test_compaction_forgets_the_warm_cache() -> None:
    brain, _ = _brain()
    _warm_opus(brain)
    event(brain, "session.compacted", sessionID=S)
    assert routed_model(send(brain, S, CODE)) == SONNET


# -- budgets -----------------------------------------------------------------------------------------------------


def _pushed_toasts(pushed: list[list[Any]]) -> list[str]:
    return [a["args"]["body"]["message"] for batch in pushed for a in calls(batch, "tui.showToast")]


def test_session_budget_warns_at_80_percent_then_steps_automatic_decisions_down() -> None:
    brain, pushed = _brain(sessionBudget=1.0, cacheAware=False)
    assert routed_model(send(brain, S, PLAN)) == OPUS
    _reply(brain, 1, OPUS, cost=0.5)
    assert _pushed_toasts(pushed) == []
    _reply(brain, 2, OPUS, cost=0.35)
    assert _pushed_toasts(pushed) == ["80% of this session's budget of $1.00 spent ($0.85)"]
    _reply(brain, 2, OPUS, cost=0.35)  # a repeated update changes nothing
    _reply(brain, 3, OPUS, cost=0.2)
    assert _pushed_toasts(pushed)[1:] == [
        "This session's budget of $1.00 is spent ($1.05): automatic routing steps down a tier"
    ]

    stepped = send(brain, S, PLAN)
    assert routed_model(stepped) == SONNET
    assert any("session budget spent: reasoning → coding" in t for t in _toasts(stepped))
    assert routed_model(send(brain, S, "/plan " + PLAN)) == OPUS  # the user's explicit choice is not stepped down


def test_daily_budget_counts_every_session_of_the_day() -> None:
    day = ["2026-12-07"]
    brain, pushed = _brain(dailyBudget=1.0, cacheAware=False)
    brain.economics._day_of = lambda _now: day[0]
    send(brain, "ses_a", PLAN)
    send(brain, "ses_b", PLAN)
    _reply(brain, 1, OPUS, cost=0.6, session="ses_a")
    _reply(brain, 2, OPUS, cost=0.6, session="ses_b")
    assert any("Today's budget of $1.00 is spent ($1.20)" in t for t in _pushed_toasts(pushed))
    assert routed_model(send(brain, "ses_c", PLAN)) == SONNET
    day[0] = "2026-12-08"
    assert brain.economics.day_spent() == 0.0  # a new day starts from nothing
    assert routed_model(send(brain, "ses_c", PLAN)) == OPUS


def test_budget_command_shows_and_changes_the_session_limits() -> None:
    brain, _ = _brain(sessionBudget=10.0)
    send(brain, S, PLAN)
    _reply(brain, 1, OPUS, cost=0.5)
    shown = send(brain, S, "/budget")
    assert _toasts(shown) == ["current spend limits\nthis session: $0.50 of $10.00 (5%)\ntoday: $0.50 spent, no limit"]
    assert "Repeat this to the user" in shown["output"]["parts"][0]["text"]
    assert routed_model(shown) == OPUS  # the command keeps the session on its model

    changed = send(brain, S, "/budget 0.6")
    assert "this session's spend limit set to $0.60" in _toasts(changed)[-1]
    assert "this session: $0.50 of $0.60 (83%)" in changed["output"]["parts"][0]["text"]
    assert routed_model(send(brain, "ses_other", PLAN)) == OPUS  # other sessions keep the option's limit

    assert "usage: /budget" in _toasts(send(brain, S, "/budget lots"))[-1]
    send(brain, S, "/budget off")
    assert brain.economics.limits(brain.settings, brain.sessions.peek(S)).session is None


@pytest.mark.parametrize(
    ("value", "ok"), [(5, True), (0.25, True), (0, False), (-1, False), ("ten", False), (None, True)]
)
def test_budget_options_are_validated(value: Any, ok: bool) -> None:
    settings, problems = Settings.from_options({"sessionBudget": value, "dailyBudget": value})
    assert (problems == []) is ok
    assert settings.sessionBudget == (value if ok else None)


# -- stall escalation --------------------------------------------------------------------------------------------


def test_a_stuck_tool_loop_is_stopped_and_continued_on_reasoning() -> None:
    brain, _ = _brain()
    send(brain, S, CODE)
    results = [tool_after(brain, S, "bash", "Error: exit 1 no such file", command="make test") for _ in range(3)]
    assert not results[0]["actions"] and not results[1]["actions"]
    assert _toasts(results[2]) == ["The same bash call failed 3 times: continuing on the Reasoning tier"]
    assert calls(results[2]["actions"], "session.abort") == [{"call": "session.abort", "args": {"path": {"id": S}}}]
    (prompt,) = calls(results[2]["actions"], "session.promptAsync")
    body = prompt["args"]["body"]
    assert (prompt["args"]["path"], body["model"], body["agent"]) == (
        {"id": S},
        {"providerID": "kimchi", "modelID": "auto"},
        "build",
    )
    assert "stuck: the same bash call failed 3 times" in body["parts"][0]["text"]
    assert not tool_after(brain, S, "bash", "Error: exit 1 no such file", command="make test")["actions"]  # once

    continued = send(brain, S, body["parts"][0]["text"])  # what OpenCode sends back through chat.message
    assert routed_model(continued) == OPUS and brain.sessions.peek(S).last.profile.value == "debugger"
    assert routed_model(send(brain, S, CODE)) == SONNET  # one message only


def test_next_message_escalation_only() -> None:
    brain, _ = _brain(stallEscalation="next")
    send(brain, S, CODE)
    results = [tool_after(brain, S, "bash", "Error: exit 1", command="make test") for _ in range(3)]
    assert results[2]["actions"] == [a for a in results[2]["actions"] if a["call"] == "tui.showToast"] and _toasts(
        results[2]
    ) == ["The same bash call failed 3 times: the next message goes to the Reasoning tier"]
    assert routed_model(send(brain, S, CODE)) == OPUS


def test_no_escalation_on_reasoning_already_or_under_a_lock() -> None:
    brain, _ = _brain()
    send(brain, S, PLAN)
    assert not [tool_after(brain, S, "bash", "Error: exit 1", command="make") for _ in range(3)][2]["actions"]
    send(brain, "ses_2", "/lock coding " + CODE)
    assert not [tool_after(brain, "ses_2", "bash", "Error: exit 1", command="make") for _ in range(3)][2]["actions"]
    assert routed_model(send(brain, "ses_2", CODE)) == SONNET


def test_stall_escalation_can_be_turned_off() -> None:
    brain, _ = _brain(stallEscalation=False)
    send(brain, S, CODE)
    results = [tool_after(brain, S, "bash", "Error: exit 1", command="make test") for _ in range(3)]
    assert not any(_toasts(r) for r in results)
    assert routed_model(send(brain, S, CODE)) == SONNET


def test_stall_escalation_never_overrides_an_explicit_choice() -> None:
    brain, _ = _brain()
    send(brain, S, CODE)
    for _ in range(3):
        tool_after(brain, S, "bash", "Error: exit 1", command="make test")
    assert routed_model(send(brain, S, CODE, model=SONNET)) == SONNET
