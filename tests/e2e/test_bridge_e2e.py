"""The project's shim and Python brain inside the real opencode binary: hooks reach Python, crashes fail open."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from scripts.fake_model_server import FakeModelServer, served_by
from scripts.opencode_sandbox import FAKE_API_KEY, REPO_ROOT, OpencodeSandbox, shim_plugin

DYING_BRAIN = REPO_ROOT / "tests" / "support" / "dying_brain.py"
# Hooks a turn with one tool call passes through the shim to Python. The read-only ones (`chat.params`, the system
# transform, `tool.definition`) are answered ahead: tests/e2e/test_answers_ahead_e2e.py.
TURN_HOOKS = {"config", "chat.message", "experimental.chat.messages.transform", "tool.execute.after"}
TOOL_ARGS = json.dumps({"command": "echo bridge-tool-ok", "description": "echo"}).replace(" ", "\\u0020")


def _log_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def _hook_methods(lines: list[dict]) -> list[str]:
    return [line["method"] for line in lines if line.get("event") == "hook"]


@pytest.fixture
def brain_log(tmp_path: Path) -> Path:
    return tmp_path / "kimchi.log"


def test_turn_reaches_python_for_every_forwarded_hook(
    sandbox: OpencodeSandbox, fake_server: FakeModelServer, brain_log: Path
):
    sandbox.configure(plugins=[shim_plugin({"verbose": True, "logFile": str(brain_log)})])
    sandbox.env["KIMCHI_LOG_LEVEL"] = "trace"  # per-step hooks (tool.definition, transforms) are logged at trace level

    result = sandbox.run("run", f"CALL_TOOL:bash:{TOOL_ARGS}")

    assert result.rc == 0, result.stderr
    answered_by = fake_server.chat_requests(with_tools=True)[-1]["model"]
    assert result.text.endswith(served_by(answered_by))
    methods = _hook_methods(_log_lines(brain_log))
    assert set(methods) >= TURN_HOOKS, sorted(set(methods))
    assert any("bridge-tool-ok" in t for r in fake_server.requests for t in r["tool_results"])
    assert FAKE_API_KEY not in brain_log.read_text()
    assert result.leftover_pids == []  # the brain exits with its host


def test_turn_completes_when_the_brain_dies(sandbox: OpencodeSandbox, fake_server: FakeModelServer, brain_log: Path):
    command = [sys.executable, str(DYING_BRAIN)]
    sandbox.configure(plugins=[shim_plugin({"verbose": True, "logFile": str(brain_log), "command": command})])
    sandbox.env["KIMCHI_LOG_LEVEL"] = "trace"  # chat.params, a per-step hook, is logged at trace level

    result = sandbox.run("hello", "after", "a", "crash")

    assert result.rc == 0, result.stdout + result.stderr
    assert result.text == served_by("kimi-k2.5")  # no routing from a dead brain: the requested model answers
    lines = _log_lines(brain_log)
    died = next(i for i, line in enumerate(lines) if line.get("event") == "dying on purpose")
    # the shim restarted the brain for the rest of the turn
    assert "chat.params" in _hook_methods(lines[died + 1 :])
    assert "chat.message" not in _hook_methods(lines)
    warnings = [line for line in sandbox.opencode_log().splitlines() if "level=WARN" in line]
    assert any("chat.message" in line and "brain exited" in line for line in warnings)  # reported, not thrown
    assert result.leftover_pids == []


def test_compaction_hook_reaches_python_over_serve(
    sandbox: OpencodeSandbox, fake_server: FakeModelServer, brain_log: Path
):
    sandbox.configure(plugins=[shim_plugin({"verbose": True, "logFile": str(brain_log)})])

    with sandbox.serve() as client:
        session = client.create_session()
        reply = client.send(session, "hello over http")
        assert reply["info"]["modelID"] == "kimi-k2.5"
        assert client.summarize(session, "kimchi/kimi-k2.5") is True

    methods = _hook_methods(_log_lines(brain_log))
    assert "chat.message" in methods
    assert "experimental.session.compacting" in methods
    assert client.leftover_pids == []  # SIGTERM to serve: the brain goes with it
