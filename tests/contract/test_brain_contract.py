"""Wire contract v1 checked against the real brain process: handshake, every forwarded hook, errors that keep the
process serving, a stdout that carries frames only, and a clean exit."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.support.rpc_process import INIT_PARAMS, REPO_ROOT, RpcProcess

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "hooks"
TEST_ROUTES_BRAIN = REPO_ROOT / "tests" / "support" / "brain_with_test_routes.py"
FRAME_CAP = 16 * 1024 * 1024
FORWARDED_HOOKS = [
    "config",
    "chat.message",
    "chat.params",
    "experimental.chat.system.transform",
    "experimental.chat.messages.transform",
    "tool.execute.after",
    "tool.definition",
    "experimental.session.compacting",
]
NOTIFICATION_SILENCE_S = 0.5


def fixture_params(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())["params"]


HOOK_FIXTURE = {
    "config": "config",
    "chat.message": "chat.message--auto",
    "chat.params": "chat.params",
    "experimental.chat.system.transform": "experimental.chat.system.transform",
    "experimental.chat.messages.transform": "experimental.chat.messages.transform",
    "tool.execute.after": "tool.execute.after",
    "tool.definition": "tool.definition--task",
    "experimental.session.compacting": "experimental.session.compacting",
}


def assert_still_serving(brain: RpcProcess) -> None:
    """The next valid request after a bad one gets a normal answer."""
    assert brain.result("tool.definition", {"input": {"toolID": "read"}, "output": {}}) == {"output": {}}


# -- handshake and hooks ---------------------------------------------------------------------------------------


def test_initialize_result_fields(brain: RpcProcess) -> None:
    result = brain.result("initialize", INIT_PARAMS)
    assert result["protocolVersion"] == 1
    assert isinstance(result["serverVersion"], str) and result["serverVersion"]
    assert set(result["hooks"]) == set(FORWARDED_HOOKS)  # nothing the brain does nothing with
    assert "session.idle" in result["events"]
    assert result["tools"], "the brain offers its routing tools"
    for tool in result["tools"]:
        assert set(tool) == {"name", "description", "args"}
        assert tool["args"]["type"] == "object" and "properties" in tool["args"]


def test_initialize_lists_read_only_hooks_and_input_filters(brain: RpcProcess) -> None:
    result = brain.result("initialize", INIT_PARAMS)
    assert result["readOnly"] == ["chat.params", "experimental.chat.system.transform", "tool.definition"]
    assert set(result["readOnly"]) <= set(result["hooks"])
    assert result["filters"] == {"tool.definition": {"toolID": ["task"]}}


def test_without_the_orchestrator_tool_definitions_are_not_forwarded(brain: RpcProcess) -> None:
    for options in ({"orchestrator": False}, {"orchestrator": "false"}):  # answered early, then by the full server
        result = brain.result("initialize", {**INIT_PARAMS, "options": options})
        assert "tool.definition" not in result["hooks"] and result["filters"] == {}


def test_a_session_request_carries_answers_ahead_equal_to_the_requests(ready_brain: RpcProcess) -> None:
    ready_brain.result("config", fixture_params("config"))
    routed = ready_brain.result("chat.message", fixture_params("chat.message--auto"))
    model_id = routed["output"]["message"]["model"]["modelID"]
    entries: dict[str, dict] = {}
    for entry in routed["ahead"]:  # each hook's first entry: the routed turn's (OpenCode's own requests follow)
        entries.setdefault(entry["hook"], entry)
    params = fixture_params("chat.params")
    params["input"]["model"]["id"] = model_id
    assert entries["chat.params"]["when"] == {
        "sessionID": params["input"]["sessionID"],
        "model.providerID": "kimchi",
        "model.id": model_id,
        "agent": params["input"]["agent"],
    }
    assert entries["chat.params"]["output"] == ready_brain.result("chat.params", params)["output"]
    system = fixture_params("experimental.chat.system.transform")
    system["input"]["model"]["id"] = model_id
    asked = ready_brain.result("experimental.chat.system.transform", system)["output"]["system"]
    assert asked == [*system["output"]["system"], *entries["experimental.chat.system.transform"]["append"]["system"]]
    after = ready_brain.result("tool.execute.after", fixture_params("tool.execute.after"))
    assert {entry["hook"] for entry in after["ahead"]} == {"chat.params", "experimental.chat.system.transform"}
    assert "ahead" not in ready_brain.result("chat.params", params)


def test_initialize_answers_another_protocol_version_with_its_own_and_no_hooks(brain: RpcProcess) -> None:
    other = brain.result("initialize", {**INIT_PARAMS, "protocolVersion": 2})
    assert (other["protocolVersion"], other["hooks"], other["tools"]) == (1, [], [])
    assert brain.result("initialize", INIT_PARAMS)["protocolVersion"] == 1


def test_every_forwarded_hook_answers_with_a_patch(ready_brain: RpcProcess) -> None:
    for hook in FORWARDED_HOOKS:
        result = ready_brain.result(hook, fixture_params(HOOK_FIXTURE[hook]))
        assert isinstance(result.get("output"), dict), (hook, result)
        for action in result.get("actions", []):
            assert action["call"] in (
                "tui.showToast",
                "app.log",
                "session.summarize",
                "session.abort",
                "session.promptAsync",
            ), (hook, action)


def test_chat_message_routes_a_kimchi_message(ready_brain: RpcProcess) -> None:
    ready_brain.result("config", fixture_params("config"))
    result = ready_brain.result("chat.message", fixture_params("chat.message--auto"))
    model = result["output"]["message"]["model"]
    assert model["providerID"] == "kimchi"
    assert model["modelID"] in ("kimi-k2.5", "minimax-m2.7", "claude-sonnet-4")


def test_tool_execute_answers_with_output(ready_brain: RpcProcess) -> None:
    result = ready_brain.result(
        "tool.execute",
        {
            "name": "suggest_quick_mode",
            "args": {"reason": "a lookup"},
            "context": {"sessionID": "ses_1", "messageID": "m", "agent": "build"},
        },
    )
    assert isinstance(result["output"], str) and "Quick" in result["output"]


def test_event_notification_gets_no_reply(ready_brain: RpcProcess) -> None:
    ready_brain.notify("event", {"event": {"type": "session.idle", "properties": {"sessionID": "ses_1"}}})
    ready_brain.notify("event", {"event": {"type": "message.updated", "properties": {"info": {"role": "assistant"}}}})
    ready_brain.assert_silent(NOTIFICATION_SILENCE_S)
    assert_still_serving(ready_brain)


def test_shutdown_answers_empty_object(ready_brain: RpcProcess) -> None:
    assert ready_brain.result("shutdown", {}) == {}
    ready_brain.close_stdin()
    assert ready_brain.wait() == 0


def test_exit_code_zero_on_end_of_input(ready_brain: RpcProcess) -> None:
    ready_brain.close_stdin()
    assert ready_brain.wait() == 0


def test_exit_code_zero_on_end_of_input_before_initialize(brain: RpcProcess) -> None:
    brain.close_stdin()
    assert brain.wait() == 0


def test_in_flight_request_is_answered_before_exit(ready_brain: RpcProcess) -> None:
    ready_brain.send(
        {"jsonrpc": "2.0", "id": "last", "method": "chat.message", "params": fixture_params("chat.message--auto")}
    )
    ready_brain.close_stdin()
    assert ready_brain.read_frame()["id"] == "last"
    assert ready_brain.wait() == 0


# -- errors that must not stop the server ----------------------------------------------------------------------


def test_malformed_json(ready_brain: RpcProcess) -> None:
    ready_brain.send_raw(b'{"jsonrpc": "2.0", "id": 7, "method": \n')
    reply = ready_brain.read_frame()
    assert reply["error"]["code"] == -32700
    assert reply["id"] is None
    assert_still_serving(ready_brain)


@pytest.mark.parametrize("frame", [b"42", b'"hello"', b"null", b"true", b'{"id": 3}', b"[]"])
def test_non_request_json(ready_brain: RpcProcess, frame: bytes) -> None:
    ready_brain.send_raw(frame + b"\n")
    reply = ready_brain.read_frame()
    assert reply["error"]["code"] == -32600, reply
    assert_still_serving(ready_brain)


def test_request_without_jsonrpc_version_echoes_id(ready_brain: RpcProcess) -> None:
    ready_brain.send({"id": 11, "method": "chat.params", "params": {"input": None, "output": {}}})
    reply = ready_brain.read_frame()
    assert reply["error"]["code"] == -32600
    assert reply["id"] in (11, None)
    assert_still_serving(ready_brain)


def test_oversized_line_echoes_the_id(ready_brain: RpcProcess) -> None:
    head = b'{"jsonrpc":"2.0","id":99,"method":"chat.message","params":{"input":{},"output":{"pad":"'
    ready_brain.send_raw(head + b"x" * (FRAME_CAP + 1024) + b'"}}}\n')
    reply = ready_brain.read_frame(timeout=30)
    assert reply["error"]["code"] == -32600
    assert "exceeds" in reply["error"]["message"]
    assert reply["id"] == 99
    assert_still_serving(ready_brain)


def test_line_just_under_the_cap_is_served(ready_brain: RpcProcess) -> None:
    head = b'{"jsonrpc":"2.0","id":"big","method":"tool.definition","params":{"input":{},"output":{"pad":"'
    tail = b'"}}}'
    ready_brain.send_raw(head + b"y" * (FRAME_CAP - len(head) - len(tail) - 1) + tail + b"\n")
    reply = ready_brain.read_frame(timeout=30)
    assert reply == {"jsonrpc": "2.0", "result": {"output": {}}, "id": "big"}


def test_unknown_method(ready_brain: RpcProcess) -> None:
    reply = ready_brain.request("chat.nonexistent", {}, rpc_id="u-1")
    assert reply["error"]["code"] == -32601
    assert reply["id"] == "u-1"
    assert_still_serving(ready_brain)


@pytest.mark.parametrize(
    ("method", "params", "mentions"),
    [
        ("initialize", {"options": {}}, "protocolVersion"),
        ("initialize", {"protocolVersion": "one"}, "protocolVersion"),
        ("tool.execute", {"args": {}}, "name"),
        ("event", [1, 2], "object"),
        ("chat.message", {"input": {}, "output": "not an object"}, "output"),
    ],
)
def test_wrong_params(ready_brain: RpcProcess, method: str, params: object, mentions: str) -> None:
    reply = ready_brain.request(method, params, rpc_id=5)
    assert reply["id"] == 5
    assert reply["error"]["code"] == -32602
    message = reply["error"]["message"] + json.dumps(reply["error"].get("data", ""))
    assert mentions in message, reply
    assert "Traceback" not in message
    assert_still_serving(ready_brain)


def test_wrong_params_for_a_notification_get_no_reply(ready_brain: RpcProcess) -> None:
    ready_brain.notify("event", {"not_event": 1})
    ready_brain.assert_silent(NOTIFICATION_SILENCE_S)
    assert_still_serving(ready_brain)


def test_batch_with_a_bad_item(ready_brain: RpcProcess) -> None:
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "tool.definition", "params": {"input": {}, "output": {}}},
        {"jsonrpc": "2.0", "id": 2, "method": "no.such.method"},
        42,
        {"jsonrpc": "2.0", "method": "event", "params": {"event": {"type": "session.idle"}}},
        {"jsonrpc": "2.0", "id": 3, "method": "tool.execute", "params": {"args": {}}},
    ]
    ready_brain.send(batch)
    replies = ready_brain.read_frame()
    assert isinstance(replies, list)
    by_id = {r.get("id"): r for r in replies if r.get("id") is not None}
    assert by_id[1]["result"] == {"output": {}}
    assert by_id[2]["error"]["code"] == -32601
    assert by_id[3]["error"]["code"] == -32602
    assert [r["error"]["code"] for r in replies if r.get("id") is None] == [-32600]
    assert len(replies) == 4, "the notification gets no reply"
    assert_still_serving(ready_brain)


def test_invalid_utf8(ready_brain: RpcProcess) -> None:
    ready_brain.send_raw(b'{"jsonrpc":"2.0","id":8,"method":"chat.params","params":{"input":"\xff\xfe"}}\n')
    reply = ready_brain.read_frame()
    assert reply["error"]["code"] == -32700
    assert "UTF-8" in reply["error"]["message"]
    assert reply["id"] == 8
    assert_still_serving(ready_brain)


def test_blank_lines_are_ignored(ready_brain: RpcProcess) -> None:
    ready_brain.send_raw(b"\n   \n\r\n")
    ready_brain.assert_silent(NOTIFICATION_SILENCE_S)
    assert_still_serving(ready_brain)


def test_many_concurrent_requests_all_answered(ready_brain: RpcProcess) -> None:
    ids = list(range(100, 160))
    for rpc_id in ids:
        ready_brain.send(
            {"jsonrpc": "2.0", "id": rpc_id, "method": "tool.definition", "params": {"input": {}, "output": {}}}
        )
    seen = {ready_brain.read_frame()["id"] for _ in ids}
    assert seen == set(ids)


# -- stdout hygiene and secrets --------------------------------------------------------------------------------


@pytest.fixture
def test_routes_brain(isolated_env: dict[str, str]):
    with RpcProcess([sys.executable, str(TEST_ROUTES_BRAIN)], env=isolated_env) as proc:
        proc.result("initialize", INIT_PARAMS)
        yield proc


def test_prints_inside_the_brain_never_reach_stdout(test_routes_brain: RpcProcess) -> None:
    assert test_routes_brain.result("test.print", {}) == {"printed": 3}
    assert_still_serving(test_routes_brain)
    test_routes_brain.close_stdin()
    assert test_routes_brain.wait() == 0
    for line in test_routes_brain.raw_stdout:
        frame = json.loads(line)
        assert frame["jsonrpc"] == "2.0", line
    stderr = test_routes_brain.stderr
    for text in ("stray print from a handler", "stray sys.stdout write", "stray write to fd 1"):
        assert text in stderr


def test_internal_error_hides_message_and_traceback(test_routes_brain: RpcProcess) -> None:
    from tests.support.brain_with_test_routes import SECRET

    test_routes_brain.result(
        "config", {"input": None, "output": {"provider": {"kimchi": {"options": {"apiKey": SECRET}}}}}
    )
    reply = test_routes_brain.request("test.fail", {}, rpc_id="f-1")
    assert reply == {"jsonrpc": "2.0", "error": {"code": -32603, "message": "Internal error"}, "id": "f-1"}
    assert_still_serving(test_routes_brain)
    test_routes_brain.close_stdin()
    test_routes_brain.wait()
    stdout = b"".join(test_routes_brain.raw_stdout).decode()
    assert SECRET not in stdout and "Traceback" not in stdout
    assert "RuntimeError" in test_routes_brain.stderr, "the log keeps the details"
    assert SECRET not in test_routes_brain.stderr, "the registered key is redacted from the log"


def test_api_key_never_echoed_by_the_config_hook(ready_brain: RpcProcess) -> None:
    key = "sk-config-secret-abcdef123456"
    params = fixture_params("config")
    params["output"]["provider"]["kimchi"]["options"]["apiKey"] = key
    params["output"]["provider"]["kimchi"]["options"]["baseURL"] = "http://127.0.0.1:9/v1"  # refused at once
    result = ready_brain.result("config", params, timeout=30)
    assert key not in json.dumps(result)
    ready_brain.close_stdin()
    ready_brain.wait()
    assert key not in ready_brain.stderr


def test_log_file_option_gets_the_log(brain: RpcProcess, tmp_path: Path) -> None:
    log_file = tmp_path / "brain.log"
    brain.result("initialize", {**INIT_PARAMS, "options": {"logFile": str(log_file), "verbose": True}})
    brain.result("tool.definition", {"input": {}, "output": {}})
    brain.close_stdin()
    assert brain.wait() == 0
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert any(line.get("event") == "hook" and line.get("method") == "tool.definition" for line in lines)
