"""`kimchi-plugin route`: one decision per line through the plugin's own Brain and defaults (the primary-agent floor
applies unless `--raw`), follow-ups read their `prev`."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import structlog

from kimchi_plugin.cli import main


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """A command configures logging for its own process; the other tests in this one expect the defaults."""
    yield
    structlog.reset_defaults()


def _route(monkeypatch, capsys, lines: list[object], *args: str) -> list[dict]:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    monkeypatch.setattr("os.environ", {"HOME": "/nonexistent"})  # no key, no disk catalogue: the bundled one
    assert main(["route", "--jsonl", *args]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_each_line_gets_a_decision_with_the_documented_fields(monkeypatch, capsys) -> None:
    out = _route(
        monkeypatch, capsys, [{"text": "Debug the TypeError in the handler"}, {"text": "where is the config?"}], "--raw"
    )
    assert [d["tier"] for d in out] == ["reasoning", "quick"]
    assert all({"tier", "profile", "confidence", "source", "model", "reason", "signals"} <= set(d) for d in out)


def test_the_plugins_floor_applies_unless_raw(monkeypatch, capsys) -> None:
    """As in the live plugin: no agent is the default (primary) agent, floored to Coding; a subagent is not."""
    lines = [
        {"text": "what does src/util.py do"},
        {"text": "where is the config?", "agent": "build"},
        {"text": "where is the config?", "agent": "explore"},
    ]
    out = _route(monkeypatch, capsys, lines)
    assert [(d["tier"], d["source"]) for d in out] == [("coding", "floor"), ("coding", "floor"), ("quick", "agent")]
    assert out[0]["profile"] == "assistant"  # a question keeps the mode of a question on the Coding model
    raw = _route(monkeypatch, capsys, lines[:1], "--raw")
    assert [(d["tier"], d["source"]) for d in raw] == [("quick", "heuristic")]


def test_follow_ups_are_decided_from_prev_or_the_session(monkeypatch, capsys) -> None:
    out = _route(
        monkeypatch,
        capsys,
        [
            {"text": "still failing", "prev": {"text": "add a retry to the client", "profile": "coder"}},
            {"text": "Plan the architecture for auth", "session": "s"},
            {"text": "go ahead", "session": "s"},
        ],
    )
    assert [(d["profile"], d["source"]) for d in out] == [
        ("debugger", "followup"),
        ("planner", "heuristic"),
        ("coder", "followup"),
    ]


def test_a_bad_line_is_reported_and_the_rest_still_routed(monkeypatch, capsys) -> None:
    out = _route(monkeypatch, capsys, ["not json", {"text": 5}, {"text": "add a button"}])
    assert "error" in out[0] and "error" in out[1] and out[2]["tier"] == "coding"
