"""Answers ahead inside the real opencode binary: the per-step read-only hooks (`chat.params`, the system transform)
are answered by the shim from the entries the brain sent with `chat.message` and `tool.execute.after`, so no call of
them reaches the brain (the turn's, nor OpenCode's title request's); the model requests still carry the routed
temperature and the mode's system prompt; `tool.definition` never reaches the brain either (the handshake's standing
entry puts the delegation guide in front of the task tool's description)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from kimchi_plugin.opencode.vocabulary import TASK_TOOL_GUIDE, TASK_TOOL_PREFIX
from kimchi_plugin.routing.prompts import PROFILE_PROMPTS, PROFILE_TEMPERATURE
from kimchi_plugin.routing.registry import Registry
from kimchi_plugin.routing.tiers import Profile
from scripts.fake_model_server import FakeModelServer
from scripts.opencode_sandbox import OpencodeSandbox, shim_plugin

TOOL_ARGS = json.dumps({"command": "echo ahead-tool-ok", "description": "echo"}).replace(" ", "\\u0020")


def _log_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def _expected_temperature(model_id: str, profile: Profile) -> float:
    """What Brain.temperature answers: the model's only accepted temperature, else the mode's."""
    registry = Registry.build(
        provider_models={model_id: {}}, api_models=None, pins=None, priorities=None, now=datetime.now(timezone.utc)
    )
    spec = registry.get(model_id)
    fixed = spec.fixed_temperature if spec is not None else None
    return fixed if fixed is not None else PROFILE_TEMPERATURE[profile]


def test_the_turns_per_step_hooks_are_answered_ahead(
    sandbox: OpencodeSandbox, fake_server: FakeModelServer, tmp_path: Path
) -> None:
    brain_log = tmp_path / "kimchi.log"
    sandbox.configure(plugins=[shim_plugin({"verbose": True, "logFile": str(brain_log)})])
    sandbox.env["KIMCHI_LOG_LEVEL"] = "trace"  # every hook request the brain answers is logged

    result = sandbox.run("run", f"CALL_TOOL:bash:{TOOL_ARGS}")

    assert result.rc == 0, result.stderr
    lines = _log_lines(brain_log)
    hooks = [line for line in lines if line.get("event") == "hook"]
    methods = [line["method"] for line in hooks]
    assert "chat.message" in methods and "tool.execute.after" in methods
    # Neither the turn's calls nor the title request's (its own agent, its prompt's opening) ask the brain.
    assert "chat.params" not in methods and "experimental.chat.system.transform" not in methods
    titles = [r for r in fake_server.requests if "title generator" in r["system"]]
    assert titles, "OpenCode's title request ran"

    steps = fake_server.chat_requests(with_tools=True)
    assert len(steps) >= 2, "the tool call and the answer after it"
    # The task tool's definition is answered from the handshake's standing entry: the guide in front, once.
    assert "tool.definition" not in methods
    for step in steps:
        assert step["tool_descriptions"]["task"].count(TASK_TOOL_GUIDE) == 1
        assert step["tool_descriptions"]["task"].startswith(TASK_TOOL_PREFIX)
    decision = next(line for line in lines if line.get("event") == "decision")
    profile = Profile(decision["profile"])
    for step in steps:
        assert step["model"] == decision["model"]
        assert step["temperature"] == _expected_temperature(decision["model"], profile)
        assert PROFILE_PROMPTS[profile] in step["system"]
    assert any("ahead-tool-ok" in t for r in fake_server.requests for t in r["tool_results"])
