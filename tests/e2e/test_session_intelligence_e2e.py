"""Session intelligence inside the real opencode binary: fallback after a rate limit, a larger window past 85 %,
compaction past 78 % carrying the routing state, and delegation reminders for the orchestrator.

Everything is asserted from what the fake model server received (and OpenCode's own bus events)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from scripts.fake_model_server import FakeModelServer
from scripts.opencode_sandbox import OpencodeSandbox, shim_plugin

KIMI, SONNET, MINIMAX = "kimi-k2.5", "claude-sonnet-4", "minimax-m2.7"
AUTO = "kimchi/auto"
WAIT_S = 60.0
# 10 o200k tokens per line.
FILLER_LINE = "implement the parser module step by step with tests\n"


def _window(tokens: int) -> dict[str, Any]:
    return {"limit": {"context": tokens, "output": 4096}}


def _models(**windows: int) -> dict[str, dict[str, Any]]:
    models: dict[str, dict[str, Any]] = {
        KIMI: {"name": "Kimi K2.5"},
        MINIMAX: {"name": "MiniMax M2.7"},
        SONNET: {"name": "Claude Sonnet 4"},
    }
    for model_id, tokens in windows.items():
        models[model_id] = {**models[model_id], **_window(tokens)}
    return models


def _configure(sandbox: OpencodeSandbox, tmp_path: Path, models: dict[str, dict[str, Any]]) -> Path:
    log = tmp_path / "brain.log"
    sandbox.configure(
        models=models,
        model=None,
        small_model=KIMI,
        plugins=[shim_plugin({"verbose": True, "logFile": str(log), "llmClassifier": False})],
    )
    return log


def _tool_call(tool: str, args: dict[str, Any]) -> str:
    return f"CALL_TOOL:{tool}:" + json.dumps(args, separators=(",", ":")).replace(" ", "\\u0020")


def _wait(predicate, timeout: float = WAIT_S, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _toasts(events) -> list[str]:
    return [(e.get("properties") or {}).get("message", "") for e in events.of_type("tui.toast.show")]


def _main_requests(server: FakeModelServer) -> list[dict[str, Any]]:
    return server.chat_requests(with_tools=True)


def test_rate_limited_model_is_replaced_on_the_next_turn(
    sandbox: OpencodeSandbox, fake_server: FakeModelServer, tmp_path: Path
) -> None:
    _configure(sandbox, tmp_path, _models())
    fake_server.fail(KIMI, 429, message="Rate limit reached for requests")
    with sandbox.serve() as client, client.events() as events:
        session = client.create_session()
        client.send_async(session, "implement the parser module", model=AUTO)
        # OpenCode retries a 429 by itself (only `session.status` "retry" tells): the brain arms the fallback.
        events.wait_for(lambda e: "was rate limited" in (e.get("properties") or {}).get("message", ""), WAIT_S)
        client.request("POST", f"/session/{session}/abort")  # the user gives up on the stuck turn

        reply = client.send(session, "implement the parser module", model=AUTO)

        assert reply["info"]["modelID"] == SONNET  # next best of the Coding tier
        assert [r["status"] for r in fake_server.requests if r["model"] == KIMI][:1] == [429]
        assert fake_server.requests[-1]["model"] == SONNET and fake_server.requests[-1]["status"] == 200
        toasts = _toasts(events)
        assert any(f"{KIMI} was rate limited; the next message uses {SONNET}" in t for t in toasts), toasts
        assert any(f"{SONNET} serves instead" in t for t in toasts), toasts


def test_past_85_percent_the_larger_window_serves_the_turn(
    sandbox: OpencodeSandbox, fake_server: FakeModelServer, tmp_path: Path
) -> None:
    _configure(sandbox, tmp_path, _models(**{KIMI: 20_000, SONNET: 20_000, MINIMAX: 196_608}))
    with sandbox.serve() as client, client.events() as events:
        session = client.create_session()
        first = client.send(session, "implement the parser module", model=AUTO)
        assert first["info"]["modelID"] == KIMI
        # 14K tokens of message + the transcript + the 6K request overhead: past 85 % of 20K.
        reply = client.send(session, FILLER_LINE * 1_400, model=AUTO)

        assert reply["info"]["modelID"] == MINIMAX  # Sonnet ranks higher but its window is as small
        assert _main_requests(fake_server)[-1]["model"] == MINIMAX
        assert any("→ minimax-m2.7 (196K)" in t for t in _toasts(events)), _toasts(events)


def test_past_78_percent_opencode_compacts_with_the_routing_state(
    sandbox: OpencodeSandbox, fake_server: FakeModelServer, tmp_path: Path
) -> None:
    brain_log = _configure(sandbox, tmp_path, _models(**{KIMI: 20_000}))
    with sandbox.serve() as client, client.events() as events:
        session = client.create_session()
        # 10K tokens + the 6K request overhead = 80 % of 20K: past 78 % (the brain asks OpenCode to summarise during
        # the turn) and below 85 % (the model's window still serves it).
        reply = client.send(session, FILLER_LINE * 1_000, model=AUTO)
        assert reply["info"]["modelID"] == KIMI
        events.wait_for(lambda e: e.get("type") == "session.compacted", WAIT_S)

    summaries = [r for r in fake_server.requests if "context summarization agent" in r["system"]]
    assert len(summaries) == 1
    sent = summaries[0]["last_user"]
    assert "Routing state to carry into the summary" in sent
    assert f"Active mode: coder (coding tier, model {KIMI})" in sent
    assert "[Context] ~" in sent
    assert any("compacting the session" in t for t in _toasts(events))
    assert brain_log.read_text().count('"compaction requested"') == 1  # ours, not OpenCode's overflow compaction


def test_orchestrator_doing_the_work_itself_is_reminded(
    sandbox: OpencodeSandbox, fake_server: FakeModelServer, tmp_path: Path
) -> None:
    _configure(sandbox, tmp_path, _models())
    with sandbox.serve() as client:
        session = client.create_session()
        for i in range(4):
            client.send(
                session,
                _tool_call("bash", {"command": f"echo step {i}", "description": "echo"}),
                model=AUTO,
                agent="kimchi-auto",
            )

    follow_ups = [r for r in _main_requests(fake_server) if r["last_role"] == "tool"]
    assert len(follow_ups) == 4
    assert not any("[delegation]" in t for r in follow_ups[:3] for t in r["tool_results"])
    last = follow_ups[-1]
    assert "[delegation] You have made 4 direct tool calls and 0 delegations" in last["tool_results"][-1]
    assert "[delegation]" in last["system"]  # also a standing line in the system prompt


def test_other_agents_get_no_reminder(sandbox: OpencodeSandbox, fake_server: FakeModelServer, tmp_path: Path) -> None:
    _configure(sandbox, tmp_path, _models())
    with sandbox.serve() as client:
        session = client.create_session()
        for i in range(5):
            client.send(
                session,
                _tool_call("bash", {"command": f"echo step {i}", "description": "echo"}),
                model=AUTO,
                agent="build",
            )
    assert not any(
        "[delegation]" in r["system"] or any("[delegation]" in t for t in r["tool_results"])
        for r in fake_server.requests
    )
