"""Whole responses of the brain to recorded OpenCode hook payloads (tests/fixtures/hooks), fed through the same
dispatcher as on the wire. A fixed clock, no API key and a private cache directory keep them deterministic and
offline; review a changed snapshot as a user would see the change (`pytest --snapshot-update`, then `git diff`)."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from kimchi_plugin.app import plugin_services
from kimchi_plugin.brain import Brain
from kimchi_plugin.opencode.routes import build_routes
from kimchi_plugin.rpc.dispatch import build_dispatcher

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hooks"
NOW = 1_795_627_350.0  # the recorded session's wall clock (2026-11-25)
INIT = {"protocolVersion": 1, "options": {}, "directory": "/tmp/oc-e2e/r-ref/project", "worktree": "/"}


def load(name: str) -> tuple[str, dict]:
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    return data["method"], data["params"]


class Wire:
    """The brain's dispatcher with the plugin's services: call(method, params) → the decoded response frame."""

    def __init__(self, tmp_path: Path) -> None:
        env = {"HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(tmp_path / "cache")}  # no key, empty cache
        brain = Brain(plugin_services(env=env, clock=lambda: NOW, log_file=str(tmp_path / "brain.log")))
        brain.tokens.wait_until_loaded()
        self.dispatch = build_dispatcher(build_routes(brain))
        self.loop = asyncio.new_event_loop()
        self.next_id = 1

    def call(self, method: str, params: dict) -> dict:
        frame = json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        self.next_id += 1
        return json.loads(self.loop.run_until_complete(self.dispatch(frame)))

    def fixture(self, name: str, edit: Callable[[dict], None] | None = None) -> dict:
        method, params = load(name)
        if edit is not None:
            edit(params)
        return self.call(method, params)


@pytest.fixture
def wire(tmp_path: Path) -> Iterator[Wire]:
    w = Wire(tmp_path)
    assert "result" in w.call("initialize", INIT)
    yield w
    w.loop.close()


@pytest.fixture
def configured(wire: Wire) -> Wire:
    assert "result" in wire.fixture("config")
    return wire


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def routed_to(model_id: str) -> Callable[[dict], None]:
    """OpenCode sends later hooks of the turn with the model chat.message chose."""

    def edit(params: dict) -> None:
        model = params["input"]["model"]
        model["id"] = model["api"]["id"] = model_id

    return edit


def test_initialize(wire: Wire, snapshot_json) -> None:
    assert wire.call("initialize", INIT) == snapshot_json


def test_config(wire: Wire, snapshot_json) -> None:
    assert wire.fixture("config") == snapshot_json


@pytest.mark.parametrize("variant", ["auto", "tier", "concrete", "slash"])
def test_chat_message(configured: Wire, snapshot_json, variant: str) -> None:
    assert configured.fixture(f"chat.message--{variant}") == snapshot_json


def test_chat_params_for_the_title_agent_is_untouched(configured: Wire, snapshot_json) -> None:
    configured.fixture("chat.message--auto")
    assert configured.fixture("chat.params--title") == snapshot_json


def test_tool_definition_task(configured: Wire, snapshot_json) -> None:
    assert configured.fixture("tool.definition--task") == snapshot_json


def test_tool_execute_before_is_not_a_method(configured: Wire) -> None:
    """The brain does nothing before a tool runs: the hook is not offered, so the shim never pays a round trip."""
    assert "tool.execute.before" not in configured.call("initialize", INIT)["result"]["hooks"]
    assert configured.fixture("tool.execute.before")["error"]["code"] == -32601


def test_compacting_of_an_unknown_session(configured: Wire, snapshot_json) -> None:
    assert configured.fixture("experimental.session.compacting") == snapshot_json


def test_one_turn(configured: Wire, snapshot_json) -> None:
    """The hooks of one recorded turn in the order OpenCode fires them."""
    routed = configured.fixture("chat.message--auto")
    model_id = routed["result"]["output"]["message"]["model"]["modelID"]

    def transcript_on(model: str) -> Callable[[dict], None]:
        def edit(params: dict) -> None:
            for message in params["output"]["messages"]:
                if message["info"].get("role") == "user":
                    message["info"]["model"]["modelID"] = model
                else:
                    message["info"]["modelID"] = model

        return edit

    turn = {
        "chat.message": routed,
        "experimental.chat.messages.transform": configured.fixture(
            "experimental.chat.messages.transform", transcript_on(model_id)
        ),
        "experimental.chat.system.transform": configured.fixture(
            "experimental.chat.system.transform", routed_to(model_id)
        ),
        "chat.params": configured.fixture("chat.params", routed_to(model_id)),
        "tool.execute.after": configured.fixture("tool.execute.after"),
        "experimental.session.compacting": configured.fixture("experimental.session.compacting"),
    }
    assert turn == snapshot_json


def test_slash_command_then_follow_up(configured: Wire, snapshot_json) -> None:
    """A /debug message, then a plain follow-up in the same session."""

    def follow_up(params: dict) -> None:
        params["output"]["parts"][0]["text"] = "ok, now fix it and add a regression test"

    first = configured.fixture("chat.message--slash")
    second = configured.fixture("chat.message--auto", follow_up)
    assert {"first": first, "follow_up": second} == snapshot_json


def test_fixtures_are_unchanged_by_the_brain(configured: Wire) -> None:
    """The brain answers with patches; the params it was given are not echoed back whole."""
    handled = set(configured.call("initialize", INIT)["result"]["hooks"])
    for path in sorted(FIXTURES.glob("*.json")):
        method, params = load(path.stem)
        if method not in handled:
            continue
        before = copy.deepcopy(params)
        reply = configured.call(method, params)
        assert "result" in reply, (path.name, reply)
        assert params == before
        if method == "config":
            assert "Kimchi (fake)" not in json.dumps(reply["result"]), (
                "the user's own provider settings are kept, not echoed"
            )
