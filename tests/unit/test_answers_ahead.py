"""Answers ahead (opencode/ahead.py): an entry a reply carries answers exactly what a request would, for every call
it matches, over random sessions (routing, tool activity, agents, the orchestrator on or off); it is not sent while
another request of the session is still being answered; the handshake's filters and read-only list."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from session_support import registry, run, runtime

from kimchi_plugin.brain import Brain
from kimchi_plugin.opencode import chat, lifecycle, tools
from kimchi_plugin.opencode import vocabulary as v
from kimchi_plugin.opencode.handshake import answer_early, offer
from kimchi_plugin.rpc.protocol import HookParams, InitializeParams

KIMI = "kimi-k2.5"
MODELS = (KIMI, "minimax-m2.7", "glm-5-fp8")
TEXTS = (
    "implement the parser and add tests",
    "why does the login crash on startup? investigate the stack trace",
    "what does this function return",
    "/debug the cache is stale",
    "/lock reasoning",
    "/auto",
    "thanks",
    "/why",
)
AGENTS = ("build", "plan", v.ORCHESTRATOR_AGENT, "explore")
TOOLS = ("read", "edit", "bash", "task", "grep", "webfetch")
SYSTEMS = (
    ["You are OpenCode, the best coding agent."],
    ["You are OpenCode.", "Project instructions."],
    ["You are a title generator. You output ONLY a thread title."],
    ["Header", "You are a context summarization agent."],
    ["x" * 2100 + "You are a title generator"],  # a marker past the head: by request (unless) and patched
    ["You are a title generatorX", "More."],  # an opening marker: answered ahead, left alone
    ["Intro", "Rules", "summarize the conversation"],  # a marker in a third string: by request, and patched
)


def merge(target: Any, patch: Any) -> None:
    """The shim's patch application (PROTOCOL.md): objects merge, arrays are refilled, scalars replace."""
    for key, value in patch.items():
        current = target.get(key)
        if isinstance(current, list) and isinstance(value, list):
            current[:] = value
        elif isinstance(current, dict) and isinstance(value, dict):
            merge(current, value)
        else:
            target[key] = value


def at(data: Any, path: str) -> Any:
    for key in path.split("."):
        data = data.get(key) if isinstance(data, dict) else None
    return data


def applies(entry: dict[str, Any], hook: str, inp: dict[str, Any], out: dict[str, Any]) -> bool:
    """An entry's match as PROTOCOL.md defines it (the shim's, in plugin_shim/ahead.js)."""
    if entry["hook"] != hook or any(at(inp, path) != value for path, value in entry["when"].items()):
        return False
    for path, needles in entry.get("unless", {}).items():
        found = at(out, path)
        items = [found] if isinstance(found, str) else found if isinstance(found, list) else []
        strings = [s for s in items if isinstance(s, str)]
        if any(needle in s for s in strings for needle in needles):
            return False
    for path, needles in entry.get("opening", {}).items():
        found = at(out, path)
        first = found[0] if isinstance(found, list) and found else found
        if not isinstance(first, str) or not any(first.startswith(needle) for needle in needles):
            return False
    return all(isinstance(at(out, key), list) for key in entry.get("append", {})) and isinstance(out, dict)


def answer_from(entries: list[dict[str, Any]], hook: str, inp: dict[str, Any], out: dict[str, Any]) -> Any:
    """The output after the first matching entry is applied, or None when no entry matches (a request then)."""
    for entry in entries:
        if applies(entry, hook, inp, out):
            done = copy.deepcopy(out)
            merge(done, entry.get("output", {}))
            for key, items in entry.get("append", {}).items():
                at(done, key).extend(items)
            for key, text in entry.get("prefix", {}).items():
                done[key] = text + (done[key] if isinstance(done.get(key), str) else "")
            return done
    return None


def requested(brain: Brain, hook: str, inp: dict[str, Any], out: dict[str, Any]) -> Any:
    handler = chat.chat_params if hook == v.CHAT_PARAMS_HOOK else chat.system_transform
    done = copy.deepcopy(out)
    merge(done, run(handler(brain, HookParams(input=copy.deepcopy(inp), output=copy.deepcopy(out)))).output)
    return done


def carried(brain: Brain, hook: str, params: HookParams) -> list[dict[str, Any]] | None:
    handler = {v.CHAT_MESSAGE_HOOK: chat.chat_message, v.TOOL_AFTER_HOOK: tools.tool_after}[hook]
    return run(lifecycle.logged(hook, handler, brain, params)).wire().get("ahead")


def message(session: str, text: str, agent: str, model: str) -> HookParams:
    chosen = {"providerID": "kimchi", "modelID": model}
    return HookParams(
        input={"sessionID": session, "model": chosen},
        output={
            "message": {"sessionID": session, "agent": agent, "model": chosen},
            "parts": [{"type": "text", "text": text}],
        },
    )


def tool_call(session: str, tool: str, index: int) -> HookParams:
    return HookParams(
        input={"tool": tool, "sessionID": session, "callID": f"c{index}", "args": {"filePath": f"f{index}.py"}},
        output={"title": tool, "output": "Error: failed" if index % 5 == 0 else "ok", "metadata": {}},
    )


def probes(brain: Brain, session: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Per-step calls of every shape OpenCode makes: the routed turn's, a helper agent's, other models and providers."""
    turn = brain.routed_turn(session)
    models = {*MODELS, "auto", *([turn[0]] if turn else [])}
    agents = {*AGENTS, *v.SYSTEM_AGENTS, *([turn[1]] if turn and turn[1] else [])}
    found = []
    for model in sorted(models):
        for provider in ("kimchi", "other"):
            spec = {"id": model, "providerID": provider}
            for agent in sorted(agents):
                inp = {"sessionID": session, "agent": agent, "model": spec, "provider": {"id": provider}}
                found.append((v.CHAT_PARAMS_HOOK, inp, {"temperature": 0.7, "topP": 1, "options": {}}))
            for system in SYSTEMS:
                found.append((v.SYSTEM_TRANSFORM_HOOK, {"sessionID": session, "model": spec}, {"system": system}))
    return found


@pytest.mark.parametrize("seed", range(12))
def test_an_entry_answers_what_a_request_would(seed: int) -> None:
    rng = random.Random(seed)
    orchestrator = rng.random() < 0.8
    brain, _ = runtime(registry(*MODELS), orchestrator=orchestrator)
    standing = offer(v.BRAIN_HOOKS, orchestrator)["ahead"]  # the handshake's: after each session's own
    held: dict[str, list[dict[str, Any]]] = {}  # the shim's entries: each session's latest reply's
    answered = 0
    for step in range(40):
        session = rng.choice(("s1", "s2"))
        if rng.random() < 0.35:
            agent = rng.choice(AGENTS)
            params = message(session, rng.choice(TEXTS), agent, rng.choice(("auto", "coding", KIMI)))
            entries = carried(brain, v.CHAT_MESSAGE_HOOK, params)
        else:
            entries = carried(brain, v.TOOL_AFTER_HOOK, tool_call(session, rng.choice(TOOLS), step))
        assert entries is not None
        held[session] = entries
        for probe_session, entries in held.items():
            for hook, inp, out in probes(brain, probe_session):
                ahead = answer_from([*entries, *standing], hook, inp, out)
                if ahead is not None:
                    answered += 1
                    assert ahead == requested(brain, hook, inp, out), (hook, inp, out)
    assert answered > 0


def test_the_routed_turns_calls_are_answered_ahead_with_its_temperature_and_prompt() -> None:
    brain, _ = runtime(registry(*MODELS))
    turn = carried(brain, v.CHAT_MESSAGE_HOOK, message("s1", "implement the parser", v.ORCHESTRATOR_AGENT, "auto"))
    assert turn is not None
    entries = [*turn, *offer(v.BRAIN_HOOKS)["ahead"]]
    model_id, agent = brain.routed_turn("s1") or ("", None)
    spec = {"id": model_id, "providerID": "kimchi"}
    params_in = {"sessionID": "s1", "agent": agent, "model": spec}
    params = answer_from(entries, v.CHAT_PARAMS_HOOK, params_in, {"temperature": 0.7})
    assert params is not None and params["temperature"] == brain.temperature("s1", model_id)
    system = answer_from(entries, v.SYSTEM_TRANSFORM_HOOK, {"sessionID": "s1", "model": spec}, {"system": ["Main"]})
    assert system is not None and system["system"][0] == "Main" and len(system["system"]) == 2
    # OpenCode's title request: answered ahead too, unchanged (the brain leaves its prompt and parameters alone).
    title = {"system": ["You are a title generator."]}
    assert answer_from(entries, v.SYSTEM_TRANSFORM_HOOK, {"sessionID": "s1", "model": spec}, title) == title
    titled = {**params_in, "agent": "title"}
    assert answer_from(entries, v.CHAT_PARAMS_HOOK, titled, {"temperature": 0.7}) == {"temperature": 0.7}
    # A marker further in than the opening: the brain decides (by request).
    later = {"system": ["Main", "You are a title generator."]}
    assert answer_from(entries, v.SYSTEM_TRANSFORM_HOOK, {"sessionID": "s1", "model": spec}, later) is None


def test_a_session_never_routed_gets_empty_answers_ahead() -> None:
    brain, _ = runtime(registry(*MODELS))
    entries = carried(brain, v.TOOL_AFTER_HOOK, tool_call("s9", "read", 1))
    assert entries == [
        {"hook": v.CHAT_PARAMS_HOOK, "when": {"sessionID": "s9"}, "output": {}},
        {"hook": v.SYSTEM_TRANSFORM_HOOK, "when": {"sessionID": "s9"}, "output": {}},
    ]


def test_no_entries_while_another_request_of_the_session_is_being_answered() -> None:
    brain, _ = runtime(registry(*MODELS))
    brain.take("s1")  # a chat.message of s1 still routing (its reply, out of the shim's budget, comes later)
    assert carried(brain, v.TOOL_AFTER_HOOK, tool_call("s1", "read", 1)) is None
    assert carried(brain, v.TOOL_AFTER_HOOK, tool_call("s2", "read", 2)) is not None
    brain.release("s1")
    assert carried(brain, v.TOOL_AFTER_HOOK, tool_call("s1", "read", 3)) is not None
    assert brain.alone("s1") and not brain._in_hand  # released after each reply, whatever it was


def test_read_only_hooks_carry_nothing() -> None:
    brain, _ = runtime(registry(*MODELS))
    inp = {"sessionID": "s1", "agent": "build", "model": {"id": KIMI, "providerID": "kimchi"}}
    result = run(lifecycle.logged(v.CHAT_PARAMS_HOOK, chat.chat_params, brain, HookParams(input=inp, output={})))
    assert "ahead" not in result.wire()


def test_the_handshake_lists_filters_and_read_only_hooks() -> None:
    answer = offer(v.BRAIN_HOOKS)
    assert answer["filters"] == {v.TOOL_DEFINITION_HOOK: {"toolID": [v.DELEGATION_TOOL]}}
    assert answer["readOnly"] == [v.CHAT_PARAMS_HOOK, v.SYSTEM_TRANSFORM_HOOK, v.TOOL_DEFINITION_HOOK]
    assert set(answer["readOnly"]).isdisjoint(v.AHEAD_CARRIERS)


@pytest.mark.parametrize("orchestrator", [True, False])
def test_the_standing_entries_answer_tool_definitions_as_a_request_would(orchestrator: bool) -> None:
    brain, _ = runtime(registry(*MODELS), orchestrator=orchestrator)
    params = {"protocolVersion": 1, "options": {"orchestrator": orchestrator}}
    standing = lifecycle.handshake(v.BRAIN_HOOKS, InitializeParams.model_validate(params)).model_dump()["ahead"]
    defining = [entry for entry in standing if entry["hook"] == v.TOOL_DEFINITION_HOOK]
    assert bool(defining) is orchestrator  # without the orchestrator, tool.definition is not even forwarded
    described = ["Launch a new agent.", "", "  padded  \n", v.TASK_TOOL_PREFIX + "Launch.", f"x {v.TASK_TOOL_GUIDE} y"]
    outputs = [*({"description": d, "parameters": {"type": "object"}} for d in described), {}, {"description": 7}]
    for tool in (v.DELEGATION_TOOL, "bash", "read"):
        for out in outputs:
            inp = {"toolID": tool}
            ahead = answer_from(standing, v.TOOL_DEFINITION_HOOK, inp, out)
            asked = copy.deepcopy(out)
            merge(asked, run(tools.tool_definition(brain, HookParams(input=inp, output=copy.deepcopy(out)))).output)
            if tool != v.DELEGATION_TOOL or not orchestrator:
                assert ahead is None  # by request (the shim's filter keeps these calls local anyway)
            else:
                assert ahead == asked, (tool, out)
    twice = answer_from(standing, v.TOOL_DEFINITION_HOOK, {"toolID": v.DELEGATION_TOOL}, {"description": "Run."})
    if orchestrator:
        assert twice == {"description": v.TASK_TOOL_PREFIX + "Run."}


@pytest.mark.parametrize("off", [False, "false", 0])
def test_without_the_orchestrator_tool_definitions_are_not_forwarded(off: Any) -> None:
    params = {"protocolVersion": 1, "options": {"orchestrator": off}}
    full = lifecycle.handshake(v.BRAIN_HOOKS, InitializeParams.model_validate(params)).model_dump(mode="json")
    assert v.TOOL_DEFINITION_HOOK not in full["hooks"] and full["filters"] == {}
    assert full["hooks"] == [hook for hook in v.BRAIN_HOOKS if hook != v.TOOL_DEFINITION_HOOK]
    early = answer_early("initialize", params)
    assert early is None if type(off) is not bool else early == full  # a lenient value is the full server's to read
