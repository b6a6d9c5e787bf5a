"""Telemetry, cost tracking and the savings report through the real opencode binary.

A scripted session in a git project (plain turns under `kimchi/auto`, a bash `git commit`, a `write` creating a
file, the `kimchi_usage` tool) runs with telemetry on; a real OTLP/HTTP receiver decodes what the brain sent, and
`kimchi-plugin stats` reads the database the session wrote. Every expected number is computed here by hand from
what the fake model server reported (prompt tokens per request, 7 completion tokens) and the registry's prices
in `kimchi_plugin/data/models.json`. Telemetry off → the receiver sees no connection at all.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import sqlite3
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from scripts.fake_model_server import COMPLETION_TOKENS, FakeModelServer
from scripts.opencode_sandbox import FAKE_API_KEY, OpencodeSandbox, RunResult, shim_plugin
from tests.support.otlp_receiver import LOGS_PATH, METRICS_PATH, OtlpReceiver

REPO_ROOT = Path(__file__).resolve().parents[2]
# One model per tier: the model a request carries tells the tier that served it.
REASONING, CODING, QUICK = "claude-opus-4-6", "claude-sonnet-4", "minimax-m2.7"
MODELS = {REASONING: {"name": "Claude Opus 4.6"}, CODING: {"name": "Claude Sonnet 4"}, QUICK: {"name": "MiniMax M2.7"}}
TIER_OF = {REASONING: "reasoning", CODING: "coding", QUICK: "quick"}
OTLP_TOKEN = "otlp-secret-token-5c1e"
GIT_IDENT = "-c user.name=e2e -c user.email=e2e@example.invalid -c commit.gpgsign=false"
COMMIT_COMMAND = f"printf 'notes\\n' > notes.txt && git add notes.txt && git {GIT_IDENT} commit -m add-notes"
WRITTEN_FILE = "src/app.py"
WRITTEN_CONTENT = "def main():\n    return 1\n\n\nprint(main())\n"
WRITTEN_LINES = 5
PROMPTS = ("Plan the architecture for the auth module", "Now implement the auth module")
USD_ABS = 1e-12
CLI_TIMEOUT_S = 60
IDLE_FLUSH_WAIT_S = 10.0  # well under the 30 s periodic flush


def _tool_call(tool: str, args: dict[str, Any]) -> str:
    """`CALL_TOOL:` text the fake server turns into a tool call (no spaces: JSON's \\u0020 instead)."""
    return f"CALL_TOOL:{tool}:" + json.dumps(args, separators=(",", ":")).replace(" ", "\\u0020")


def _registry_prices() -> dict[str, dict[str, float]]:
    """USD per 1M tokens of our three models, read straight from the bundled registry data."""
    doc = json.loads((REPO_ROOT / "kimchi_plugin" / "data" / "models.json").read_text())
    prices = {}
    for family in doc["families"]:
        for model in MODELS:
            if model in family["ids"]:
                prices[model] = family["cost"]
    assert set(prices) == set(MODELS)
    return prices


PRICES = _registry_prices()


def _cost(model: str, prompt: int, completion: int) -> float:
    price = PRICES[model]
    return (prompt * price["input"] + completion * price["output"]) / 1_000_000


def _configure(sandbox: OpencodeSandbox, tmp_path: Path, **options: Any) -> None:
    base = {"verbose": True, "logFile": str(tmp_path / f"brain-{sandbox.root.name}.log"), "llmClassifier": False}
    sandbox.configure(models=MODELS, model="auto", small_model=None, plugins=[shim_plugin({**base, **options})])


def _db_path(sandbox: OpencodeSandbox) -> Path:
    return Path(sandbox.env["XDG_DATA_HOME"]) / "opencode-kimchi" / "usage.db"


def _turn(sandbox: OpencodeSandbox, text: str, session: str | None) -> RunResult:
    result = sandbox.run(text, model="kimchi/auto", session=session)
    assert result.rc == 0, result.stderr[-3000:]
    assert result.leftover_pids == [], "the brain outlived opencode run"
    return result


def _tool_state(result: RunResult, tool: str) -> dict[str, Any]:
    uses = [e["part"] for e in result.events_of("tool_use") if e["part"].get("tool") == tool]
    assert len(uses) == 1, f"expected one {tool} call, saw {[e.get('type') for e in result.events]}"
    assert uses[0]["state"]["status"] == "completed", uses[0]["state"]
    return uses[0]["state"]


def _scripted_session(sandbox: OpencodeSandbox, server: FakeModelServer) -> dict[str, Any]:
    """Five `opencode run` turns of one session; returns the session id, the usage tool's output and the model
    requests (with tools offered: one per assistant message) made before the usage turn."""
    first = _turn(sandbox, PROMPTS[0], None)
    session = first.events[0]["sessionID"]
    _turn(sandbox, PROMPTS[1], session)
    commit = _tool_state(
        _turn(sandbox, _tool_call("bash", {"command": COMMIT_COMMAND, "description": "commit"}), session), "bash"
    )
    assert commit["metadata"].get("exit") == 0, commit
    write = _tool_call("write", {"filePath": str(sandbox.project / WRITTEN_FILE), "content": WRITTEN_CONTENT})
    _tool_state(_turn(sandbox, write, session), "write")
    before_usage = server.chat_requests(with_tools=True)
    usage = _tool_state(_turn(sandbox, "CALL_TOOL:kimchi_usage:{}", session), "kimchi_usage")
    log = subprocess.run(["git", "log", "--format=%s"], cwd=sandbox.project, capture_output=True, text=True, check=True)
    assert log.stdout.split() == ["add-notes", "init"]
    assert (sandbox.project / WRITTEN_FILE).read_text() == WRITTEN_CONTENT
    return {"session": session, "usage_output": usage["output"], "before_usage": before_usage}


def _expected_messages(server: FakeModelServer) -> list[dict[str, Any]]:
    """One assistant message per main-agent request (title generation offers no tools and makes no message)."""
    out = []
    for request in server.chat_requests(with_tools=True):
        assert request["status"] == 200
        prompt = request["prompt_tokens"]
        out.append(
            {
                "model": request["model"],
                "input": prompt,
                "output": COMPLETION_TOKENS,
                "cost": _cost(request["model"], prompt, COMPLETION_TOKENS),
            }
        )
    return out


def _session_totals(receiver: OtlpReceiver) -> dict[tuple, float]:
    """Session totals of cumulative series exported by several processes: each `opencode run` is a new brain whose
    series start anew (a new start time), so a total is the sum over start times of each segment's last value."""
    segments: dict[tuple, dict[int, float]] = defaultdict(dict)
    for point in receiver.metric_points():
        assert point["temporality"] == 2 and point["monotonic"], point  # cumulative, monotonic sums
        assert point["start"] <= point["time"], point
        key = (point["name"], tuple(sorted(point["attrs"].items())))
        previous = segments[key].get(point["start"])
        assert previous is None or point["value"] >= previous, f"cumulative series went down: {point}"
        segments[key][point["start"]] = point["value"]
    return {key: sum(by_start.values()) for key, by_start in segments.items()}


def _check_telemetry(
    receiver: OtlpReceiver, server: FakeModelServer, session: str, secrets: tuple[str, ...], wrote: bool = True
) -> None:
    expected = _expected_messages(server)
    records = receiver.log_records()
    # One log record per completed assistant message, in order, with what the server reported.
    assert [(r["attrs"]["model"], r["attrs"]["input_tokens"], r["attrs"]["output_tokens"]) for r in records] == [
        (m["model"], m["input"], m["output"]) for m in expected
    ]
    for record, message in zip(records, expected):
        attrs = record["attrs"]
        assert record["event"] == "api_request" and record["severity_text"] == "INFO"
        assert record["resource"]["service.name"] == "opencode"
        assert attrs["session.id"] == session
        assert attrs["provider"] == "kimchi"
        assert attrs["cache_read_tokens"] == 0 and attrs["cache_creation_tokens"] == 0
        assert math.isclose(attrs["cost_usd"], message["cost"], abs_tol=USD_ABS)
        assert isinstance(attrs["duration_ms"], int) and attrs["duration_ms"] >= 0
        assert attrs["tier"] == TIER_OF[attrs["model"]]
        assert attrs["routing.source"] not in ("", "unrouted") and attrs["profile"] not in ("", "unrouted")
        assert attrs["finish"] in ("stop", "tool-calls")
        assert record["time"] > 0
    # Cumulative metrics: tokens and cost by model, the commit, the lines written, the edit decision.
    totals = _session_totals(receiver)
    want: dict[tuple, float] = defaultdict(float)
    for message in expected:
        model = message["model"]
        want[("claude_code.token.usage", (("model", model), ("session.id", session), ("type", "input")))] += message[
            "input"
        ]
        want[("claude_code.token.usage", (("model", model), ("session.id", session), ("type", "output")))] += message[
            "output"
        ]
        want[("claude_code.cost.usage", (("model", model), ("session.id", session)))] += message["cost"]
    want[("claude_code.commit.count", (("session.id", session),))] = 1
    if wrote:
        want[("claude_code.lines_of_code.count", (("session.id", session), ("type", "added")))] = WRITTEN_LINES
        want[
            (
                "claude_code.code_edit_tool.decision",
                (("decision", "accept"), ("language", "Python"), ("session.id", session), ("tool_name", "Write")),
            )
        ] = 1
    assert set(totals) == set(want)
    for key, value in want.items():
        assert math.isclose(totals[key], value, abs_tol=USD_ABS), (key, totals[key], value)
    # Never prompts, file contents, the model API key or the OTLP credentials.
    for item in receiver.received:
        assert item.headers.get("Content-Type") == "application/x-protobuf"
        for forbidden in (*secrets, FAKE_API_KEY, *PROMPTS, "def main", "notes.txt", "add-notes"):
            assert forbidden.encode() not in item.body, f"{forbidden!r} sent in a {item.path} payload"


def _print_samples(receiver: OtlpReceiver) -> None:
    """Decoded payloads for the record (visible with -s): one log record and the last metrics export."""
    print(f"--- sample log record (decoded)\n{json.dumps(receiver.log_records()[0], indent=1, default=list)}")
    last = [i for i in receiver.received if i.path == METRICS_PATH][-1]
    print(f"--- last metrics export (decoded)\n{json.dumps(receiver.as_json(last), indent=1)}")


def _stats(db: Path, *args: str) -> str:
    cli = [str(Path(sys.executable).with_name("kimchi-plugin"))]
    if not Path(cli[0]).exists():
        cli = [sys.executable, "-m", "kimchi_plugin"]
    out = subprocess.run(
        [*cli, "stats", "--db", str(db), *args], capture_output=True, text=True, timeout=CLI_TIMEOUT_S, cwd=REPO_ROOT
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def _check_stats(db: Path, server: FakeModelServer, session: str) -> str:
    expected = _expected_messages(server)
    report = json.loads(_stats(db, "--json", "--session", session))
    total = report["total"]
    assert total["calls"] == len(expected)
    assert total["input_tokens"] == sum(m["input"] for m in expected)
    assert total["output_tokens"] == COMPLETION_TOKENS * len(expected)
    assert total["cache_read_tokens"] == 0 and total["cache_write_tokens"] == 0
    actual = sum(m["cost"] for m in expected)
    assert math.isclose(total["cost_usd"], actual, abs_tol=USD_ABS)
    for group, key_of in (("by_model", lambda m: m["model"]), ("by_tier", lambda m: TIER_OF[m["model"]])):
        want: dict[str, list] = defaultdict(lambda: [0, 0, 0, 0.0])
        for message in expected:
            line = want[key_of(message)]
            line[0] += 1
            line[1] += message["input"]
            line[2] += message["output"]
            line[3] += message["cost"]
        got = {ln["key"]: ln for ln in report[group]}
        assert set(got) == set(want), group
        for key, (calls, inp, out, cost) in want.items():
            assert (got[key]["calls"], got[key]["input_tokens"], got[key]["output_tokens"]) == (calls, inp, out)
            assert math.isclose(got[key]["cost_usd"], cost, abs_tol=USD_ABS)
    # Savings: the same tokens priced on the top Reasoning model and on the top Coding model.
    savings = {s["baseline"]: s for s in report["savings"]}
    for baseline, model in (("reasoning", REASONING), ("coding", CODING)):
        entry = savings[baseline]
        priced = sum(_cost(model, m["input"], m["output"]) for m in expected)
        assert entry["models"] == [model] and entry["calls_covered"] == len(expected)
        assert math.isclose(entry["actual_usd"], actual, abs_tol=USD_ABS)
        assert math.isclose(entry["baseline_usd"], priced, abs_tol=USD_ABS)
        assert math.isclose(entry["saved_usd"], priced - actual, abs_tol=USD_ABS)
    # The database holds the same per-message numbers and routing labels.
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = conn.execute(
            "SELECT model, input_tokens, output_tokens, tier, route_source, session_id FROM turns ORDER BY created_ms"
        ).fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [(m["model"], m["input"], m["output"]) for m in expected]
    assert all(r[3] == TIER_OF[r[0]] and r[4] != "unrouted" and r[5] == session for r in rows)
    return json.dumps(report, indent=2)


def _check_usage_tool(output: str, before: list[dict[str, Any]], server: FakeModelServer) -> None:
    """The kimchi_usage result (as the model received it) shows the session's spend so far."""
    assert output in server.requests[-1]["tool_results"], "the model did not receive the usage tool's result"
    done = [_cost(r["model"], r["prompt_tokens"], COMPLETION_TOKENS) for r in before]
    # The message calling the tool is in progress: its tokens may or may not be reported yet.
    calling = server.chat_requests(with_tools=True)[len(before)]
    spend = {sum(done), sum(done) + _cost(calling["model"], calling["prompt_tokens"], COMPLETION_TOKENS)}
    first = output.splitlines()[0]
    match = re.fullmatch(r"Session usage: (\d+) model calls, \$([0-9.]+)", first)
    assert match, output
    assert int(match.group(1)) in (len(before), len(before) + 1), output
    assert any(match.group(2) == f"{amount:.6f}" for amount in spend), (output, spend)
    models = {r["model"] for r in before}
    for model in models:
        assert re.search(rf"^\s+{re.escape(model)}\s+\d+ calls\s+\$", output, re.MULTILINE), output


# -- telemetry on ----------------------------------------------------------------------------------------------------
def test_session_telemetry_via_options_stats_and_usage_tool(
    make_sandbox, fake_server: FakeModelServer, tmp_path: Path
) -> None:
    sandbox = make_sandbox(git=True)
    with OtlpReceiver() as receiver:
        _configure(
            sandbox, tmp_path, telemetry=True, logsEndpoint=receiver.logs_url, metricsEndpoint=receiver.metrics_url
        )
        run = _scripted_session(sandbox, fake_server)
        # No waiting: flushes on session.idle and at shutdown mean everything arrived before `run` returned.
        _check_telemetry(receiver, fake_server, run["session"], secrets=())
        assert all("Authorization" not in item.headers for item in receiver.received)
        _print_samples(receiver)
    _check_usage_tool(run["usage_output"], run["before_usage"], fake_server)
    print(f"--- kimchi_usage tool result\n{run['usage_output']}")
    db = _db_path(sandbox)
    print(f"--- kimchi-plugin stats --json --session\n{_check_stats(db, fake_server, run['session'])}")
    text = _stats(db)
    expected = _expected_messages(fake_server)
    assert f"{len(expected)} model calls, ${sum(m['cost'] for m in expected):.6f}" in text
    assert f"vs all on the top Reasoning model ({REASONING})" in text
    assert f"vs all on the top Coding model ({CODING})" in text
    print(f"--- kimchi-plugin stats\n{text}")


def test_session_telemetry_via_environment_with_auth_header(
    make_sandbox, fake_server: FakeModelServer, tmp_path: Path
) -> None:
    sandbox = make_sandbox(git=True)
    with OtlpReceiver() as receiver:
        _configure(sandbox, tmp_path)
        sandbox.env.update(
            {
                "OPENCODE_ENABLE_TELEMETRY": "1",
                "OPENCODE_OTLP_ENDPOINT": receiver.logs_url,
                "OPENCODE_OTLP_METRICS_ENDPOINT": receiver.metrics_url,
                "OPENCODE_OTLP_HEADERS": f"Authorization=Bearer {OTLP_TOKEN}",
            }
        )
        run = _scripted_session(sandbox, fake_server)
        _check_telemetry(receiver, fake_server, run["session"], secrets=(OTLP_TOKEN,))
        assert {item.path for item in receiver.received} == {LOGS_PATH, METRICS_PATH}
        assert all(item.headers.get("Authorization") == f"Bearer {OTLP_TOKEN}" for item in receiver.received)
    brain_log = (tmp_path / f"brain-{sandbox.root.name}.log").read_text()
    assert "telemetry on" in brain_log
    assert OTLP_TOKEN not in brain_log and OTLP_TOKEN not in sandbox.opencode_log()


def test_metrics_flush_on_idle_while_opencode_keeps_running(
    make_sandbox, fake_server: FakeModelServer, tmp_path: Path
) -> None:
    """Under `opencode serve` nothing shuts down: the turn's metrics arrive on session.idle, long before the
    periodic flush is due."""
    sandbox = make_sandbox(git=True)
    with OtlpReceiver() as receiver:
        _configure(
            sandbox, tmp_path, telemetry=True, logsEndpoint=receiver.logs_url, metricsEndpoint=receiver.metrics_url
        )
        with sandbox.serve() as client:
            session = client.create_session()
            reply = client.send(
                session, _tool_call("bash", {"command": COMMIT_COMMAND, "description": "commit"}), model="kimchi/auto"
            )
            assert reply["info"].get("error") is None, reply["info"]
            expected = _expected_messages(fake_server)
            want = {("claude_code.commit.count", (("session.id", session),)): 1}
            for model in {m["model"] for m in expected}:
                key = ("claude_code.token.usage", (("model", model), ("session.id", session), ("type", "input")))
                want[key] = sum(m["input"] for m in expected if m["model"] == model)
            assert receiver.wait_for(
                lambda r: all(r.latest().get(k) == v for k, v in want.items()), timeout=IDLE_FLUSH_WAIT_S
            ), f"no full metrics within {IDLE_FLUSH_WAIT_S}s of idle"
            assert len(receiver.log_records()) == len(_expected_messages(fake_server)) == 2
    _check_telemetry(receiver, fake_server, session, secrets=(), wrote=False)


# -- telemetry off ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("enable", [None, "0", "false"])
def test_telemetry_off_makes_no_connection(
    make_sandbox, fake_server: FakeModelServer, tmp_path: Path, enable: str | None
) -> None:
    sandbox = make_sandbox(git=True)
    with OtlpReceiver() as receiver:
        # Endpoints everywhere, but telemetry not switched on: the receiver must never be contacted.
        _configure(sandbox, tmp_path, logsEndpoint=receiver.logs_url, metricsEndpoint=receiver.metrics_url)
        sandbox.env.update(
            {
                "OPENCODE_OTLP_ENDPOINT": receiver.logs_url,
                "OPENCODE_OTLP_METRICS_ENDPOINT": receiver.metrics_url,
                "OPENCODE_OTLP_HEADERS": f"Authorization=Bearer {OTLP_TOKEN}",
            }
        )
        if enable is not None:
            sandbox.env["OPENCODE_ENABLE_TELEMETRY"] = enable
        result = _turn(sandbox, _tool_call("bash", {"command": COMMIT_COMMAND, "description": "commit"}), None)
        assert _tool_state(result, "bash")["metadata"].get("exit") == 0
        assert receiver.connections == 0 and receiver.received == []
    # The plugin was active all along: the turn's messages are in the local stats database.
    report = json.loads(_stats(_db_path(sandbox), "--json"))
    assert report["total"]["calls"] == len(fake_server.chat_requests(with_tools=True)) == 2
    assert "telemetry on" not in (tmp_path / f"brain-{sandbox.root.name}.log").read_text()
