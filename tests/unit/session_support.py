"""Helpers for session-intelligence tests: a Runtime on a fixed registry and clock, and hook-call shorthands."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

from kimchi_plugin.opencode import chat, events, tools
from kimchi_plugin.opencode.runtime import Runtime
from kimchi_plugin.routing.registry import Registry
from kimchi_plugin.routing.router import Policy, Router
from kimchi_plugin.rpc.protocol import EventParams, HookParams

NOW = datetime(2026, 11, 25, tzinfo=timezone.utc)


class Clock:
    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def registry(*models: str, **configured: dict[str, Any]) -> Registry:
    config: dict[str, Any] = {m: {} for m in models}
    config.update(configured)
    return Registry.build(provider_models=config, api_models=None, pins=None, priorities=None, now=NOW)


def window(tokens: int) -> dict[str, Any]:
    """A provider model entry declaring a context window."""
    return {"limit": {"context": tokens, "output": 4096}}


def runtime(reg: Registry, clock: Clock | None = None) -> tuple[Runtime, list[list[dict[str, Any]]]]:
    """A Runtime on `reg` whose pushed actions are collected in the returned list."""
    pushed: list[list[dict[str, Any]]] = []
    rt = Runtime(clock=clock or Clock(), env={}, push_actions=pushed.append)
    rt.registry = reg
    rt.router = Router(reg, Policy(llm_threshold=0.0))
    return rt, pushed


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def send(rt: Runtime, session: str, text: str, *, model: str = "auto", agent: str = "build") -> dict[str, Any]:
    """A `chat.message` call for a user message."""
    params = HookParams(
        input={"sessionID": session, "agent": agent, "model": {"providerID": "kimchi", "modelID": model}},
        output={
            "message": {"sessionID": session, "agent": agent, "model": {"providerID": "kimchi", "modelID": model}},
            "parts": [{"type": "text", "text": text}],
        },
    )
    return run(chat.chat_message(rt, params))


def routed_model(result: dict[str, Any]) -> str | None:
    return (result["output"].get("message") or {}).get("model", {}).get("modelID")


def event(rt: Runtime, kind: str, **properties: Any) -> None:
    run(events.on_event(rt, EventParams(event={"type": kind, "properties": properties})))


def tool_after(rt: Runtime, session: str, tool: str, output: str = "ok", **args: Any) -> dict[str, Any]:
    params = HookParams(
        input={"tool": tool, "sessionID": session, "callID": "c1", "args": args},
        output={"title": tool, "output": output, "metadata": {}},
    )
    return run(tools.tool_after(rt, params))


def transcript(rt: Runtime, session: str, texts: list[str]) -> dict[str, Any]:
    """An `experimental.chat.messages.transform` call with one text message per entry (user, assistant, ...)."""
    messages = [
        {
            "info": {"id": f"m{i}", "role": "user" if i % 2 == 0 else "assistant", "sessionID": session},
            "parts": [{"type": "text", "text": text}],
        }
        for i, text in enumerate(texts)
    ]
    return run(chat.messages_transform(rt, HookParams(input={}, output={"messages": messages})))


def system(rt: Runtime, session: str, model: str, blocks: list[str]) -> list[str]:
    params = HookParams(
        input={"sessionID": session, "model": {"id": model, "providerID": "kimchi"}}, output={"system": list(blocks)}
    )
    return run(chat.system_transform(rt, params))["output"].get("system", blocks)


def calls(actions: list[dict[str, Any]], call: str) -> list[dict[str, Any]]:
    return [a for a in actions if a.get("call") == call]
