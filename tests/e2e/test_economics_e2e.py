"""Routing economics inside the real opencode binary, on a fake server that reports prompt caching: a cheaper switch
vetoed because of the warm cache (the toast says why, `stats` counts what it saved), a session budget crossing 80 %
and 100 % (then automatic decisions step down a tier), and a stuck tool loop stopped and continued on Reasoning.

Asserted from what the fake model server received, OpenCode's own bus events and the stats database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from scripts.fake_model_server import FakeModelServer
from scripts.opencode_sandbox import OpencodeSandbox, shim_plugin

OPUS, SONNET, HAIKU = "claude-opus-4-6", "claude-sonnet-4-6", "claude-haiku-4-5"
AUTO = "kimchi/auto"
WAIT_S = 60.0
PLAN = "plan the architecture of the new billing service and its trade-offs"
CODE = "implement the parser module"
REPO = Path(__file__).resolve().parents[2]


def _configure(sandbox: OpencodeSandbox, tmp_path: Path, **options: Any) -> None:
    sandbox.configure(
        models={OPUS: {"name": "Opus"}, SONNET: {"name": "Sonnet"}, HAIKU: {"name": "Haiku"}},
        model=None,
        small_model=HAIKU,
        plugins=[
            shim_plugin({"verbose": True, "logFile": str(tmp_path / "brain.log"), "llmClassifier": False, **options})
        ],
    )


def _toasts(events) -> list[str]:
    return [(e.get("properties") or {}).get("message", "") for e in events.of_type("tui.toast.show")]


def _wait(predicate, what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _stats(sandbox: OpencodeSandbox, session: str) -> str:
    db = Path(sandbox.env["XDG_DATA_HOME"]) / "opencode-kimchi" / "usage.db"
    _wait(db.exists, "the usage database")
    command = [sys.executable, "-m", "kimchi_plugin", "stats", "--session", session, "--db", str(db)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(command, capture_output=True, text=True, check=True, env=env, timeout=60).stdout


def test_a_switch_that_would_cost_more_is_vetoed_and_said(
    sandbox: OpencodeSandbox, fake_server: FakeModelServer, tmp_path: Path
) -> None:
    _configure(sandbox, tmp_path)
    fake_server.set_caching(True)
    fake_server.set_usage("*", prompt_tokens=80_000)
    with sandbox.serve() as client, client.events() as events:
        session = client.create_session()
        assert client.send(session, PLAN, model=AUTO)["info"]["modelID"] == OPUS
        second = client.send(session, CODE, model=AUTO)  # the router's tier is Coding: Sonnet would start cold
        assert second["info"]["modelID"] == OPUS
        tokens = second["info"]["tokens"]
        assert tokens["cache"]["read"] == 80_000 and tokens["input"] == 0  # OpenCode saw the cache hit
        _wait(lambda: any("stayed on" in t for t in _toasts(events)), "the veto toast")
        veto = next(t for t in _toasts(events) if "stayed on" in t)
        assert veto.startswith(f"stayed on {OPUS}: switching to {SONNET} would cost $")
        assert "80K tokens cached" in veto
        assert client.send(session, PLAN, model=AUTO)["info"]["modelID"] == OPUS
        # The third call's usage arrives with a later message.updated event: wait for it while the brain still runs
        # (leaving `serve` at once can end the brain before that event reaches it).
        _wait(lambda: "3 model calls" in _stats(sandbox, session), "the third call's usage")

    report = _stats(sandbox, session)
    print(f"\n{report}")
    assert [r["model"] for r in fake_server.chat_requests(with_tools=True)] == [OPUS, OPUS, OPUS]
    assert "160,000 cache read" in report  # the 2nd and 3rd requests read the 1st's prompt
    assert "Cache-aware routing: stayed on a warm model 1 times instead of switching, saving $" in report


def test_session_budget_warns_at_80_then_steps_down_past_100(
    sandbox: OpencodeSandbox, fake_server: FakeModelServer, tmp_path: Path
) -> None:
    # 10K prompt tokens on Opus at 5 $/M: ~$0.05 a request; the limit is passed at the third.
    _configure(sandbox, tmp_path, sessionBudget=0.11)
    fake_server.set_usage("*", prompt_tokens=10_000)
    with sandbox.serve() as client, client.events() as events:
        session = client.create_session()
        for _ in range(2):
            assert client.send(session, PLAN, model=AUTO)["info"]["modelID"] == OPUS
        _wait(lambda: any("80% of this session's budget of $0.11" in t for t in _toasts(events)), "the 80 % toast")
        assert client.send(session, PLAN, model=AUTO)["info"]["modelID"] == OPUS
        _wait(lambda: any("budget of $0.11 is spent" in t for t in _toasts(events)), "the 100 % toast")

        stepped = client.send(session, PLAN, model=AUTO)
        assert stepped["info"]["modelID"] == SONNET
        _wait(lambda: any("session budget spent: reasoning → coding" in t for t in _toasts(events)), "the step toast")
        assert client.send(session, "/plan " + PLAN, model=AUTO)["info"]["modelID"] == OPUS  # explicit: untouched

        shown = client.send(session, "/budget", model=AUTO)
        assert shown["info"]["modelID"] == OPUS  # /budget changes no routing
        _wait(lambda: any("current spend limits" in t for t in _toasts(events)), "the /budget toast")
    requests = fake_server.chat_requests(with_tools=True)
    assert "this session: $0.2" in requests[-1]["last_user"] and "of $0.11" in requests[-1]["last_user"]
    assert "Spend limits (plugin options): $0.11 per session: 2" in _stats(sandbox, session)


def test_a_stuck_tool_loop_is_stopped_and_continued_on_reasoning(
    sandbox: OpencodeSandbox, fake_server: FakeModelServer, tmp_path: Path
) -> None:
    _configure(sandbox, tmp_path)
    call = json.dumps({"command": "false", "description": "build"}, separators=(",", ":"))
    with sandbox.serve() as client, client.events() as events:
        session = client.create_session()
        client.send_async(
            session, f"implement the build step and run it CALL_TOOL:bash:{call} REPEAT_TOOL:10", model=AUTO
        )
        _wait(lambda: any(r["model"] == OPUS for r in fake_server.chat_requests(with_tools=True)), "the Opus turn")
        _wait(lambda: not client.busy_sessions(), "the session to go idle")
        toasts = _toasts(events)

    requests = fake_server.chat_requests(with_tools=True)
    looping = [r for r in requests if r["model"] == SONNET]
    assert 3 <= len(looping) <= 4  # stopped after the third failure, not after ten
    continued = [r for r in requests if r["model"] == OPUS]
    assert len(continued) == 1 and "stopped because it was stuck" in continued[0]["last_user"]
    assert "The same bash call failed 3 times: continuing on the Reasoning tier" in toasts
