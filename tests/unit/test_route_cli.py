"""`kimchi-plugin route`: one decision per line, raw unless an agent is given, follow-ups read their `prev`."""

from __future__ import annotations

import io
import json

from kimchi_plugin.cli import main


def _route(monkeypatch, capsys, lines: list[object], *args: str) -> list[dict]:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    assert main(["route", "--jsonl", *args]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_each_line_gets_a_decision_with_the_documented_fields(monkeypatch, capsys) -> None:
    out = _route(
        monkeypatch, capsys, [{"text": "Debug the TypeError in the handler"}, {"text": "where is the config?"}]
    )
    assert [d["tier"] for d in out] == ["reasoning", "quick"]
    assert all({"tier", "profile", "confidence", "source", "model", "reason", "signals"} <= set(d) for d in out)


def test_raw_unless_an_agent_is_given(monkeypatch, capsys) -> None:
    out = _route(
        monkeypatch, capsys, [{"text": "where is the config?"}, {"text": "where is the config?", "agent": "build"}]
    )
    assert [(d["tier"], d["source"]) for d in out] == [("quick", "heuristic"), ("coding", "floor")]


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
