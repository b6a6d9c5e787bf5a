"""Recording a session for a bug report: the frames OpenCode sent (hooks, events, our tool calls), what the brain
decided for each message, and what it read from outside (the catalogue, the LLM second opinion, learned corrections),
one JSON object per line, with keys and secrets removed. `kimchi-plugin replay` re-runs such a file through a fresh
Brain; the e2e fixtures and the routing regression tests use the same format.

On with the option `record` (true: a file per process under `$XDG_STATE_HOME/opencode-kimchi/recordings/`, or a path).
A recording problem turns recording off with one warning: it never fails a hook."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import structlog

from kimchi_plugin.brain import Brain
from kimchi_plugin.brain.services import LlmClient, LlmSpec
from kimchi_plugin.logs import REDACTED, redact
from kimchi_plugin.opencode import vocabulary as v
from kimchi_plugin.routing.tiers import Tier
from kimchi_plugin.rpc.dispatch import Route
from kimchi_plugin.settings import home

log = structlog.get_logger("kimchi.recording")

FORMAT = "kimchi-recording"
VERSION = 1
SKIPPED_HOOKS = frozenset({v.TOOL_DEFINITION_HOOK})  # per-step tool descriptions: large, and no routing input
_SECRET_KEY = re.compile(r"(?i)(api[_-]?key|authorization|token|secret|password|credential|cookie|^key$)")
_KEY_LIKE = re.compile(r"\b(?:sk|pk|rk|key)-[A-Za-z0-9_-]{12,}")


def scrub(value: Any) -> Any:
    """`value` without secrets: fields named like a key are blanked, strings pass the log redactor and lose anything
    shaped like an API key."""
    if isinstance(value, str):
        return _KEY_LIKE.sub(REDACTED, redact(value))
    if isinstance(value, Mapping):
        return {
            str(k): (REDACTED if _SECRET_KEY.search(str(k)) and isinstance(val, str) else scrub(val))
            for k, val in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [scrub(item) for item in value]
    return value


def default_recordings_dir(env: Mapping[str, str]) -> Path:
    state = env.get("XDG_STATE_HOME") or os.path.join(home(env), ".local", "state")
    return Path(state) / "opencode-kimchi" / "recordings"


def llm_key(text: str, previous: str) -> str:
    """What identifies one LLM second opinion in a recording (the question, not stored twice)."""
    return hashlib.sha256(f"{previous}\x00{text}".encode()).hexdigest()[:16]


def decision_of(brain: Brain, session_id: str | None, message_id: str | None) -> dict[str, Any] | None:
    """The brain's decision for a message, as recordings keep it (and replay compares it)."""
    last = brain.explainer.last(session_id) if session_id else None
    if last is None or last.message_id != message_id:
        return None
    decision = last.decision
    return {
        "model": decision.model.id if decision.model else None,
        "tier": decision.tier.value,
        "profile": decision.profile.value,
        "step": decision.why.step if decision.why else decision.source,
    }


def session_of(frame: Mapping[str, Any]) -> str | None:
    """The session a frame belongs to, if any."""
    params = frame.get("params") or frame.get("event") or {}
    for holder in (params.get("input"), params.get("context"), params.get("properties"), params.get("output")):
        if isinstance(holder, Mapping):
            for candidate in (holder, holder.get("info"), holder.get("message")):
                if isinstance(candidate, Mapping) and isinstance(candidate.get("sessionID"), str):
                    return str(candidate["sessionID"])
            messages = holder.get("messages")
            if isinstance(messages, list) and messages and isinstance(messages[0], Mapping):
                info = messages[0].get("info")
                if isinstance(info, Mapping) and isinstance(info.get("sessionID"), str):
                    return str(info["sessionID"])
    return None


@dataclass
class Recording:
    """The plugin process's recorder: inactive until `initialize` brings a `record` option."""

    env: Mapping[str, str]
    clock: Callable[[], float]
    path: Path | None = None

    def start(self, brain: Brain, directory: str) -> None:
        option = brain.settings.record
        if option is False or option == "":
            self.path = None
            return
        stamp = int(self.clock() * 1000)
        path = Path(option) if isinstance(option, str) else default_recordings_dir(self.env) / f"{stamp}.jsonl"
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            self._off(exc)
            return
        options = brain.settings.model_dump(mode="json", exclude={"record", "logFile", "apiKey"})
        corrections = [
            {"at": c.at, "excerpt": c.excerpt, "features": sorted(c.features), "detected": c.detected.value,
             "automatic": c.automatic.value, "target": c.target.value, "kind": c.kind}
            for c in brain.learning.known
        ]  # fmt: skip
        self.write({"kind": "header", "format": FORMAT, "version": VERSION, "options": options, "directory": directory})
        self.write({"kind": "corrections", "corrections": corrections})

    def write(self, frame: dict[str, Any]) -> None:
        if self.path is None:
            return
        try:
            line = json.dumps(scrub({"t": round(self.clock(), 3), **frame}), ensure_ascii=False) + "\n"
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("utf-8", "backslashreplace"))
            finally:
                os.close(fd)
        except (OSError, TypeError, ValueError) as exc:
            self._off(exc)

    def _off(self, exc: Exception) -> None:
        log.warning("recording failed; recording is off", path=str(self.path), error=str(exc))
        self.path = None

    def wrap(self, routes: dict[str, Route], brain: Brain) -> dict[str, Route]:
        """The routes with each call recorded after it is answered; `initialize` starts the recording."""
        return {name: replace(route, handler=self._recorded(name, route, brain)) for name, route in routes.items()}

    def _recorded(self, name: str, route: Route, brain: Brain) -> Any:
        inner = route.handler
        if name in SKIPPED_HOOKS or name == "shutdown":
            return inner  # never recorded

        async def recorded(params: Any) -> Any:
            result = await inner(params)
            if name == "initialize":
                self.start(brain, getattr(params, "directory", ""))
            elif self.path is not None:
                self._frame(name, params, brain)
            return result

        if name == "initialize":
            return recorded

        def handler(params: Any) -> Any:
            """While recording is off (most processes), the call's own coroutine: no layer added to every hook."""
            return recorded(params) if self.path is not None else inner(params)

        return handler

    def _frame(self, name: str, params: Any, brain: Brain) -> None:
        data = params.model_dump(mode="json")
        if name == "event":
            self.write({"kind": "event", "event": data["event"]})
        elif name == "tool.execute":
            self.write({"kind": "tool", "params": data})
        else:
            frame: dict[str, Any] = {"kind": "hook", "method": name, "params": data}
            if name == v.CHAT_MESSAGE_HOOK:
                message = (data.get("output") or {}).get("message") or {}
                session = (data.get("input") or {}).get("sessionID") or message.get("sessionID")
                frame["decision"] = decision_of(brain, session, message.get("id"))
            self.write(frame)

    def catalog(self, load: Callable[[str, str | None], Awaitable[Any]]) -> Any:
        async def recorded(base_url: str, api_key: str | None) -> Any:
            answer = await load(base_url, api_key)
            source = str(getattr(answer.source, "value", answer.source))
            self.write({"kind": "catalog", "source": source, "models": [dict(m) for m in answer.models]})
            return answer

        return recorded

    def llm(self, make: Callable[[LlmSpec], LlmClient | None]) -> Callable[[LlmSpec], LlmClient | None]:
        def made(spec: LlmSpec) -> LlmClient | None:
            client = make(spec)
            return _RecordedLlm(client, self) if client is not None else None

        return made


class _RecordedLlm:
    def __init__(self, inner: LlmClient, recording: Recording) -> None:
        self._inner = inner
        self._recording = recording

    async def __call__(self, text: str, previous: str) -> Tier | None:
        tier = await self._inner(text, previous)
        self._recording.write({"kind": "llm", "key": llm_key(text, previous), "tier": tier.value if tier else None})
        return tier

    async def close(self) -> None:
        await self._inner.close()
