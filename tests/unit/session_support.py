"""Helpers for session-intelligence tests: a Brain on a fixed set of models and an injected clock, with no
environment, no catalogue and no network, and hook-call shorthands through the real handlers."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kimchi_plugin.brain import Brain, Services
from kimchi_plugin.brain.locks import LockStore
from kimchi_plugin.opencode import chat, events, tools
from kimchi_plugin.routing.registry import Registry
from kimchi_plugin.rpc.protocol import Action, EventParams, HookParams

NOW = datetime(2026, 11, 25, tzinfo=timezone.utc)


class Clock:
    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Catalog:
    """A catalogue answer as the real loader gives it."""

    models: Sequence[Mapping[str, Any]] = ()
    source: str = "none"
    refresh: Any = None


def catalog_of(*answers: Catalog) -> Any:
    """A catalogue loader answering `answers` in turn (the last one repeats)."""
    pending = list(answers) or [Catalog()]

    async def load(_base_url: str, _api_key: str | None) -> Catalog:
        return pending.pop(0) if len(pending) > 1 else pending[0]

    return load


def services(
    clock: Clock | None = None,
    *,
    env: Mapping[str, str] | None = None,
    catalog: Any = None,
    bundled: Sequence[Mapping[str, Any]] = (),
    locks: Path | None = None,
    pushed: list[list[Action]] | None = None,
) -> Services:
    clock = clock or Clock()
    return Services(
        clock=clock,
        env=env or {},
        load_catalog=catalog or catalog_of(),
        bundled_models=lambda: tuple(bundled),
        locks=LockStore(locks, clock) if locks is not None else None,
        push_actions=(pushed.append if pushed is not None else lambda _actions: None),
        background_loads=False,
    )


def registry(*models: str, **configured: dict[str, Any]) -> Registry:
    config: dict[str, Any] = {m: {} for m in models}
    config.update(configured)
    return Registry.build(provider_models=config, api_models=None, pins=None, priorities=None, now=NOW)


def window(tokens: int) -> dict[str, Any]:
    """A provider model entry declaring a context window."""
    return {"limit": {"context": tokens, "output": 4096}}


def provider_config(models: Mapping[str, Any]) -> dict[str, Any]:
    return {"provider": {"kimchi": {"models": dict(models)}}}


def configured(brain: Brain, models: Mapping[str, Any], options: Mapping[str, Any] | None = None) -> Brain:
    brain.start({"llmClassifier": False, **(options or {})})
    run(brain.configure(provider_config(models)))
    return brain


def runtime(reg: Registry, clock: Clock | None = None, **options: Any) -> tuple[Brain, list[list[Action]]]:
    """A Brain serving the models of `reg`, whose pushed actions are collected in the returned list."""
    pushed: list[list[Action]] = []
    brain = Brain(services(clock, env={"KIMCHI_API_KEY": "sk-test-key"}, pushed=pushed))
    models = {spec.id: _declared(spec) for spec in reg.models()}
    return configured(brain, models, options), pushed


def _declared(spec: Any) -> dict[str, Any]:
    return {"limit": {"context": spec.context_window, "output": spec.max_output}}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def wire(result: Any) -> dict[str, Any]:
    """A handler's result as the shim receives it."""
    return {"actions": [], **result.wire()}


def send(rt: Brain, session: str, text: str, *, model: str = "auto", agent: str = "build") -> dict[str, Any]:
    """A `chat.message` call for a user message."""
    params = HookParams(
        input={"sessionID": session, "agent": agent, "model": {"providerID": "kimchi", "modelID": model}},
        output={
            "message": {"sessionID": session, "agent": agent, "model": {"providerID": "kimchi", "modelID": model}},
            "parts": [{"type": "text", "text": text}],
        },
    )
    return wire(run(chat.chat_message(rt, params)))


def routed_model(result: dict[str, Any]) -> str | None:
    return (result["output"].get("message") or {}).get("model", {}).get("modelID")


def event(rt: Brain, kind: str, **properties: Any) -> None:
    run(events.on_event(rt, EventParams(event={"type": kind, "properties": properties})))


def tool_after(rt: Brain, session: str, tool: str, output: str = "ok", **args: Any) -> dict[str, Any]:
    params = HookParams(
        input={"tool": tool, "sessionID": session, "callID": "c1", "args": args},
        output={"title": tool, "output": output, "metadata": {}},
    )
    return wire(run(tools.tool_after(rt, params)))


def transcript(rt: Brain, session: str, texts: list[str]) -> dict[str, Any]:
    """An `experimental.chat.messages.transform` call with one text message per entry (user, assistant, ...)."""
    messages = [
        {
            "info": {"id": f"m{i}", "role": "user" if i % 2 == 0 else "assistant", "sessionID": session},
            "parts": [{"type": "text", "text": text}],
        }
        for i, text in enumerate(texts)
    ]
    return wire(run(chat.messages_transform(rt, HookParams(input={}, output={"messages": messages}))))


def system(rt: Brain, session: str, model: str, blocks: list[str]) -> list[str]:
    params = HookParams(
        input={"sessionID": session, "model": {"id": model, "providerID": "kimchi"}}, output={"system": list(blocks)}
    )
    return run(chat.system_transform(rt, params)).output.get("system", blocks)


def params_of(rt: Brain, session: str, model: str, agent: str = "build") -> dict[str, Any]:
    """The `chat.params` patch for a request of the session on `model`."""
    inp = {"sessionID": session, "agent": agent, "model": {"id": model, "providerID": "kimchi"}}
    return run(chat.chat_params(rt, HookParams(input=inp, output={"temperature": 0.7}))).output


def calls(actions: list[Any], call: str) -> list[dict[str, Any]]:
    found = [a.model_dump(mode="json") if isinstance(a, Action) else a for a in actions]
    return [a for a in found if a.get("call") == call]
