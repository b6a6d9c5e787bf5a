"""The brain's log reads as a story of decisions: one `decision` line per routed message (session, message id, the
deciding step and the signals in words; the message's first words only with `verbose`), and the per-step hook calls
(13 tool definitions per step, params, transforms) only at `KIMCHI_LOG_LEVEL=trace`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.rpc_process import INIT_PARAMS, REPO_ROOT, RpcProcess

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "hooks"
MESSAGE = "Why does the login test fail with a KeyError?"


def _params(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())["params"]


def _session(env: dict[str, str], tmp_path: Path, verbose: bool) -> list[dict]:
    log_file = tmp_path / "brain.log"
    with RpcProcess(env=env) as brain:
        brain.result("initialize", {**INIT_PARAMS, "options": {"logFile": str(log_file), "verbose": verbose}})
        brain.result("config", _params("config"), timeout=30)
        message = _params("chat.message--auto")
        message["output"]["parts"] = [{"type": "text", "text": MESSAGE}]
        brain.result("chat.message", message)
        brain.result("tool.definition", {"input": {"toolID": "bash"}, "output": {}})
        brain.close_stdin()
        assert brain.wait() == 0
    return [json.loads(line) for line in log_file.read_text().splitlines()]


@pytest.mark.parametrize("verbose", [False, True])
def test_one_readable_decision_line_and_no_per_step_hooks_below_trace(
    isolated_env: dict[str, str], tmp_path: Path, verbose: bool
) -> None:
    env = {**isolated_env, "KIMCHI_LOG_LEVEL": "debug" if verbose else ""}
    lines = _session(env, tmp_path, verbose)
    decisions = [line for line in lines if line.get("event") == "decision"]
    assert len(decisions) == 1
    decision = decisions[0]
    assert decision["session"] and decision["message"] and decision["step"] == "the classifier"
    assert "debugging: something fails" in decision["signals"]
    assert (decision["excerpt"] == MESSAGE) if verbose else decision["excerpt"] is None
    assert not any(line.get("method") == "tool.definition" for line in lines)


def test_trace_logs_every_hook_call(isolated_env: dict[str, str], tmp_path: Path) -> None:
    lines = _session({**isolated_env, "KIMCHI_LOG_LEVEL": "trace"}, tmp_path, True)
    assert any(line.get("event") == "hook" and line.get("method") == "tool.definition" for line in lines)
