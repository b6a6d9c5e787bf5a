"""The Brain on injected services (fake clock, environment and catalogue; no process, socket or sleep): what a
config yields, modes kept across tiers, retired picks, the missing key, and /lock across a restart."""

from __future__ import annotations

import gc
from pathlib import Path

from session_support import (
    Catalog,
    Clock,
    calls,
    catalog_of,
    configured,
    event,
    params_of,
    registry,
    routed_model,
    run,
    runtime,
    send,
    services,
    system,
)

from kimchi_plugin.brain import Brain, core
from kimchi_plugin.brain.locks import MAX_LOCKS, LockStore
from kimchi_plugin.routing.prompts import PROFILE_PROMPTS, PROFILE_TEMPERATURE
from kimchi_plugin.routing.tiers import Profile

KIMI, OPUS, SONNET = "kimi-k2.5", "claude-opus-4-6", "claude-sonnet-4"
KEY_ENV = {"KIMCHI_API_KEY": "sk-test-key"}
CATALOG_ENTRY = {"id": KIMI, "context_window": 262_144, "max_output": 32_768}


def api_error(status: int) -> dict:
    return {"name": "APIError", "data": {"message": "upstream failed", "statusCode": status}}


# -- configure: what the answer may point at, and when it may be replayed ------------------------------------------


def test_without_key_or_catalogue_the_answer_is_not_final_and_says_how_to_set_a_key() -> None:
    brain = Brain(services(bundled=[CATALOG_ENTRY]))
    brain.start({})
    answer = run(brain.configure({}))
    assert answer.cacheable is False
    assert answer.patch["model"] == "kimchi/auto" and "auto" in answer.patch["provider"]["kimchi"]["models"]
    assert [a.call for a in answer.actions] == ["tui.showToast", "app.log"]
    message = answer.actions[0].args["body"]["message"]
    assert "KIMCHI_API_KEY" in message and "apiKey" in message and "config.json" in message
    assert run(brain.configure({})).actions == ()  # said once per process


def test_with_a_key_and_the_providers_catalogue_the_answer_is_replayable() -> None:
    brain = Brain(services(env=KEY_ENV, catalog=catalog_of(Catalog((CATALOG_ENTRY,), "network"))))
    brain.start({"llmClassifier": False})
    answer = run(brain.configure({"provider": {"kimchi": {"options": {"apiKey": "sk-in-config"}}}}))
    assert answer.cacheable is True and answer.actions == ()


def test_a_key_without_a_catalogue_is_still_not_final() -> None:
    brain = Brain(services(env=KEY_ENV, bundled=[CATALOG_ENTRY]))
    brain.start({"llmClassifier": False})
    answer = run(brain.configure({}))
    assert brain.setup.catalog == "bundled" and answer.cacheable is False


def test_no_models_at_all_never_points_model_or_agents_at_kimchi() -> None:
    brain = Brain(services())
    brain.start({})
    patch = run(brain.configure({})).patch
    assert "model" not in patch and "default_agent" not in patch
    assert not any(str(agent.get("model", "")).startswith("kimchi/") for agent in patch.get("agent", {}).values())


# -- issue 12 item 10: the mode of the work survives a change of tier ----------------------------------------------


def test_a_coding_request_that_falls_back_to_a_reasoning_model_keeps_the_coding_mode() -> None:
    brain, _ = runtime(registry(KIMI, OPUS))
    assert routed_model(send(brain, "s1", "implement the parser module")) == KIMI
    event(brain, "session.error", sessionID="s1", error=api_error(503))
    result = send(brain, "s1", "implement the parser module")
    assert routed_model(result) == OPUS
    assert brain.sessions.peek("s1").last.profile is Profile.CODER
    prompt = system(brain, "s1", OPUS, ["base"])[-1]
    assert prompt == PROFILE_PROMPTS[Profile.CODER] and "Do not start implementing" not in prompt
    assert params_of(brain, "s1", OPUS) == {"temperature": PROFILE_TEMPERATURE[Profile.CODER]}


def test_a_question_floored_to_coding_gets_a_prompt_for_a_question() -> None:
    brain, _ = runtime(registry(KIMI, SONNET))
    result = send(brain, "s1", "what does src/util.py do")
    last = brain.sessions.peek("s1").last
    assert (last.tier.value, last.profile, last.source) == ("coding", Profile.ASSISTANT, "floor")
    prompt = system(brain, "s1", routed_model(result), ["base"])[-1]
    assert "add or update tests" not in prompt and prompt == PROFILE_PROMPTS[Profile.ASSISTANT]


# -- issue 12 item 11: a retired pick names its replacement ------------------------------------------------------


def test_picking_a_retired_model_is_served_by_its_replacement_with_a_warning() -> None:
    retired = {"id": "kimi-k2", "sunset_at": "2026-01-01T00:00:00Z", "replacement": KIMI}
    after_sunset = Clock(1_795_627_350.0)  # 2026-11-25
    brain = Brain(services(env=KEY_ENV, clock=after_sunset, catalog=catalog_of(Catalog((retired,), "network"))))
    configured(brain, {KIMI: {}})
    result = send(brain, "s1", "implement it", model="kimi-k2")
    assert routed_model(result) == KIMI
    body = calls(result["actions"], "tui.showToast")[0]["args"]["body"]
    assert body["variant"] == "warning" and "kimi-k2 is retired" in body["message"] and KIMI in body["message"]


# -- issue 12 item 8: /lock survives a restart of the same session -----------------------------------------------


def test_a_lock_is_restored_after_a_restart_and_released_by_auto(tmp_path: Path) -> None:
    locks = tmp_path / "data" / "locks.json"
    first = configured(Brain(services(env=KEY_ENV, locks=locks)), {KIMI: {}, SONNET: {}})
    send(first, "s1", "/lock debug")
    restarted = configured(Brain(services(env=KEY_ENV, locks=locks)), {KIMI: {}, SONNET: {}})
    send(restarted, "s1", "add a button to the form")
    last = restarted.sessions.peek("s1").last
    assert (last.profile, last.source) == (Profile.DEBUGGER, "lock")
    send(restarted, "s1", "/auto")
    again = configured(Brain(services(env=KEY_ENV, locks=locks)), {KIMI: {}, SONNET: {}})
    send(again, "s1", "add a button to the form")
    assert again.sessions.peek("s1").last.source != "lock"
    assert again.sessions.peek("s2") is None


def test_the_lock_file_is_bounded_and_a_broken_file_never_fails_a_hook(tmp_path: Path) -> None:
    clock = Clock()
    store = LockStore(tmp_path / "locks.json", clock)
    for n in range(MAX_LOCKS + 5):
        clock.now += 1
        store.put(f"s{n}", Profile.PLANNER)
    fresh = LockStore(tmp_path / "locks.json", clock)
    assert fresh.get("s0") is None and fresh.get(f"s{MAX_LOCKS + 4}") is Profile.PLANNER
    (tmp_path / "locks.json").write_text("{not json")
    assert LockStore(tmp_path / "locks.json", clock).get("s1") is None
    blocked = LockStore(tmp_path / "locks.json" / "not-a-dir" / "locks.json", clock)
    blocked.put("s1", Profile.CODER)  # cannot be written: logged, not raised
    assert blocked.get("s1") is Profile.CODER  # still known to this process


def test_the_background_warm_up_sets_what_was_built_aside_from_full_collections() -> None:
    tracked = len(gc.get_objects())
    try:
        core._warm_up()
        assert gc.get_freeze_count() >= tracked  # full collections no longer traverse the imports, Brain and table
    finally:
        gc.unfreeze()
