"""The real brain (`python -m kimchi_plugin`) as a child process for tests: raw frames in, reply lines out (read on a
thread, so every wait is bounded), resident memory, and a clean end."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
EXIT_TIMEOUT_S = 10.0


def frame(rpc_id: Any, method: str, params: Any) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": rpc_id, "method": method, "params": params}).encode() + b"\n"


class BrainChild:
    def __init__(self, home: Path, *, env: dict[str, str] | None = None, argv: list[str] | None = None) -> None:
        clean = {k: v for k, v in os.environ.items() if k not in ("KIMCHI_API_KEY", "CASTAI_API_KEY")}
        clean.update(
            XDG_STATE_HOME=str(home / "state"),
            XDG_CACHE_HOME=str(home / "cache"),
            XDG_CONFIG_HOME=str(home / "config"),
            HOME=str(home),
        )
        clean.update(env or {})
        python = str(PYTHON if PYTHON.exists() else Path(sys.executable))
        self.proc = subprocess.Popen(
            argv or [python, "-m", "kimchi_plugin"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean,
            cwd=REPO_ROOT,
        )
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self.stderr = bytearray()
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _drain_stderr(self) -> None:
        assert self.proc.stderr
        for line in self.proc.stderr:
            self.stderr += line

    def send(self, data: bytes) -> None:
        assert self.proc.stdin
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def reply(self, timeout: float = 10.0) -> dict[str, Any] | list[Any]:
        line = self.lines.get(timeout=timeout)
        if line is None:
            raise EOFError(f"brain closed stdout (rc={self.proc.poll()}); stderr tail: {bytes(self.stderr[-2000:])!r}")
        return json.loads(line)

    def call(self, rpc_id: Any, method: str, params: Any, timeout: float = 10.0) -> dict[str, Any]:
        self.send(frame(rpc_id, method, params))
        reply = self.reply(timeout)
        assert isinstance(reply, dict) and reply.get("id") == rpc_id, reply
        return reply

    def initialize(self, options: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.call("init", "initialize", {"protocolVersion": 1, "options": options or {}})

    def rss_mb(self) -> float:
        for row in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def close(self) -> int:
        """End of input, then wait for the exit code (killed after EXIT_TIMEOUT_S)."""
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        try:
            return self.proc.wait(timeout=EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
