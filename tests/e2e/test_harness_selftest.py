"""Proves the e2e harness itself against the real opencode binary, with a throw-away plugin and no project code.

Also pins down how OpenCode 1.18.33 reports model failures (exit code, error event shape, retries): the fallback
feature depends on these facts.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from scripts.fake_model_server import FakeModelServer, served_by
from scripts.opencode_sandbox import OpencodeSandbox, message_text, plugin_entry

REQUESTED = "kimi-k2.5"
ROUTED = "minimax-m2.7"
# OpenCode 1.18.33 retries a retryable API error 5 times (6 attempts), then fails the turn.
ATTEMPTS_ON_RETRYABLE_ERROR = 6

# A minimal plugin: rewrites the model in chat.message and traces each call with the process uptime.
SELFTEST_PLUGIN = """\
import { appendFileSync } from "node:fs";

export default {
  id: "e2e-selftest",
  server: async (input, options) => {
    const trace = (hook, extra) =>
      appendFileSync(options.traceFile,
        JSON.stringify({ hook, uptime_ms: Math.round(process.uptime() * 1000), ...extra }) + "\\n");
    trace("factory", { worktree: input.worktree, projectID: input.project?.id });
    return {
      "chat.message": async (input, output) => {
        trace("chat.message", { requested: input.model ?? null, resolved: output.message.model });
        if (options.routeTo) output.message.model = { providerID: "kimchi", modelID: options.routeTo };
      },
    };
  },
};
"""


@pytest.fixture
def trace_file(tmp_path: Path) -> Path:
    return tmp_path / "plugin-trace.jsonl"


@pytest.fixture
def routed_sandbox(sandbox: OpencodeSandbox, tmp_path: Path, trace_file: Path) -> OpencodeSandbox:
    """The sandbox with the throw-away plugin routing every message to ROUTED."""
    plugin = tmp_path / "selftest-plugin.js"
    plugin.write_text(SELFTEST_PLUGIN)
    sandbox.configure(plugins=[plugin_entry(plugin, {"routeTo": ROUTED, "traceFile": str(trace_file)})])
    return sandbox


def _trace(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _main_requests(server: FakeModelServer) -> list[dict]:
    """Requests of the agent turn (they offer tools; the title request does not)."""
    return server.chat_requests(with_tools=True)


def test_plugin_rewrite_reaches_the_model_server(
    routed_sandbox: OpencodeSandbox, trace_file: Path, fake_server: FakeModelServer
):
    result = routed_sandbox.run("hello", "there", model=f"kimchi/{REQUESTED}")

    assert result.rc == 0, result.stderr
    assert result.text == served_by(ROUTED)
    main = _main_requests(fake_server)
    assert [r["model"] for r in main] == [ROUTED]
    assert main[0]["last_user"] == "hello there"  # words passed as separate argv items arrive unquoted
    assert main[0]["headers"]["Authorization"] == "<redacted>"
    assert main[0]["system"]  # OpenCode's own system prompt is recorded in full
    titles = fake_server.chat_requests(with_tools=False)
    assert titles and {r["model"] for r in titles} == {REQUESTED}  # small_model keeps title generation local
    hooks = _trace(trace_file)
    assert [h["hook"] for h in hooks] == ["factory", "chat.message"]
    assert (hooks[0]["worktree"], hooks[0]["projectID"]) == ("/", "global")  # not a git repository
    assert hooks[1]["requested"] == {"providerID": "kimchi", "modelID": REQUESTED}
    assert result.leftover_pids == []


def test_git_project_is_its_own_worktree(make_sandbox, tmp_path: Path, trace_file: Path):
    plugin = tmp_path / "selftest-plugin.js"
    plugin.write_text(SELFTEST_PLUGIN)
    sandbox = make_sandbox(git=True)
    sandbox.configure(plugins=[plugin_entry(plugin, {"traceFile": str(trace_file)})])

    assert sandbox.run("hello").rc == 0
    factory = _trace(trace_file)[0]
    assert factory["worktree"] == str(sandbox.project)
    assert factory["projectID"] not in (None, "global")  # the root commit's sha


def test_continue_reuses_the_session(sandbox: OpencodeSandbox, fake_server: FakeModelServer):
    first = sandbox.run("first")
    second = sandbox.run("second", continue_=True)

    assert (first.rc, second.rc) == (0, 0)
    assert first.text == second.text == served_by(REQUESTED)
    assert {e["sessionID"] for e in first.events} == {e["sessionID"] for e in second.events}
    turns = _main_requests(fake_server)
    assert [r["last_user"] for r in turns] == ["first", "second"]
    assert turns[1]["n_messages"] > turns[0]["n_messages"]


def test_scripted_tool_call_round_trip(sandbox: OpencodeSandbox, fake_server: FakeModelServer):
    args = json.dumps({"command": "echo harness-tool-ok", "description": "echo"}).replace(" ", "\\u0020")
    result = sandbox.run("run", f"CALL_TOOL:bash:{args}")

    assert result.rc == 0, result.stderr
    assert result.events_of("tool_use"), result.stdout
    follow_up = _main_requests(fake_server)[-1]
    assert follow_up["tool_results_present"]
    assert any("harness-tool-ok" in text for text in follow_up["tool_results"])
    assert result.text.endswith(served_by(REQUESTED))


def test_reported_usage_reaches_opencode(sandbox: OpencodeSandbox, fake_server: FakeModelServer):
    fake_server.set_usage(REQUESTED, prompt_tokens=123_456)
    result = sandbox.run("count", "me")

    assert result.rc == 0, result.stderr
    finish = result.events_of("step_finish")[-1]["part"]
    assert finish["tokens"]["input"] == 123_456


def test_usage_can_scale_with_request_size(sandbox: OpencodeSandbox, fake_server: FakeModelServer):
    fake_server.set_usage("*", per_char=3)
    result = sandbox.run("scale")

    assert result.rc == 0, result.stderr
    main = _main_requests(fake_server)[-1]
    assert main["prompt_tokens"] == 3 * main["n_chars"] > 10_000  # OpenCode's system prompt alone is ~10 kB
    assert result.events_of("step_finish")[-1]["part"]["tokens"]["input"] == main["prompt_tokens"]


def test_non_retryable_error_fails_the_run_at_once(routed_sandbox: OpencodeSandbox, fake_server: FakeModelServer):
    fake_server.fail(ROUTED, 401)
    result = routed_sandbox.run("hello", model=f"kimchi/{REQUESTED}")

    assert result.rc == 1
    (error,) = result.events_of("error")
    assert error["error"]["name"] == "APIError"
    data = error["error"]["data"]
    assert (data["statusCode"], data["isRetryable"]) == (401, False)
    assert data["message"] == f"injected failure 401 for {ROUTED}"
    assert "rate_limit_error" not in data["responseBody"] and "authentication_error" in data["responseBody"]
    assert len(_main_requests(fake_server)) == 1


def test_transient_error_is_retried_by_opencode(routed_sandbox: OpencodeSandbox, fake_server: FakeModelServer):
    fake_server.fail(ROUTED, 500, times=1, retry_after=0)
    result = routed_sandbox.run("hello", model=f"kimchi/{REQUESTED}")

    assert result.rc == 0, result.stdout
    assert result.text == served_by(ROUTED)
    assert [r["status"] for r in _main_requests(fake_server)] == [500, 200]


@pytest.mark.parametrize("status", [429, 503])
def test_persistent_retryable_error_fails_after_retries(
    routed_sandbox: OpencodeSandbox, trace_file: Path, fake_server: FakeModelServer, status: int
):
    fake_server.fail(ROUTED, status, retry_after=0.1)  # retry-after keeps OpenCode's backoff (2 s, 4 s, ...) short
    result = routed_sandbox.run("hello", model=f"kimchi/{REQUESTED}")

    assert result.rc == 1
    (error,) = result.events_of("error")
    assert error["error"]["data"]["statusCode"] == status
    assert error["error"]["data"]["isRetryable"] is True
    assert len(_main_requests(fake_server)) == ATTEMPTS_ON_RETRYABLE_ERROR
    assert [h["hook"] for h in _trace(trace_file)].count("chat.message") == 1  # retries do not re-route


def test_serve_round_trip(routed_sandbox: OpencodeSandbox, trace_file: Path, fake_server: FakeModelServer):
    with routed_sandbox.serve() as client:
        assert client.health() == {"healthy": True, "version": "1.18.33"}
        session = client.create_session()
        with client.events() as events:
            reply = client.send(session, "hello over http", model=f"kimchi/{REQUESTED}")
            events.wait_for(
                lambda e: e["type"] == "session.idle" and e["properties"].get("sessionID") == session, timeout=10
            )
        assert reply["info"]["modelID"] == ROUTED
        assert message_text(reply) == served_by(ROUTED)

        second = client.send(session, "no model this time")
        assert second["info"]["modelID"] == ROUTED
        roles = [m["info"]["role"] for m in client.messages(session)]
        assert roles == ["user", "assistant", "user", "assistant"]

        before = len(fake_server.requests)
        assert client.summarize(session, f"kimchi/{REQUESTED}") is True
        assert len(fake_server.requests) > before  # compaction asked the model for a summary

    requested = [h["requested"] for h in _trace(trace_file) if h["hook"] == "chat.message"]
    # the session remembers the model asked for, not the routed one: the router sees it on every turn
    assert requested == [{"providerID": "kimchi", "modelID": REQUESTED}, None]
    assert [r["model"] for r in _main_requests(fake_server)][:2] == [ROUTED, ROUTED]


def test_serve_reports_model_errors(routed_sandbox: OpencodeSandbox, fake_server: FakeModelServer):
    fake_server.fail(ROUTED, 401)
    with routed_sandbox.serve() as client:
        session = client.create_session()
        with client.events() as events:
            reply = client.send(session, "this fails", model=f"kimchi/{REQUESTED}")
            error = events.wait_for(lambda e: e["type"] == "session.error", timeout=10)
    assert error["properties"]["sessionID"] == session
    assert error["properties"]["error"]["name"] == "APIError"
    assert error["properties"]["error"]["data"]["statusCode"] == 401
    # the blocking message call answers 200 with the error on the assistant message and no parts
    assert reply["info"]["error"]["data"]["statusCode"] == 401
    assert reply["parts"] == []


def test_control_endpoint_scripts_a_running_server(fake_server: FakeModelServer):
    def post(path: str, body: dict) -> tuple[int, dict]:
        req = urllib.request.Request(
            fake_server.url + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    state = post("/__control", {"action": "fail", "model": "m", "status": 503, "times": 2})[1]
    assert state["behaviour"]["failures"]["m"]["remaining"] == 2
    chat = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    statuses = [post("/v1/chat/completions", chat)[0] for _ in range(3)]
    assert statuses == [503, 503, 200]
    body = post("/v1/chat/completions", chat)[1]
    assert body["choices"][0]["message"]["content"] == served_by("m")
    assert body["usage"]["prompt_tokens"] > 0

    post("/__control", {"action": "delay", "model": "m", "seconds": 0.3})
    post("/__control", {"action": "reply", "text": "scripted words"})
    started = time.monotonic()
    body = post("/v1/chat/completions", chat)[1]
    assert time.monotonic() - started >= 0.3
    assert body["choices"][0]["message"]["content"] == "scripted words"

    post("/__control", {"action": "reset"})
    assert fake_server.requests == [] and fake_server.state()["behaviour"]["delays"] == {}
    assert post("/__control", {"action": "nope"})[0] == 400
