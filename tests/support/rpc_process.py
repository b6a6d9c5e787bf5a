"""The one harness for the real brain (`python -m kimchi_plugin`, or a stand-in's argv) as a child process, driven
over its stdio like the shim drives it: NDJSON requests and notifications, raw bytes for malformed or pipelined input,
bounded waits for every reply (read on a thread), stderr kept for assertions and failure messages, resident memory,
and a clean end with its exit code."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
REPLY_TIMEOUT_S = 10.0  # generous: a loaded CI machine, first import of the brain's dependencies
EXIT_TIMEOUT_S = 10.0
INIT_PARAMS = {"protocolVersion": 1, "options": {}, "directory": "/tmp/project", "worktree": "/tmp/project"}


class NoReply(AssertionError):
    """The brain did not answer in time (or closed stdout)."""


def frame(rpc_id: Any, method: str, params: Any) -> bytes:
    """One request as the bytes of an NDJSON line."""
    return json.dumps({"jsonrpc": "2.0", "id": rpc_id, "method": method, "params": params}).encode() + b"\n"


def home_env(home: Path) -> dict[str, str]:
    """A home of its own: no user config, cache, state or API key from the developer's machine."""
    return {
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_STATE_HOME": str(home / "state"),
        "KIMCHI_API_KEY": "",
        "CASTAI_API_KEY": "",
    }


class RpcProcess:
    """One child process speaking newline-delimited JSON-RPC on stdin/stdout; `home` isolates it (see home_env)."""

    def __init__(
        self,
        argv: Sequence[str] | None = None,
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        home: Path | None = None,
    ):
        self.argv = list(argv or [sys.executable, "-m", "kimchi_plugin"])
        child_env = {**os.environ, **(home_env(home) if home is not None else {}), **(env or {})}
        child_env.setdefault("PYTHONPATH", str(REPO_ROOT))
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=str(cwd or REPO_ROOT),
            env=child_env,
        )
        self.frames: queue.Queue[bytes | None] = queue.Queue()
        self.raw_stdout: list[bytes] = []
        self._stderr: list[bytes] = []
        self._next_id = 1
        threading.Thread(target=self._pump_stdout, daemon=True).start()
        threading.Thread(target=self._pump_stderr, daemon=True).start()

    def _pump_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in iter(self.proc.stdout.readline, b""):
            self.raw_stdout.append(line)
            self.frames.put(line)
        self.frames.put(None)

    def _pump_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in iter(self.proc.stderr.readline, b""):
            self._stderr.append(line)

    @property
    def stderr(self) -> str:
        return b"".join(self._stderr).decode("utf-8", "replace")

    def stderr_once(self, marker: str, timeout: float = 5.0) -> str:
        """stderr once `marker` is in it, or as it is after `timeout` (stderr is read on a thread, even after exit)."""
        deadline = time.monotonic() + timeout
        while marker not in self.stderr and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.stderr

    # -- sending -----------------------------------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: Any) -> None:
        self.send_raw(json.dumps(message, separators=(",", ":")).encode() + b"\n")

    def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def request(self, method: str, params: Any = None, *, rpc_id: Any = None, timeout: float = REPLY_TIMEOUT_S) -> dict:
        """Send a request and return its response (frames for other ids are skipped)."""
        if rpc_id is None:
            rpc_id = self._next_id
            self._next_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": rpc_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        while True:
            frame = self.read_frame(timeout)
            if isinstance(frame, dict) and frame.get("id") == rpc_id:
                return frame

    def call(self, rpc_id: Any, method: str, params: Any, timeout: float = REPLY_TIMEOUT_S) -> dict[str, Any]:
        """Send a request whose reply must be the next frame (nothing else pending): the reply."""
        self.send_raw(frame(rpc_id, method, params))
        reply = self.read_frame(timeout)
        assert isinstance(reply, dict) and reply.get("id") == rpc_id, reply
        return reply

    def initialize(self, options: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.call("init", "initialize", {"protocolVersion": 1, "options": options or {}})

    def result(self, method: str, params: Any = None, *, timeout: float = REPLY_TIMEOUT_S) -> Any:
        """The `result` of a request; fails the test with the error and the brain's stderr otherwise."""
        reply = self.request(method, params, timeout=timeout)
        assert "result" in reply, f"{method} failed: {reply}\n--- brain stderr ---\n{self.stderr[-4000:]}"
        return reply["result"]

    # -- receiving ---------------------------------------------------------------------------------------------

    def read_line(self, timeout: float = REPLY_TIMEOUT_S) -> bytes:
        try:
            line = self.frames.get(timeout=timeout)
        except queue.Empty:
            raise NoReply(f"no frame within {timeout}s\n--- brain stderr ---\n{self.stderr[-4000:]}") from None
        if line is None:
            self.frames.put(None)  # stay closed for later readers
            raise NoReply(f"brain closed stdout\n--- brain stderr ---\n{self.stderr[-4000:]}")
        return line

    def read_frame(self, timeout: float = REPLY_TIMEOUT_S) -> Any:
        return json.loads(self.read_line(timeout))

    def assert_silent(self, seconds: float) -> None:
        """Nothing arrives on stdout for `seconds` (e.g. after a notification)."""
        try:
            line = self.frames.get(timeout=seconds)
        except queue.Empty:
            return
        if line is None:
            self.frames.put(None)
            return
        raise AssertionError(f"unexpected frame: {line[:400]!r}")

    def rss_mb(self) -> float:
        """Resident memory of the child, in MiB (Linux)."""
        for row in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    # -- ending ------------------------------------------------------------------------------------------------

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.close()
        except OSError:
            pass

    def wait(self, timeout: float = EXIT_TIMEOUT_S) -> int:
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=EXIT_TIMEOUT_S)

    def close(self) -> int:
        """End of input, then the exit code; a child still running after EXIT_TIMEOUT_S is killed and this raises."""
        self.close_stdin()
        try:
            return self.wait()
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def __enter__(self) -> RpcProcess:
        return self

    def __exit__(self, *_exc: object) -> None:
        try:
            self.close()
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
