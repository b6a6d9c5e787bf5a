"""Opt-in OTLP telemetry against a real OTLP/HTTP receiver on 127.0.0.1: what is sent, cumulative semantics per
session, never blocking, drops counted, and nothing at all while off."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kimchi_plugin import __version__
from kimchi_plugin.settings import Settings
from kimchi_plugin.usage.prices import ModelPrice, Prices
from kimchi_plugin.usage.recorder import RouteTag, UsageRecorder
from kimchi_plugin.usage.telemetry import (
    COMMIT_COUNT,
    COST_USAGE,
    EDIT_DECISION,
    LINES_OF_CODE,
    PULL_REQUEST_COUNT,
    TOKEN_USAGE,
)
from kimchi_plugin.usage.telemetry_config import TelemetryConfig
from tests.support.otlp_receiver import OtlpReceiver

REPO_ROOT = Path(__file__).resolve().parents[2]

SECRET = "sk-live-SECRET-token-4242"
CONTENT = "TOP-SECRET-FILE-CONTENT"
PROMPTISH = "classified-commit-message"
T0 = 1_800_000_000.0
PRICES = Prices(
    {
        "deep-r1": ModelPrice(2, 8, 0.5, 2),
        "kimi-k2.5": ModelPrice(1, 4, 0.25, 1),
        "mini": ModelPrice(0.2, 0.8, 0.05, 0.2),
    },
    top_reasoning="deep-r1",
    top_coding="kimi-k2.5",
)
CODING = RouteTag("coding", "coder", "phase", "kimi-k2.5", "build")
QUICK = RouteTag("quick", "assistant", "agent", "mini", "explore")
REASONING = RouteTag("reasoning", "debugger", "command", "deep-r1", "build")


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def receiver():
    with OtlpReceiver() as server:
        yield server


@pytest.fixture
def clock():
    return Clock()


def config(receiver: OtlpReceiver, **changes) -> TelemetryConfig:
    fields = dict(
        logs_endpoint=receiver.logs_url,
        metrics_endpoint=receiver.metrics_url,
        headers={"Authorization": f"Bearer {SECRET}"},
        flush_interval_s=600.0,
        backoff_s=0.05,
    )
    fields.update(changes)
    return TelemetryConfig(**fields)


def assistant(
    mid,
    session,
    model,
    *,
    inp=0,
    out=0,
    reasoning=0,
    cread=0,
    cwrite=0,
    cost=0.0,
    created=None,
    completed=None,
    parent=None,
    error=None,
):
    info = {
        "id": mid,
        "sessionID": session,
        "role": "assistant",
        "modelID": model,
        "providerID": "kimchi",
        "agent": "build",
        "mode": "build",
        "path": {"cwd": "/home/user/secret-project", "root": "/"},
        "cost": cost,
        "tokens": {"input": inp, "output": out, "reasoning": reasoning, "cache": {"read": cread, "write": cwrite}},
        "time": {"created": created or int(T0 * 1000)},
    }
    if completed:
        info["time"]["completed"] = completed
        info["finish"] = "stop"
    if parent:
        info["parentID"] = parent
    if error:
        info["error"] = {"name": error, "data": {"message": PROMPTISH}}
    return info


def bash(rec, session, command, exit=0):
    rec.on_tool_after(
        session,
        "bash",
        {"command": command, "description": "x"},
        "out",
        {"output": "out", "exit": exit, "truncated": False},
    )


def poll(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def point_values(receiver):
    """{(metric, session, other attrs...): value} of the latest cumulative points."""
    out = {}
    for (name, attrs), value in receiver.latest().items():
        attrs = dict(attrs)
        session = attrs.pop("session.id")
        out[(name, session, *sorted(attrs.items()))] = value
    return out


# -- switching on and off ---------------------------------------------------------------------------------------------


def test_enable_env_zero_is_off(receiver, tmp_path, monkeypatch):
    env = {
        "OPENCODE_ENABLE_TELEMETRY": "0",
        "OPENCODE_OTLP_ENDPOINT": receiver.logs_url,
        "OPENCODE_OTLP_METRICS_ENDPOINT": receiver.metrics_url,
    }
    rec = UsageRecorder.from_settings(Settings(), env=env, store_path=str(tmp_path / "u.db"))
    assert rec.telemetry is None
    on = UsageRecorder.from_settings(Settings(stats=False), env={**env, "OPENCODE_ENABLE_TELEMETRY": "true"})
    assert on.telemetry is not None and on.telemetry.config.logs_endpoint == receiver.logs_url


def test_off_means_not_a_single_connection_attempt(receiver, tmp_path, monkeypatch):
    settings = Settings(telemetry=False, logsEndpoint=receiver.logs_url, metricsEndpoint=receiver.metrics_url)
    rec = UsageRecorder.from_settings(
        settings, env={"OPENCODE_OTLP_ENDPOINT": receiver.logs_url}, store_path=str(tmp_path / "u.db"), prices=PRICES
    )

    def refuse(*_args, **_kwargs):
        raise AssertionError("a connection was attempted while telemetry is off")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    rec.on_session_created("c", "a")
    rec.on_assistant_message(assistant("m1", "a", "kimi-k2.5", inp=5, out=1, completed=int(T0 * 1000)), CODING)
    bash(rec, "a", "git commit -m x")
    rec.on_tool_after("a", "edit", {"filePath": "a.py", "oldString": "a", "newString": "b"}, "", {})
    rec.on_session_idle("a")
    rec.on_session_deleted("a")
    asyncio.run(rec.close())
    monkeypatch.undo()
    assert receiver.connections == 0 and rec.errors == 0
    assert rec.stats()["store_written"] == 1  # local stats still work


OFF_PROBE = """
import asyncio, sys
from kimchi_plugin.usage.recorder import UsageRecorder
from kimchi_plugin.settings import Settings
rec = UsageRecorder.from_settings(Settings(), env={"OPENCODE_ENABLE_TELEMETRY": "0",
                                  "OPENCODE_OTLP_ENDPOINT": "http://127.0.0.1:9/v1/logs"}, store_path=sys.argv[1])
rec.on_assistant_message({"id": "m", "sessionID": "s", "role": "assistant", "modelID": "x", "providerID": "kimchi",
                          "tokens": {"input": 1}, "time": {"created": 1, "completed": 2}}, None)
rec.on_tool_after("s", "bash", {"command": "git commit -m x"}, "", {"exit": 0})
rec.on_session_idle("s")
asyncio.run(rec.close())
heavy = ("opentelemetry", "google.protobuf", "kimchi_plugin.usage.otlp")
loaded = sorted(m for m in sys.modules if m.startswith(heavy))
print(loaded)
"""


def test_off_never_imports_the_protobuf_modules(tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", OFF_PROBE, str(tmp_path / "u.db")],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# -- what is sent -----------------------------------------------------------------------------------------------------
def scripted_session(rec: UsageRecorder, clock: Clock) -> None:
    ms = int(T0 * 1000)
    rec.on_route("u1", CODING)
    rec.on_assistant_message(assistant("m1", "ses_A", "kimi-k2.5", inp=50, parent="u1"))  # streaming snapshot
    done = assistant(
        "m1",
        "ses_A",
        "kimi-k2.5",
        inp=1200,
        out=300,
        cread=5000,
        cwrite=100,
        parent="u1",
        created=ms,
        completed=ms + 1500,
    )
    rec.on_assistant_message(done)
    rec.on_assistant_message(done)  # OpenCode repeats the final update
    bash(rec, "ses_A", f"git add -A && git commit -m '{PROMPTISH}'")
    bash(rec, "ses_A", "git commit -m again", exit=1)  # failed: not counted
    bash(rec, "ses_A", "git commit --amend --no-edit")  # not a new commit
    bash(rec, "ses_A", "gh pr create --fill")
    rec.on_tool_after(
        "ses_A",
        "edit",
        {"filePath": "/p/a.py", "oldString": "x", "newString": CONTENT},
        "Edit applied successfully.",
        {
            "diff": CONTENT,
            "filediff": {"file": "/p/a.py", "patch": CONTENT, "additions": 3, "deletions": 1},
            "diagnostics": {},
        },
    )
    rec.on_tool_after(
        "ses_A",
        "write",
        {"filePath": "/p/b.ts", "content": f"1\n2\n3\n{CONTENT}\n"},
        "Wrote file successfully.",
        {"diagnostics": {}, "filepath": "/p/b.ts", "exists": False},
    )
    rec.on_tool_after(
        "ses_A",
        "apply_patch",
        {"patchText": CONTENT},
        "Success.",
        {
            "diff": CONTENT,
            "files": [
                {
                    "filePath": "/p/c.go",
                    "relativePath": "c.go",
                    "type": "add",
                    "patch": CONTENT,
                    "additions": 2,
                    "deletions": 0,
                },
                {
                    "filePath": "/p/d.py",
                    "relativePath": "d.py",
                    "type": "update",
                    "patch": CONTENT,
                    "additions": 1,
                    "deletions": 1,
                },
            ],
        },
    )
    # A child session starts: it must not reset its parent's counters.
    clock.t += 5
    rec.on_session_created("ses_C", "ses_A")
    rec.on_assistant_message(assistant("m2", "ses_C", "mini", inp=100, out=10, completed=ms + 6000), QUICK)
    rec.on_tool_after("ses_C", "edit", {"filePath": "/p/e.rs", "oldString": "a\nb", "newString": "c"}, "", {})
    # Another top-level session in the same process.
    rec.on_assistant_message(
        assistant("m3", "ses_B", "deep-r1", inp=10, out=1, cost=0.5, completed=ms + 7000, error="APIError"), REASONING
    )
    bash(rec, "ses_B", "git commit -m b")
    rec.on_session_idle("ses_A")


EXPECTED_POINTS = {
    (TOKEN_USAGE, "ses_A", ("model", "kimi-k2.5"), ("type", "input")): 1200,
    (TOKEN_USAGE, "ses_A", ("model", "kimi-k2.5"), ("type", "output")): 300,
    (TOKEN_USAGE, "ses_A", ("model", "kimi-k2.5"), ("type", "cacheRead")): 5000,
    (TOKEN_USAGE, "ses_A", ("model", "kimi-k2.5"), ("type", "cacheCreation")): 100,
    (COST_USAGE, "ses_A", ("model", "kimi-k2.5")): pytest.approx(0.00375),  # (1200 + 300*4 + 5000*.25 + 100) / 1e6
    (COMMIT_COUNT, "ses_A"): 1,
    (PULL_REQUEST_COUNT, "ses_A"): 1,
    (LINES_OF_CODE, "ses_A", ("type", "added")): 3 + 4 + 2 + 1,
    (LINES_OF_CODE, "ses_A", ("type", "removed")): 1 + 0 + 0 + 1,
    (EDIT_DECISION, "ses_A", ("decision", "accept"), ("language", "Python"), ("tool_name", "Edit")): 1,
    (EDIT_DECISION, "ses_A", ("decision", "accept"), ("language", "TypeScript"), ("tool_name", "Write")): 1,
    (EDIT_DECISION, "ses_A", ("decision", "accept"), ("language", "Go"), ("tool_name", "Patch")): 1,
    (EDIT_DECISION, "ses_A", ("decision", "accept"), ("language", "Python"), ("tool_name", "Patch")): 1,
    (TOKEN_USAGE, "ses_C", ("model", "mini"), ("type", "input")): 100,
    (TOKEN_USAGE, "ses_C", ("model", "mini"), ("type", "output")): 10,
    (COST_USAGE, "ses_C", ("model", "mini")): pytest.approx(0.000028),
    (LINES_OF_CODE, "ses_C", ("type", "added")): 1,
    (LINES_OF_CODE, "ses_C", ("type", "removed")): 2,
    (EDIT_DECISION, "ses_C", ("decision", "accept"), ("language", "Rust"), ("tool_name", "Edit")): 1,
    (TOKEN_USAGE, "ses_B", ("model", "deep-r1"), ("type", "input")): 10,
    (TOKEN_USAGE, "ses_B", ("model", "deep-r1"), ("type", "output")): 1,
    (COST_USAGE, "ses_B", ("model", "deep-r1")): pytest.approx(0.5),  # OpenCode's reported cost
    (COMMIT_COUNT, "ses_B"): 1,
}


def test_scripted_session_every_field_and_count(receiver, clock):
    rec = UsageRecorder(telemetry=config(receiver), prices=PRICES, clock=clock)
    scripted_session(rec, clock)
    assert receiver.wait_for(lambda r: len(r.log_records()) == 3 and r.metric_points())
    # -- log records: one per completed assistant message, deduplicated
    records = {r["attrs"]["session.id"]: r for r in receiver.log_records()}
    first = records["ses_A"]
    ms = int(T0 * 1000)
    assert first["time"] == (ms + 1500) * 1_000_000 and first["observed"] == int(T0 * 1e9)
    assert (first["severity"], first["severity_text"], first["event"], first["body"]) == (
        9,
        "INFO",
        "api_request",
        "api_request",
    )
    assert first["attrs"] == {
        "event.name": "api_request",
        "session.id": "ses_A",
        "model": "kimi-k2.5",
        "provider": "kimchi",
        "agent": "build",
        "input_tokens": 1200,
        "output_tokens": 300,
        "reasoning_tokens": 0,
        "cache_read_tokens": 5000,
        "cache_creation_tokens": 100,
        "cost_usd": pytest.approx(0.00375),
        "duration_ms": 1500,
        "tier": "coding",
        "profile": "coder",
        "routing.source": "phase",
        "finish": "stop",
    }
    instance = first["resource"]["service.instance.id"]
    assert len(instance) == 32 and all(r["resource"]["service.instance.id"] == instance for r in records.values())
    assert first["resource"] == {
        "service.name": "opencode",
        "opencode_kimchi.version": __version__,
        "service.instance.id": instance,
    }
    assert first["scope"] == ("opencode-kimchi", __version__)
    assert records["ses_C"]["attrs"]["tier"] == "quick" and records["ses_C"]["attrs"]["routing.source"] == "agent"
    assert records["ses_B"]["attrs"]["error"] == "APIError" and records["ses_B"]["attrs"]["cost_usd"] == 0.5
    # -- metrics: cumulative, monotonic, per session, one start time per series
    points = receiver.metric_points()
    assert all(p["temporality"] == 2 and p["monotonic"] for p in points)
    assert point_values(receiver) == EXPECTED_POINTS
    starts = {(p["name"], tuple(sorted(p["attrs"].items()))): p["start"] for p in points}
    assert starts[(COMMIT_COUNT, (("session.id", "ses_A"),))] == int(T0 * 1e9)
    assert starts[(COMMIT_COUNT, (("session.id", "ses_B"),))] == int((T0 + 5) * 1e9)
    units = {p["name"]: p["unit"] for p in points}
    assert units[TOKEN_USAGE] == "tokens" and units[COST_USAGE] == "USD"
    # -- a second round: only changed series are re-sent, with growing totals and the same start
    exports_before = len(receiver.received)
    clock.t += 30
    bash(rec, "ses_A", "git commit -m second")
    rec.on_session_idle("ses_A")
    assert receiver.wait_for(lambda r: len(r.received) > exports_before)
    second = receiver.received[-1].message.resource_metrics[0].scope_metrics[0].metrics
    assert [(m.name, [dp.as_int for dp in m.sum.data_points]) for m in second] == [(COMMIT_COUNT, [2])]
    dp = second[0].sum.data_points[0]
    assert dp.start_time_unix_nano == int(T0 * 1e9) and dp.time_unix_nano == int((T0 + 35) * 1e9)
    # -- deleting a session sends its totals once more if changed, then forgets its series
    live = rec.telemetry.stats()["live_series"]
    rec.on_session_deleted("ses_C")
    assert poll(lambda: rec.telemetry.stats()["live_series"] == live - 6)  # ses_C had 6 series
    asyncio.run(rec.close())
    stats = rec.stats()
    assert stats["dropped_records"] == 0 and stats["failed_exports"] == 0 and stats["sent_records"] == 3
    # -- credentials are sent as the header only; contents, commands, errors' texts and paths never
    for item in receiver.received:
        assert item.headers["Authorization"] == f"Bearer {SECRET}"
        assert item.headers["Content-Type"] == "application/x-protobuf"
        for secret in (SECRET, CONTENT, PROMPTISH, "secret-project", "/p/a.py"):
            assert secret.encode() not in item.body


def test_concurrent_sessions_from_several_threads_keep_their_own_totals(receiver, clock):
    rec = UsageRecorder(telemetry=config(receiver), prices=PRICES, clock=clock)

    def work(session: str, n: int) -> None:
        for i in range(n):
            bash(rec, session, "git commit -m x")
            rec.on_assistant_message(
                assistant(f"{session}-{i}", session, "mini", inp=1, out=1, completed=int(T0 * 1000)), QUICK
            )

    threads = [threading.Thread(target=work, args=(s, 300)) for s in ("s1", "s2", "s3")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    asyncio.run(rec.close())
    values = point_values(receiver)
    for session in ("s1", "s2", "s3"):
        assert values[(COMMIT_COUNT, session)] == 300
        assert values[(TOKEN_USAGE, session, ("model", "mini"), ("type", "input"))] == 300
    assert len(receiver.log_records()) == 900 and rec.stats()["dropped_records"] == 0


def test_periodic_flush_without_idle(receiver, clock):
    rec = UsageRecorder(telemetry=config(receiver, flush_interval_s=0.2), prices=PRICES, clock=clock)
    bash(rec, "s", "git commit -m x")
    assert receiver.wait_for(lambda r: bool(r.metric_points()), timeout=5)
    asyncio.run(rec.close())


def test_retries_with_backoff_then_delivers(receiver, clock):
    receiver.fail_times = 2
    rec = UsageRecorder(telemetry=config(receiver, logs_endpoint=None), prices=PRICES, clock=clock)
    bash(rec, "s", "git commit -m x")
    rec.on_session_idle("s")
    assert receiver.wait_for(lambda r: bool(r.metric_points()), timeout=10)
    asyncio.run(rec.close())
    assert rec.stats()["failed_exports"] == 0 and receiver.fail_times == 0


def test_slow_receiver_hooks_stay_fast_and_drops_are_counted(receiver, clock):
    receiver.delay_s = 1.0
    rec = UsageRecorder(
        telemetry=config(receiver, queue_size=4, timeout_s=0.3, max_attempts=1), prices=PRICES, clock=clock
    )
    started = time.perf_counter()
    for i in range(100):
        rec.on_assistant_message(assistant(f"m{i}", "s", "mini", inp=1, completed=int(T0 * 1000)), QUICK)
        bash(rec, "s", "git commit -m x")
        rec.on_session_idle("s")
    elapsed = time.perf_counter() - started
    # 300 calls; hooks that waited for the 100 exports (0.3 s each, the receiver answers after 1 s) would take 30 s:
    # the bound leaves a loaded machine ample room and still catches that
    assert elapsed < 10.0
    assert rec.stats()["dropped_records"] > 0
    closing = time.perf_counter()
    asyncio.run(rec.close(timeout=1.0))
    assert time.perf_counter() - closing < 1.0 + 3.0  # bounded by close's timeout even while the receiver hangs
    stats = rec.stats()
    assert stats["dropped_records"] + stats["sent_records"] == 100


def test_receiver_down_drops_and_counts(clock):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    url = f"http://127.0.0.1:{port}"
    cfg = TelemetryConfig(
        f"{url}/v1/logs", f"{url}/v1/metrics", {}, flush_interval_s=600, max_attempts=2, backoff_s=0.01
    )
    rec = UsageRecorder(telemetry=cfg, prices=PRICES, clock=clock)
    started = time.perf_counter()
    for i in range(10):
        rec.on_assistant_message(assistant(f"m{i}", "s", "mini", inp=1, completed=int(T0 * 1000)), QUICK)
    rec.on_session_idle("s")
    assert time.perf_counter() - started < 5.0  # retries and backoff run on the exporter thread, not in the hooks
    asyncio.run(rec.close())
    stats = rec.stats()
    assert stats["dropped_records"] == 10 and stats["failed_exports"] >= 2 and stats["sent_records"] == 0


def test_other_providers_are_not_sent(receiver, clock):
    rec = UsageRecorder(telemetry=config(receiver), prices=PRICES, clock=clock)
    info = assistant("m1", "s", "gpt-5", inp=10, completed=int(T0 * 1000))
    info["providerID"] = "openai"
    rec.on_assistant_message(info, None)
    rec.on_session_idle("s")
    asyncio.run(rec.close())
    assert receiver.received == []


def test_no_secret_in_database(receiver, clock, tmp_path):
    env = {
        "OPENCODE_ENABLE_TELEMETRY": "1",
        "OPENCODE_OTLP_ENDPOINT": receiver.logs_url,
        "OPENCODE_OTLP_METRICS_ENDPOINT": receiver.metrics_url,
        "OPENCODE_OTLP_HEADERS": f"Authorization=Bearer {SECRET}",
    }
    rec = UsageRecorder.from_settings(
        Settings(apiKey=SECRET), env=env, store_path=str(tmp_path / "u.db"), prices=PRICES, clock=clock
    )
    scripted_session(rec, clock)
    asyncio.run(rec.close())
    assert receiver.received and all(item.headers["Authorization"] == f"Bearer {SECRET}" for item in receiver.received)
    for path in tmp_path.iterdir():
        data = path.read_bytes()
        for secret in (SECRET, CONTENT, PROMPTISH):
            assert secret.encode() not in data
    assert json.dumps(rec.stats()).find(SECRET) == -1
