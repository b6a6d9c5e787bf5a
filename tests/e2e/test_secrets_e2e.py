"""A full session through the real opencode binary with a recognisable API key, verbose logging, stats and telemetry
on: the brain is handed the key, and it never shows up in anything the plugin writes — the brain's
stdout frames (which carry every patch, toast and log action), its stderr, its log file, the plugin's lines in the
OpenCode log, the telemetry it exports, the stats database, the learned corrections, or a session recording."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from scripts.opencode_sandbox import REPO_ROOT, OpencodeSandbox, shim_plugin

SECRET = "sk-kimchi-e2e-SECRET-7c41d9a2b8f05e3a"
TEE = REPO_ROOT / "tests" / "support" / "tee_brain.py"
PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
TOOL_ARGS = json.dumps({"command": "echo secrets-tool-ok", "description": "echo"}).replace(" ", "\\u0020")
PLUGIN_SERVICE = "opencode-kimchi"


class OtlpSink:
    """Accepts OTLP/HTTP exports on 127.0.0.1 and keeps every request (path, headers, body) as bytes."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                sink.received.append(self.path.encode() + bytes(self.headers) + body)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def otlp() -> Iterator[OtlpSink]:
    sink = OtlpSink()
    yield sink
    sink.close()


def _plugin_lines(opencode_log: str) -> str:
    """What the plugin itself put in OpenCode's log (app.log calls and toasts), not OpenCode's own config dumps."""
    return "\n".join(line for line in opencode_log.splitlines() if PLUGIN_SERVICE in line or "toast" in line.lower())


def test_api_key_never_leaves_the_plugin(sandbox: OpencodeSandbox, otlp: OtlpSink, tmp_path: Path):
    received, frames = tmp_path / "stdin.jsonl", tmp_path / "frames.jsonl"
    stderr, log_file = tmp_path / "stderr.log", tmp_path / "brain.log"
    recording = tmp_path / "recording.jsonl"
    python = str(PYTHON if PYTHON.exists() else Path(sys.executable))
    options = {
        "verbose": True,
        "logFile": str(log_file),
        "apiKey": SECRET,
        "telemetry": True,
        "logsEndpoint": f"{otlp.url}/v1/logs",
        "metricsEndpoint": f"{otlp.url}/v1/metrics",
        "record": str(recording),
        "command": [python, str(TEE), str(received), str(frames), str(stderr), "--", python, "-m", "kimchi_plugin"],
    }
    sandbox.configure(api_key=SECRET, plugins=[shim_plugin(options)])
    turns = [
        sandbox.run("hello"),
        sandbox.run("now", "run", f"CALL_TOOL:bash:{TOOL_ARGS}", continue_=True),
        sandbox.run("/lock", "reasoning", "review", "the", "auth", "module", continue_=True),
    ]

    assert [t.rc for t in turns] == [0, 0, 0], [t.stderr[-1500:] for t in turns]
    written = frames.read_text(errors="replace")
    assert '"result"' in written and "tui.showToast" in written  # the tee saw the real conversation
    assert SECRET in received.read_text(errors="replace")  # the brain was handed the key (options, OpenCode's config)
    assert "secrets-tool-ok" in "".join(t.stdout for t in turns)
    db = sandbox.home / ".local" / "share" / "opencode-kimchi"
    stats = b"".join(p.read_bytes() for p in sorted(db.glob("usage.db*")))
    assert stats, f"no stats database under {db}"
    assert otlp.received, "telemetry exported nothing"
    recorded = recording.read_text(errors="replace")
    assert '"method": "chat.message"' in recorded and '"method": "config"' in recorded  # the session was recorded
    learned = b"".join(p.read_bytes() for p in sorted(db.glob("corrections.db*")))

    places = {
        "brain stdout frames": written,
        "brain stderr": stderr.read_text(errors="replace"),
        "brain log file": log_file.read_text(errors="replace"),
        "plugin lines and toasts in the OpenCode log": _plugin_lines(sandbox.opencode_log()),
        "opencode stdout/stderr": "".join(t.stdout + t.stderr for t in turns),
        "session recording": recorded,
    }
    leaks = [where for where, text in places.items() if SECRET in text]
    leaks += ["telemetry export"] if any(SECRET.encode() in body for body in otlp.received) else []
    leaks += ["stats database"] if SECRET.encode() in stats else []
    leaks += ["corrections database"] if SECRET.encode() in learned else []
    assert leaks == []
    assert all(turn.leftover_pids == [] for turn in turns)
