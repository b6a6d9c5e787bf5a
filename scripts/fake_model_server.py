"""Fake OpenAI-compatible model server for driving the real OpenCode binary offline.

It records what OpenCode sends (per-request facts, never credentials) and plays scripted
behaviour: injected failures, reported token usage, artificial latency and tool calls.
Standard library only: usable in-process (``with FakeModelServer() as srv``) or as a script.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import signal
import sys
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DEFAULT_MODELS = ("kimi-k2.5", "minimax-m2.7", "claude-sonnet-4")
ANY_MODEL = "*"
CONTROL_PATH = "/__control"
REDACTED = "<redacted>"
REPLY_PREFIX = "served-by:"
COMPLETION_TOKENS = 7
DEFAULT_PROMPT_TOKENS_PER_MESSAGE = 10
# ``CALL_TOOL:<name>:<json-without-spaces>`` in the last user message asks for a tool call; with ``REPEAT_TOOL:<n>``
# beside it the call is made again after each result, n calls in all (a stuck agent loop).
TOOL_CALL_RE = re.compile(r"CALL_TOOL:([A-Za-z0-9_\-]+):(\{\S*\})")
TOOL_REPEAT_RE = re.compile(r"REPEAT_TOOL:(\d+)")

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "server_error",
    503: "service_unavailable",
}


def metadata_entry(slug: str) -> dict[str, Any]:
    """One model as Kimchi's model-metadata route describes it (what `FakeModelServer.metadata` holds)."""
    return {
        "slug": slug,
        "display_name": slug,
        "provider": "kimchi",
        "tool_call": True,
        "is_routable": True,
        "limits": {"context_window": 200_000, "max_output_tokens": 32_768},
        "reasoning": True,
        "pricing": {"input_per_1m": 1.0, "output_per_1m": 3.0},
    }


def served_by(model: str) -> str:
    """The reply text the server gives for ``model``: tests and demos look for it."""
    return f"{REPLY_PREFIX}{model}"


def text_of(content: Any) -> str:
    """Plain text of an OpenAI message ``content`` (string or list of parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return str(content)


def _message_chars(messages: list[dict]) -> int:
    """Characters of every message's text plus tool-call arguments: the basis of scaled usage."""
    total = 0
    for m in messages:
        total += len(text_of(m.get("content")))
        for call in m.get("tool_calls") or ():
            total += len((call.get("function") or {}).get("arguments") or "")
    return total


class _Behaviour:
    """Scripted behaviour, guarded by the server's lock."""

    def __init__(self) -> None:
        self.failures: dict[str, dict[str, Any]] = {}
        self.usage: dict[str, dict[str, float]] = {}
        self.delays: dict[str, float] = {}
        self.reply: str | None = None
        self.caching = False
        self.cached: tuple[str, int] | None = None  # (model, prompt tokens) of the last request with tools

    def take_failure(self, model: str) -> dict[str, Any] | None:
        rule = self.failures.get(model) or self.failures.get(ANY_MODEL)
        if rule is None:
            return None
        if rule["remaining"] is not None:
            rule["remaining"] -= 1
            if rule["remaining"] <= 0:
                key = model if model in self.failures else ANY_MODEL
                del self.failures[key]
        return rule

    def prompt_tokens(self, model: str, messages: list[dict]) -> int:
        rule = self.usage.get(model) or self.usage.get(ANY_MODEL)
        if rule is None:
            return DEFAULT_PROMPT_TOKENS_PER_MESSAGE * len(messages) + 5
        if "fixed" in rule:
            return int(rule["fixed"])
        return int(rule["per_char"] * _message_chars(messages))

    def cache_read(self, model: str, prompt_tokens: int, with_tools: bool) -> int:
        """Prompt tokens served from the cache: the previous agent request's prompt when the same model served it
        (requests without tools, e.g. titles, neither read nor replace it)."""
        if not self.caching or not with_tools:
            return 0
        read = min(self.cached[1], prompt_tokens) if self.cached and self.cached[0] == model else 0
        self.cached = (model, prompt_tokens)
        return read

    def delay(self, model: str) -> float:
        return self.delays.get(model, self.delays.get(ANY_MODEL, 0.0))

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy(
            {
                "failures": self.failures,
                "usage": self.usage,
                "delays": self.delays,
                "reply": self.reply,
                "caching": self.caching,
            }
        )


class FakeModelServer:
    """A threaded fake of the OpenAI chat completions API bound to 127.0.0.1."""

    def __init__(self, *, port: int = 0, log_path: str | Path | None = None, models: Iterable[str] = DEFAULT_MODELS):
        self.models = list(models)
        # Kimchi's model-metadata route (`GET .../models/metadata`): entries to serve, or None for no such route;
        # `metadata_status` other than 200 plays an endpoint that is down.
        self.metadata: list[dict[str, Any]] | None = None
        self.metadata_status = 200
        self.log_path = Path(log_path) if log_path else None
        self._lock = threading.Lock()
        self._requests: list[dict[str, Any]] = []
        self._behaviour = _Behaviour()
        self._counter = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """Root URL (the control endpoint lives here)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """The ``baseURL`` an OpenAI-compatible client needs."""
        return f"{self.url}/v1"

    def start(self) -> FakeModelServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-model-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- recorded requests ------------------------------------------------------------
    @property
    def requests(self) -> list[dict[str, Any]]:
        """A copy of every chat completion request seen so far, oldest first."""
        with self._lock:
            return copy.deepcopy(self._requests)

    def chat_requests(self, *, with_tools: bool | None = None) -> list[dict[str, Any]]:
        """Requests filtered by whether tools were offered (the title request has none)."""
        return [r for r in self.requests if with_tools is None or bool(r["tools"]) == with_tools]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- scripted behaviour ------------------------------------------------------------
    def fail(
        self,
        model: str,
        status: int,
        *,
        times: int | None = None,
        message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Answer requests for ``model`` (``"*"`` = any) with HTTP ``status``.

        ``times`` = how many requests fail before normal service resumes; ``None`` = always.
        ``retry_after`` adds a ``retry-after`` header (seconds).
        """
        if times is not None and times <= 0:
            raise ValueError("times must be positive or None")
        with self._lock:
            self._behaviour.failures[model] = {
                "status": int(status),
                "remaining": times,
                "message": message or f"injected failure {status} for {model}",
                "retry_after": retry_after,
            }

    def clear_failures(self) -> None:
        with self._lock:
            self._behaviour.failures.clear()

    def set_usage(self, model: str, *, prompt_tokens: int | None = None, per_char: float | None = None) -> None:
        """Report ``prompt_tokens`` as a fixed number, or as ``per_char`` x the request's characters."""
        if (prompt_tokens is None) == (per_char is None):
            raise ValueError("give exactly one of prompt_tokens or per_char")
        rule = {"fixed": prompt_tokens} if prompt_tokens is not None else {"per_char": float(per_char)}
        with self._lock:
            self._behaviour.usage[model] = rule

    def set_caching(self, enabled: bool) -> None:
        """Report prompt caching in usage (``prompt_tokens_details.cached_tokens``): a request on the model that
        served the previous agent request reads that request's prompt from the cache."""
        with self._lock:
            self._behaviour.caching = bool(enabled)
            self._behaviour.cached = None

    def set_delay(self, model: str, seconds: float) -> None:
        """Wait ``seconds`` before answering requests for ``model`` (``"*"`` = any)."""
        with self._lock:
            self._behaviour.delays[model] = float(seconds)

    def set_reply(self, text: str | None) -> None:
        """Override the reply text (``None`` restores ``served-by:<model>``)."""
        with self._lock:
            self._behaviour.reply = text

    def reset(self) -> None:
        """Forget scripted behaviour and recorded requests."""
        with self._lock:
            self._behaviour = _Behaviour()
            self._requests.clear()

    def control(self, command: dict[str, Any]) -> dict[str, Any]:
        """Apply one control command (the body of ``POST /__control``); returns the new state."""
        action = command.get("action")
        model = command.get("model", ANY_MODEL)
        if action == "fail":
            self.fail(
                model,
                command["status"],
                times=command.get("times"),
                message=command.get("message"),
                retry_after=command.get("retry_after"),
            )
        elif action == "clear_failures":
            self.clear_failures()
        elif action == "usage":
            self.set_usage(model, prompt_tokens=command.get("prompt_tokens"), per_char=command.get("per_char"))
        elif action == "caching":
            self.set_caching(bool(command.get("enabled", True)))
        elif action == "delay":
            self.set_delay(model, command["seconds"])
        elif action == "reply":
            self.set_reply(command.get("text"))
        elif action == "clear_requests":
            self.clear_requests()
        elif action == "reset":
            self.reset()
        else:
            raise ValueError(f"unknown control action: {action!r}")
        return self.state()

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {"behaviour": self._behaviour.snapshot(), "n_requests": len(self._requests)}

    # -- request handling (called from handler threads) ---------------------------------
    def _plan(self, body: dict[str, Any], headers: dict[str, str], path: str) -> dict[str, Any]:
        """Record the request and decide how to answer it."""
        messages = body.get("messages") or []
        model = str(body.get("model"))
        last = messages[-1] if messages else {}
        last_user = next((text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
        functions = [t.get("function") or {} for t in body.get("tools") or ()]
        tools = [f.get("name") for f in functions]
        tool_results = [text_of(m.get("content")) for m in messages if m.get("role") == "tool"]
        tool_call = None
        user_at = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
        results_since = sum(1 for m in messages[user_at + 1 :] if m.get("role") == "tool")
        repeat = TOOL_REPEAT_RE.search(last_user)
        again = repeat is not None and last.get("role") == "tool" and results_since < int(repeat.group(1))
        if (last.get("role") == "user" or again) and tools:
            match = TOOL_CALL_RE.search(last_user)
            if match:
                tool_call = (match.group(1), match.group(2))
        with self._lock:
            self._counter += 1
            n = self._counter
            failure = self._behaviour.take_failure(model)
            prompt_tokens = self._behaviour.prompt_tokens(model, messages)
            cached = 0 if failure else self._behaviour.cache_read(model, prompt_tokens, bool(tools))
            delay = self._behaviour.delay(model)
            reply = self._behaviour.reply or served_by(model)
            record = {
                "n": n,
                "ts": time.time(),
                "path": path,
                "model": model,
                "stream": bool(body.get("stream")),
                "temperature": body.get("temperature"),
                "top_p": body.get("top_p"),
                "max_tokens": body.get("max_tokens", body.get("max_completion_tokens")),
                "system": "\n".join(text_of(m.get("content")) for m in messages if m.get("role") == "system"),
                "last_user": last_user,
                "last_role": last.get("role"),
                "n_messages": len(messages),
                "n_chars": _message_chars(messages),
                "tools": tools,
                "tool_descriptions": {f.get("name"): f.get("description") for f in functions},
                "tool_results_present": bool(tool_results),
                "tool_results": tool_results,
                "headers": {k: (REDACTED if k.lower() == "authorization" else v) for k, v in headers.items()},
                "status": failure["status"] if failure else 200,
                "reply_kind": "error" if failure else ("tool_call" if tool_call else "text"),
                "prompt_tokens": None if failure else prompt_tokens,
                "cached_tokens": None if failure else cached,
            }
            self._requests.append(record)
            if self.log_path is not None:
                with self.log_path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        return {
            "n": n,
            "model": model,
            "failure": failure,
            "tool_call": tool_call,
            "reply": reply,
            "delay": delay,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": COMPLETION_TOKENS,
                "total_tokens": prompt_tokens + COMPLETION_TOKENS,
                **({"prompt_tokens_details": {"cached_tokens": cached}} if cached else {}),
            },
        }


def _error_body(status: int, message: str) -> dict[str, Any]:
    kind = ERROR_TYPES.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}


def _make_handler(server: FakeModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "fake-model-server/1"

        def log_message(self, fmt: str, *args: object) -> None:  # keep test output quiet
            return

        def _send_json(self, status: int, obj: Any, extra_headers: dict[str, str] | None = None) -> None:
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (extra_headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _read_json(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            return json.loads(raw or b"{}")

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/")
            if path.endswith("/models"):
                self._send_json(
                    200,
                    {
                        "object": "list",
                        "data": [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in server.models],
                    },
                )
            elif path.endswith("/models/metadata") and server.metadata is not None:
                if server.metadata_status == 200:
                    self._send_json(200, {"models": server.metadata})
                else:
                    self._send_json(server.metadata_status, _error_body(server.metadata_status, "metadata down"))
            elif path == CONTROL_PATH:
                self._send_json(200, {**server.state(), "requests": server.requests})
            else:
                self._send_json(404, _error_body(404, f"not found: {self.path}"))

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/")
            try:
                body = self._read_json()
            except ValueError:
                self._send_json(400, _error_body(400, "body is not JSON"))
                return
            if path == CONTROL_PATH:
                try:
                    self._send_json(200, server.control(body))
                except (KeyError, ValueError, TypeError) as exc:
                    self._send_json(400, _error_body(400, f"bad control command: {exc}"))
                return
            if not path.endswith("/chat/completions"):
                self._send_json(404, _error_body(404, f"not found: {self.path}"))
                return
            plan = server._plan(body, dict(self.headers.items()), path)
            if plan["delay"]:
                time.sleep(plan["delay"])
            failure = plan["failure"]
            if failure:
                extra = {"retry-after": str(failure["retry_after"])} if failure["retry_after"] is not None else None
                self._send_json(failure["status"], _error_body(failure["status"], failure["message"]), extra)
            elif body.get("stream"):
                self._stream(plan, include_usage=bool((body.get("stream_options") or {}).get("include_usage", True)))
            else:
                self._send_json(200, _completion(plan))

        def _stream(self, plan: dict[str, Any], include_usage: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            try:
                for chunk in _stream_chunks(plan, include_usage):
                    self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


def _chunk(plan: dict[str, Any], choices: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-fake-{plan['n']}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": plan["model"],
        "choices": choices,
    }


def _stream_chunks(plan: dict[str, Any], include_usage: bool) -> Iterable[dict[str, Any]]:
    """Role chunk, content (or one tool call), finish chunk, then a usage-only chunk."""

    def delta(d: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return _chunk(plan, [{"index": 0, "delta": d, "finish_reason": finish}])

    yield delta({"role": "assistant", "content": ""})
    if plan["tool_call"]:
        name, args = plan["tool_call"]
        yield delta(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": f"call_fake_{plan['n']}",
                        "type": "function",
                        "function": {"name": name, "arguments": ""},
                    }
                ]
            }
        )
        yield delta({"tool_calls": [{"index": 0, "function": {"arguments": args}}]})
        yield delta({}, "tool_calls")
    else:
        for i, word in enumerate(plan["reply"].split(" ")):
            yield delta({"content": word if i == 0 else " " + word})
        yield delta({}, "stop")
    if include_usage:
        yield {**_chunk(plan, []), "usage": plan["usage"]}


def _completion(plan: dict[str, Any]) -> dict[str, Any]:
    if plan["tool_call"]:
        name, args = plan["tool_call"]
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": f"call_fake_{plan['n']}", "type": "function", "function": {"name": name, "arguments": args}}
            ],
        }
        finish = "tool_calls"
    else:
        message = {"role": "assistant", "content": plan["reply"]}
        finish = "stop"
    return {
        "id": f"chatcmpl-fake-{plan['n']}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": plan["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": plan["usage"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: a free one)")
    parser.add_argument("--port-file", help="write the bound port here once listening")
    parser.add_argument("--log", help="append one JSON line per chat request here")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma list for GET /v1/models")
    args = parser.parse_args(argv)
    server = FakeModelServer(port=args.port, log_path=args.log, models=args.models.split(","))
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    with server:
        if args.port_file:
            tmp = Path(args.port_file + ".tmp")
            tmp.write_text(str(server.port))
            tmp.replace(args.port_file)
        print(f"fake model server listening on {server.url}", file=sys.stderr, flush=True)
        stopped.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
