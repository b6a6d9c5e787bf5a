"""Delegation reminders: counted per orchestrator session, repeated while the agent keeps doing the work itself,
kept out of other agents and of OpenCode's internal requests; the task tool's description."""

from __future__ import annotations

from session_support import registry, run, runtime, send, system, tool_after

from kimchi_plugin.opencode import tools
from kimchi_plugin.opencode.vocabulary import TASK_TOOL_GUIDE
from kimchi_plugin.routing import delegation
from kimchi_plugin.routing.sessions import SessionState
from kimchi_plugin.rpc.protocol import HookParams

KIMI = "kimi-k2.5"
POLICY = delegation.ReminderPolicy(first_after=3, repeat_every=2, ratio=2.0)


def _direct(state: SessionState, n: int, policy=POLICY) -> list[str | None]:
    out = []
    for _ in range(n):
        delegation.note_tool(state, "read")
        out.append(delegation.reminder(state, policy))
    return out


def test_counts_direct_work_and_delegations() -> None:
    state = SessionState("s")
    for tool in ("read", "Edit", "bash", "task", "todowrite", "suggest_coding_mode"):
        delegation.note_tool(state, tool)
    assert (state.direct_calls, state.delegations) == (3, 1)


def test_first_reminder_after_the_threshold_then_repeatedly() -> None:
    state = SessionState("s")
    given = _direct(state, 7)
    assert [i for i, text in enumerate(given, 1) if text] == [3, 5, 7]  # not once per session
    assert "7 direct tool calls and 0 delegations" in given[-1]


def test_delegating_resets_the_count_and_a_good_ratio_silences_reminders() -> None:
    state = SessionState("s")
    _direct(state, 3)
    for _ in range(2):
        delegation.note_tool(state, "task")
    given = _direct(state, 2)
    assert given[0] is None  # 4 direct vs 2 delegations: within the ratio
    assert given[1] is not None and "5 direct tool calls and 2 delegations" in given[1]
    for _ in range(3):
        delegation.note_tool(state, "task")
    assert _direct(state, 5) == [None] * 5  # 10 direct vs 5 delegations


def test_thresholds_are_data() -> None:
    state = SessionState("s")
    strict = delegation.ReminderPolicy(first_after=1, repeat_every=1, ratio=0.0)
    assert all(_direct(state, 3, strict))


def test_system_nudge_stands_while_the_pattern_lasts() -> None:
    state = SessionState("s")
    _direct(state, 2)
    assert delegation.system_nudge(state, POLICY) is None
    _direct(state, 1)
    assert "3 direct tool calls" in delegation.system_nudge(state, POLICY)
    for _ in range(2):
        delegation.note_tool(state, "task")
    assert delegation.system_nudge(state, POLICY) is None


# -- through the hooks ----------------------------------------------------------------------------------------


def _orchestrated(agent: str = "kimchi-auto"):
    rt, _ = runtime(registry(KIMI))
    send(rt, "s1", "implement the parser", agent=agent)
    return rt


def test_reminder_is_appended_to_the_tool_result_in_orchestrator_sessions() -> None:
    rt = _orchestrated()
    outputs = [tool_after(rt, "s1", "read", output=f"file {i}", filePath=f"f{i}.py")["output"] for i in range(10)]
    reminded = [i for i, out in enumerate(outputs, 1) if "[delegation]" in out.get("output", "")]
    first, repeat = delegation.DEFAULT_POLICY.first_after, delegation.DEFAULT_POLICY.repeat_every
    assert reminded == [first, first + repeat]
    assert outputs[first - 1]["output"].startswith(f"file {first - 1}\n\n[delegation]")


def test_reminder_goes_into_the_main_system_prompt_but_not_title_or_compaction_requests() -> None:
    rt = _orchestrated()
    for i in range(delegation.DEFAULT_POLICY.first_after):
        tool_after(rt, "s1", "edit", filePath=f"f{i}.py")
    main = system(rt, "s1", KIMI, ["You are the orchestrator."])
    assert main[0] == "You are the orchestrator." and "[delegation]" in main[-1]
    for internal in (
        "You are a title generator. You output ONLY a thread title.",
        "You are a context summarization agent. You are given a conversation",
    ):
        assert system(rt, "s1", KIMI, [internal]) == [internal]


def test_no_reminders_outside_the_orchestrator() -> None:
    rt = _orchestrated(agent="build")
    for i in range(12):
        out = tool_after(rt, "s1", "edit", filePath=f"f{i}.py")["output"]
        assert "output" not in out
    assert not any("[delegation]" in block for block in system(rt, "s1", KIMI, ["main"]))
    state = rt.sessions.peek("s1")
    assert state.direct_calls == 0 and state.edits == 12  # activity is still tracked for the compaction context


def test_no_reminders_when_the_orchestrator_is_switched_off() -> None:
    rt = _orchestrated()
    rt.settings = rt.settings.model_copy(update={"orchestrator": False})
    for i in range(12):
        assert "output" not in tool_after(rt, "s1", "read", filePath=f"f{i}.py")["output"]


def test_task_tool_description_is_enhanced_once() -> None:
    rt, _ = runtime(registry(KIMI))

    def definition(tool_id: str, description: str) -> dict:
        params = HookParams(input={"toolID": tool_id}, output={"description": description, "parameters": {}})
        return run(tools.tool_definition(rt, params)).output

    enhanced = definition("task", "Launch a new agent.")["description"]
    assert enhanced.startswith(TASK_TOOL_GUIDE) and enhanced.endswith("Launch a new agent.")
    assert definition("task", enhanced) == {}  # OpenCode asks again every step: never stacked
    assert definition("read", "Read a file.") == {}
