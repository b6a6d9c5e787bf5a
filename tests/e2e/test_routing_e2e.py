"""Per-message routing through the real opencode binary: which model the fake server was asked for, turn by turn."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.fake_model_server import FakeModelServer
from scripts.opencode_sandbox import OpencodeSandbox, shim_plugin

# One model per tier, so the model name a request carries tells which tier served it.
MODELS = {
    "claude-opus-4-6": {"name": "Claude Opus 4.6"},  # reasoning
    "claude-sonnet-4": {"name": "Claude Sonnet 4"},  # coding
    "minimax-m2.7": {"name": "MiniMax M2.7"},  # quick
}
REASONING, CODING, QUICK = "claude-opus-4-6", "claude-sonnet-4", "minimax-m2.7"


@pytest.fixture
def routed(sandbox: OpencodeSandbox, tmp_path: Path) -> OpencodeSandbox:
    options = {"verbose": True, "logFile": str(tmp_path / "brain.log"), "llmClassifier": False}
    sandbox.configure(models=MODELS, model="auto", small_model=None, plugins=[shim_plugin(options)])
    return sandbox


def _main_requests(server: FakeModelServer) -> list[dict]:
    """Requests of the main agent (tools offered); title generation offers none."""
    return server.chat_requests(with_tools=True)


def _send(client, session: str, server: FakeModelServer, text: str, model: str | None = "kimchi/auto", agent=None):
    before = len(_main_requests(server))
    reply = client.send(session, text, model=model, agent=agent)
    assert reply["info"].get("error") is None, reply["info"]
    new = _main_requests(server)[before:]
    assert new, f"no model request for {text!r}"
    return new[0]


def test_auto_session_routes_each_message_to_its_tier(routed: OpencodeSandbox, fake_server: FakeModelServer) -> None:
    with routed.serve() as client:
        session = client.create_session()
        served = [
            _send(client, session, fake_server, text)["model"]
            for text in (
                "Plan the architecture for auth",
                "Now implement the auth module",
                "Debug the TypeError in the handler",
                "Fix it",
            )
        ]
    assert served == [REASONING, CODING, REASONING, CODING]


def test_tier_pick_concrete_pick_and_slash_commands(routed: OpencodeSandbox, fake_server: FakeModelServer) -> None:
    with routed.serve() as client:
        session = client.create_session()
        assert _send(client, session, fake_server, "add a retry to the http client")["model"] == CODING
        # A tier pick locks the tier's best model; a concrete pick after auto routing is honoured.
        assert _send(client, session, fake_server, "add a button", model="kimchi/reasoning")["model"] == REASONING
        assert _send(client, session, fake_server, "add a button", model=f"kimchi/{QUICK}")["model"] == QUICK
        # /debug: one message only, and the model does not see the command word.
        debug = _send(client, session, fake_server, "/debug add a button to the form")
        assert debug["model"] == REASONING
        assert debug["last_user"].strip() == "add a button to the form"
        assert _send(client, session, fake_server, "add a button to the form")["model"] == CODING
        # /lock holds until /auto.
        assert _send(client, session, fake_server, "/lock reasoning add a docstring")["model"] == REASONING
        assert _send(client, session, fake_server, "rename foo to bar in utils.py")["model"] == REASONING
        assert _send(client, session, fake_server, "/auto rename foo to bar in utils.py")["model"] == CODING


def test_explore_subagent_runs_on_the_quick_tier(routed: OpencodeSandbox, fake_server: FakeModelServer) -> None:
    task = {"description": "find config", "subagent_type": "explore", "prompt": "Where is the config file?"}
    call = "CALL_TOOL:task:" + json.dumps(task, separators=(",", ":")).replace(" ", "\\u0020")
    with routed.serve() as client:
        session = client.create_session()
        client.send(session, call, model="kimchi/auto")
    subagent = [r for r in _main_requests(fake_server) if "Where is the config file?" in r["last_user"]]
    assert subagent, "the explore subagent made no model request"
    assert subagent[0]["model"] == QUICK
