"""Context-aware routing: the next request's size, larger windows past 85 %, compaction from 78 % with a cooldown,
and the routing state handed to the summary."""

from __future__ import annotations

from session_support import (
    Clock,
    calls,
    event,
    registry,
    routed_model,
    run,
    runtime,
    send,
    tool_after,
    transcript,
    window,
    wire,
)

from kimchi_plugin.opencode import config as config_hook
from kimchi_plugin.opencode.handshake import offer
from kimchi_plugin.opencode.routes import build_routes
from kimchi_plugin.opencode.vocabulary import MESSAGES_TRANSFORM_HOOK
from kimchi_plugin.routing import context_window
from kimchi_plugin.routing.context_window import REQUEST_OVERHEAD_TOKENS
from kimchi_plugin.routing.router import Policy, Router
from kimchi_plugin.routing.sessions import RoutedTurn, SessionState
from kimchi_plugin.routing.tiers import Profile, Tier
from kimchi_plugin.rpc.protocol import HookParams

KIMI, SONNET, MINIMAX, GPT41, OPUS, GEMINI_PRO = (
    "kimi-k2.5",
    "claude-sonnet-4",
    "minimax-m2.7",
    "gpt-4.1",
    "claude-opus-4-6",
    "gemini-2.5-pro",
)


def test_request_size_is_the_counted_transcript_or_the_reported_usage_whichever_is_larger() -> None:
    state = SessionState("s")
    assert context_window.request_tokens(state, 100) == 0
    state.transcript_tokens = 1_000
    assert context_window.request_tokens(state, 100) == 1_100
    state.reported_tokens = 5_000  # real usage incl. cache reads: the count missed something
    assert context_window.request_tokens(state, 100) == 5_000


def test_compaction_is_due_from_78_percent_with_a_cooldown() -> None:
    state = SessionState("s")
    assert not context_window.should_compact(state, 100_000, 77_999, now=0.0)
    assert context_window.should_compact(state, 100_000, 78_000, now=0.0)
    state.compaction_requested_at = 0.0
    assert not context_window.should_compact(state, 100_000, 90_000, now=context_window.COMPACT_COOLDOWN_S - 1)
    assert context_window.should_compact(state, 100_000, 90_000, now=context_window.COMPACT_COOLDOWN_S)
    assert not context_window.should_compact(state, 0, 90_000, now=1e9)


# -- larger windows (router.pick_model) ----------------------------------------------------------------


def _router(**configured) -> Router:
    return Router(registry(**configured), Policy())


def test_past_85_percent_a_larger_window_of_the_same_tier_serves() -> None:
    router = _router(**{KIMI: window(100_000), SONNET: window(100_000), MINIMAX: window(400_000)})
    state = SessionState("s")
    assert router.pick_model(Tier.CODING, state, 0.0, 85_000)[0].id == KIMI  # exactly 85 %: stays
    model, notes = router.pick_model(Tier.CODING, state, 0.0, 86_000)
    assert model.id == MINIMAX  # SONNET (ranked higher) has no larger window
    assert notes and "kimi-k2.5 (100K) → minimax-m2.7 (400K)" in notes[0]
    router = _router(**{KIMI: window(100_000), SONNET: window(110_000), MINIMAX: window(400_000)})
    assert router.pick_model(Tier.CODING, state, 0.0, 86_000)[0].id == SONNET  # best-ranked that fits at 85 %


def test_no_larger_window_in_the_tier_looks_in_the_escalation_tiers_never_reasoning_to_quick() -> None:
    router = _router(**{OPUS: window(200_000), GEMINI_PRO: window(180_000), KIMI: window(262_144), "gpt-4.1-nano": {}})
    state = SessionState("s")
    model, _ = router.pick_model(Tier.REASONING, state, 0.0, 190_000)
    assert model.id == KIMI  # serves Coding (and Reasoning); gpt-4.1-nano (1M, Quick only) is never used
    router = _router(**{OPUS: window(200_000), "gpt-4.1-nano": {}})
    assert router.pick_model(Tier.REASONING, state, 0.0, 190_000)[0].id == OPUS


def test_a_window_the_conversation_already_exceeds_is_never_chosen() -> None:
    router = _router(**{KIMI: window(100_000), SONNET: window(150_000), MINIMAX: window(160_000)})
    state = SessionState("s")
    # 140K needs 165K for the 85 % rule: nothing has that, but SONNET still holds it; KIMI is exceeded.
    assert router.pick_model(Tier.CODING, state, 0.0, 140_000)[0].id == SONNET
    state.failed_until = {SONNET: 10.0}
    assert router.pick_model(Tier.CODING, state, 0.0, 140_000)[0].id == MINIMAX


def test_an_explicit_pick_is_kept_until_the_conversation_no_longer_fits_it() -> None:
    router = _router(**{KIMI: window(100_000), MINIMAX: window(400_000)})
    state = SessionState("s")
    pick = router.registry.get(KIMI)
    assert router.pick_model(Tier.CODING, state, 0.0, 95_000, prefer=pick)[0].id == KIMI
    assert router.pick_model(Tier.CODING, state, 0.0, 101_000, prefer=pick)[0].id == MINIMAX


def test_a_long_conversation_is_routed_to_the_larger_model_with_a_toast() -> None:
    rt, _ = runtime(registry(**{KIMI: window(20_000), SONNET: window(20_000), MINIMAX: window(196_608)}))
    assert routed_model(send(rt, "s1", "implement the parser")) == KIMI
    transcript(rt, "s1", ["implement the parser", "word " * 12_000])  # ~12K tokens + request overhead
    result = send(rt, "s1", "implement the parser")
    assert routed_model(result) == MINIMAX
    body = calls(result["actions"], "tui.showToast")[0]["args"]["body"]
    assert body["variant"] == "warning" and "→ minimax-m2.7 (196K)" in body["message"]


# -- the estimate from the transcript, corrected by real usage -------------------------------------------


def test_transcript_counts_are_incremental_and_real_usage_corrects_them() -> None:
    rt, _ = runtime(registry(KIMI))
    rt.tokens.wait_until_loaded(30)
    send(rt, "s1", "implement it")
    texts = ["implement it", "sure, here is the plan " * 50]
    transcript(rt, "s1", texts)
    state = rt.sessions.peek("s1")
    exact = sum(rt.tokens.count(t) for t in texts)
    assert state.transcript_tokens == exact + 2 * 4  # per-message framing
    misses = rt.conversation_tokens.misses
    transcript(rt, "s1", [*texts, "next question"])
    assert rt.conversation_tokens.misses == misses + 1  # only the new message is counted
    info = {
        "role": "assistant",
        "providerID": "kimchi",
        "sessionID": "s1",
        "modelID": KIMI,
        "id": "a1",
        "tokens": {"input": 2_000, "output": 300, "cache": {"read": 40_000, "write": 1_000}},
    }
    event(rt, "message.updated", info=info)
    assert state.reported_tokens == 43_300
    assert context_window.request_tokens(state, REQUEST_OVERHEAD_TOKENS) == 43_300
    event(rt, "session.compacted", sessionID="s1")
    assert (state.transcript_tokens, state.reported_tokens) == (0, 0)


# -- compaction through OpenCode ---------------------------------------------------------------------------


def test_compaction_is_requested_with_the_v1_client_shape_once_per_cooldown() -> None:
    clock = Clock()
    rt, _ = runtime(registry(**{KIMI: window(20_000)}), clock)
    rt.tokens.wait_until_loaded(30)  # near the threshold counts are exact once the encoding is there
    send(rt, "s1", "implement it")
    result = transcript(rt, "s1", ["implement it", "word " * 10_000])  # ~10K + 6K overhead of 20K: 80 %
    summarize = calls(result["actions"], "session.summarize")
    assert summarize == [
        {"call": "session.summarize", "args": {"path": {"id": "s1"}, "body": {"providerID": "kimchi", "modelID": KIMI}}}
    ]
    assert "compacting" in calls(result["actions"], "tui.showToast")[0]["args"]["body"]["message"]
    assert calls(tool_after(rt, "s1", "read", filePath="a.py")["actions"], "session.summarize") == []
    clock.now += context_window.COMPACT_COOLDOWN_S
    assert calls(tool_after(rt, "s1", "read", filePath="a.py")["actions"], "session.summarize")


def test_through_the_method_table_the_compaction_is_pushed_the_transform_being_a_notification() -> None:
    """The shim sends `messages.transform` as a notification (`OBSERVED_HOOKS`): no reply is read, so the actions
    are pushed; a request gets the same empty patch without them."""
    rt, pushed = runtime(registry(**{KIMI: window(20_000)}))
    rt.tokens.wait_until_loaded(30)
    send(rt, "s1", "implement it")
    route = build_routes(rt)[MESSAGES_TRANSFORM_HOOK]
    messages = [
        {"info": {"id": f"m{i}", "role": role, "sessionID": "s1"}, "parts": [{"type": "text", "text": text}]}
        for i, (role, text) in enumerate([("user", "implement it"), ("assistant", "word " * 10_000)])
    ]
    answer = run(route.handler(HookParams(input={}, output={"messages": messages})))
    assert answer.wire() == {"output": {}}
    assert [call for actions in pushed for call in calls(actions, "session.summarize")] == [
        {"call": "session.summarize", "args": {"path": {"id": "s1"}, "body": {"providerID": "kimchi", "modelID": KIMI}}}
    ]
    assert MESSAGES_TRANSFORM_HOOK in offer(tuple(build_routes(rt)))["observed"]


def test_a_small_conversation_is_not_compacted() -> None:
    rt, _ = runtime(registry(**{KIMI: window(200_000)}))
    send(rt, "s1", "implement it")
    assert transcript(rt, "s1", ["implement it", "word " * 10_000])["actions"] == []


def test_compacting_hook_adds_the_routing_state_to_context_and_leaves_the_prompt_alone() -> None:
    rt, _ = runtime(registry(KIMI, SONNET))
    send(rt, "s1", "/lock debug")
    send(rt, "s1", "implement it")
    tool_after(rt, "s1", "edit", filePath="src/app.py")
    tool_after(rt, "s1", "read", filePath="src/util.py")
    tool_after(rt, "s1", "bash", output="Error: tests failed in test_app.py", command="pytest")
    result = wire(
        run(
            config_hook.compacting(
                rt, HookParams(input={"sessionID": "s1"}, output={"context": ["theirs"], "prompt": None})
            )
        )
    )
    output = result["output"]
    assert "prompt" not in output
    assert output["context"][0] == "theirs"
    text = output["context"][1]
    for expected in (
        "Active mode: debugger",
        "Recent decisions:",
        "locked routing to debugger",
        "src/app.py",
        "[Files read] src/util.py",
        "1 edits, 1 reads, 1 errors",
        "Error: tests failed",
    ):
        assert expected in text, expected


def test_preserved_context_is_empty_without_routing_state() -> None:
    assert context_window.preserved_context(SessionState("s")) == []
    state = SessionState("s")
    state.remember(RoutedTurn(KIMI, Tier.CODING, Profile.CODER, "heuristic", "detected"))
    assert context_window.preserved_context(state, tokens=150_000)[-1] == "[Context] ~150K tokens before this summary."
