"""Many sessions routing at once through one brain, as under `opencode serve`: every reply answers its own request,
no session sees another's state, and a session's messages take effect in the order they were sent."""

from __future__ import annotations

import asyncio
import json
import re
import zlib
from dataclasses import replace
from pathlib import Path

from kimchi_plugin.app import plugin_services
from kimchi_plugin.brain import Brain
from kimchi_plugin.opencode.routes import build_routes
from kimchi_plugin.routing.tiers import PROFILE_TIER, Profile, Tier
from kimchi_plugin.rpc.dispatch import build_dispatcher

PINS = {"reasoning": "glm-5", "coding": "kimi-k2.5", "quick": "minimax-m2.7"}  # one distinct model per tier
MODEL_OF = {Tier(tier): model for tier, model in PINS.items()}
OPTIONS = {"models": PINS, "primaryFloor": False, "llmClassifier": False, "toasts": False}
CONFIG = {"model": "kimchi/auto", "provider": {"kimchi": {"models": {m: {} for m in PINS.values()}}}}
SESSIONS = 60
MESSAGES_PER_SESSION = 8
MAX_YIELDS = 16  # event-loop turns a classification takes: differs per message, no wall-clock wait
TAG = re.compile(r"\[(S\d+) tier=(\w+) #(\d+)\]")
PROFILES = list(Profile)


def _chat(rpc_id: int, session: str, text: str) -> dict:
    model = {"providerID": "kimchi", "modelID": "auto"}
    return {
        "jsonrpc": "2.0",
        "id": rpc_id,
        "method": "chat.message",
        "params": {
            "input": {"sessionID": session, "agent": "build", "model": model, "messageID": f"m{rpc_id}"},
            "output": {
                "message": {"id": f"m{rpc_id}", "sessionID": session, "agent": "build", "model": model},
                "parts": [{"type": "text", "text": text}],
            },
        },
    }


def _routed_model(reply: dict) -> str:
    return reply["result"]["output"]["message"]["model"]["modelID"]


def _session_plan(k: int) -> tuple[Profile | None, Tier]:
    """Even sessions lock a profile with their first message; odd ones are routed by the (slow) classifier."""
    if k % 2 == 0:
        profile = PROFILES[(k // 2) % len(PROFILES)]
        return profile, PROFILE_TIER[profile]
    return None, list(Tier)[k % 3]


class SlowClassifier:
    """Answers the tier written in the message after a number of event-loop turns that differs per message, so that
    sessions interleave; records any call whose "previous message" belongs to another session."""

    def __init__(self) -> None:
        self.calls = 0
        self.foreign: list[tuple[str, str]] = []

    async def __call__(self, text: str, previous: str) -> Tier | None:
        self.calls += 1
        found = TAG.search(text)
        assert found is not None, text
        session, tier, _ = found.groups()
        if previous and f"[{session} " not in previous:
            self.foreign.append((text, previous))
        for _ in range(zlib.crc32(text.encode()) % (MAX_YIELDS + 1)):
            await asyncio.sleep(0)
        return Tier(tier)

    async def close(self) -> None:
        return None


async def _brain(tmp_path: Path) -> tuple[Brain, object, SlowClassifier]:
    """The plugin's brain whose LLM second opinion (asked for every automatic decision) is the slow classifier."""
    llm = SlowClassifier()
    env = {"HOME": str(tmp_path), "KIMCHI_API_KEY": "sk-test-key", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    services = replace(plugin_services(env=env, log_file=str(tmp_path / "b.log")), make_llm=lambda _spec: llm)
    brain = Brain(services)
    dispatch = build_dispatcher(build_routes(brain))
    options = {**OPTIONS, "llmClassifier": True, "llmClassifierThreshold": 1.0}
    await dispatch(
        json.dumps(
            {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": 1, "options": options}}
        )
    )
    await dispatch(json.dumps({"jsonrpc": "2.0", "id": 0, "method": "config", "params": {"output": CONFIG}}))
    return brain, dispatch, llm


def test_sessions_routing_at_once_keep_their_own_state(tmp_path: Path):
    async def scenario() -> tuple[Brain, SlowClassifier, list[str]]:
        runtime, dispatch, llm = await _brain(tmp_path)
        problems: list[str] = []

        async def session(k: int) -> None:
            sid = f"ses_{k:03d}"
            lock, tier = _session_plan(k)
            for n in range(MESSAGES_PER_SESSION):
                rpc_id = k * 1000 + n
                text = f"what about this part [S{k} tier={tier.value} #{n}]"
                if lock is not None and n == 0:
                    text = f"/lock {lock.value} {text}"
                reply = json.loads(await dispatch(json.dumps(_chat(rpc_id, sid, text))))
                if reply.get("id") != rpc_id:
                    problems.append(f"{sid}#{n}: reply id {reply.get('id')}")
                elif _routed_model(reply) != MODEL_OF[tier]:
                    problems.append(f"{sid}#{n}: routed to {_routed_model(reply)}, expected {MODEL_OF[tier]}")

        await asyncio.gather(*(session(k) for k in range(SESSIONS)))
        return runtime, llm, problems

    runtime, llm, problems = asyncio.run(scenario())

    assert problems == []
    assert llm.foreign == []
    assert llm.calls == (SESSIONS // 2) * MESSAGES_PER_SESSION  # the automatic sessions really interleaved
    for k in range(SESSIONS):
        lock, tier = _session_plan(k)
        state = runtime.sessions.peek(f"ses_{k:03d}")
        assert state is not None and state.session_id == f"ses_{k:03d}"
        assert state.lock == lock
        assert {turn.tier for turn in state.history} == {tier}
        assert {turn.source for turn in state.history} == ({"lock"} if lock else {"llm"})


def test_every_batch_element_is_answered_with_its_own_id(tmp_path: Path):
    async def scenario() -> list:
        _, dispatch, _ = await _brain(tmp_path)
        batch = [_chat(i, f"ses_{i % 7}", f"[S{i % 7} tier=quick #{i}] where is the config") for i in range(50)]
        return json.loads(await dispatch(json.dumps(batch)))

    replies = asyncio.run(scenario())

    assert sorted(r["id"] for r in replies) == list(range(50))
    assert {_routed_model(r) for r in replies} == {MODEL_OF[Tier.QUICK]}
