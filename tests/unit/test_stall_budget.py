"""The pure rules behind stall escalation and budgets: what counts as stuck (with an injected clock), the /budget
command, the 80 % and 100 % levels told once, and the day's spend."""

from __future__ import annotations

import pytest

from kimchi_plugin.routing import budget
from kimchi_plugin.routing.budget import BudgetCommand, Level, Limits, SessionBudget
from kimchi_plugin.routing.stall import WINDOW_S, StallWatch, error_key, tool_call


def _fail(watch: StallWatch, at: float, command: str = "make test", output: str = "Error: exit 1") -> str | None:
    return watch.observe(tool_call(at, "bash", {"command": command}, output, True, None))


def _edit(watch: StallWatch, at: float, old: str, new: str, path: str = "src/a.py") -> str | None:
    return watch.observe(tool_call(at, "edit", {"filePath": path, "oldString": old, "newString": new}, "", False, path))


def test_the_same_call_failing_three_times_is_stuck_once() -> None:
    watch = StallWatch()
    assert _fail(watch, 0.0) is None and _fail(watch, 10.0) is None
    assert _fail(watch, 20.0) == "the same bash call failed 3 times"
    assert _fail(watch, 30.0) is None  # said once per turn
    assert watch.new_turn() == "the same bash call failed 3 times"  # handed to the next message, once
    assert watch.new_turn() is None


def test_old_failures_fall_out_of_the_window() -> None:
    watch = StallWatch()
    _fail(watch, 0.0)
    _fail(watch, 1.0)
    assert _fail(watch, WINDOW_S + 2.0) is None


def test_a_new_turn_forgets_the_last_turns_calls() -> None:
    watch = StallWatch()
    _fail(watch, 0.0)
    _fail(watch, 1.0)
    watch.new_turn()
    assert _fail(watch, 2.0) is None


def test_the_same_error_from_different_calls() -> None:
    watch = StallWatch()
    message = "TypeError: cannot read property 'id' of undefined at line {}"
    assert _fail(watch, 0.0, "npm test", message.format(10)) is None
    assert _fail(watch, 1.0, "npm test -- --watch=false", message.format(12)) is None
    assert _fail(watch, 2.0, "npx jest", message.format(99)) == "the same error came back 3 times"
    assert error_key("  \n Error 42 at  7:3 \n more") == "Error # at #:#"


def test_a_file_edited_back_and_forth() -> None:
    watch = StallWatch()
    assert _edit(watch, 0.0, "a = 1", "a = 2") is None
    assert _edit(watch, 1.0, "a = 2", "a = 1") is None  # one undo may be a correction
    assert _edit(watch, 2.0, "b = 1", "b = 2", path="src/b.py") is None
    assert _edit(watch, 3.0, "a = 1", "a = 2") == "src/a.py was edited back and forth"


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("/budget", BudgetCommand(None, None)),
        ("/budget 5", BudgetCommand("session", 5.0)),
        ("/budget $2.50", BudgetCommand("session", 2.5)),
        ("/budget day 20", BudgetCommand("day", 20.0)),
        ("/BUDGET daily off", BudgetCommand("day", None)),
        ("/budget session none", BudgetCommand("session", None)),
        ("/budget lots", BudgetCommand(None, None, valid=False)),
        ("budget 5", None),
        ("/budgeting", None),
    ],
)
def test_budget_command(text: str, command: BudgetCommand | None) -> None:
    assert budget.parse_command(text) == command


def test_levels_are_told_once_and_afresh_after_a_new_limit() -> None:
    limits = Limits(session=1.0, day=None)
    state = SessionBudget()
    assert state.crossed(limits, 0.5, 9.0) == []
    assert state.crossed(limits, 0.8, 9.0) == [("session", Level.WARN)]
    assert state.crossed(limits, 0.9, 9.0) == []
    assert state.crossed(limits, 1.0, 9.0) == [("session", Level.OVER)]
    state.apply(BudgetCommand("session", 2.0))
    assert state.limits(limits) == Limits(2.0, None)
    assert state.crossed(state.limits(limits), 1.0, 9.0) == []
    assert state.crossed(state.limits(limits), 1.7, 9.0) == [("session", Level.WARN)]


def test_step_down_and_over() -> None:
    assert [budget.step_down(t) for t in budget.STEP_DOWN] == list(budget.STEP_DOWN.values())
    assert budget.over(Limits(1.0, 5.0), 0.5, 5.0) == "day"
    assert budget.over(Limits(1.0, 5.0), 1.0, 0.0) == "session"
    assert budget.over(Limits(None, None), 100.0, 100.0) is None


def test_day_spend_starts_over_on_a_new_day() -> None:
    day = budget.DaySpend()
    day.add("2026-12-07", 1.5)
    day.add("2026-12-07", 0.5)
    assert day.spent("2026-12-07") == 2.0 and day.spent("2026-12-08") == 0.0
    day.add("2026-12-08", 0.25)
    assert day.spent("2026-12-08") == 0.25
