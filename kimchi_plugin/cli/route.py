"""`kimchi-plugin route`: try the router from the command line, one message or a JSON-lines stream.

Raw classification (no primary-agent floor) unless an agent is given; offline unless `--llm` is passed. Lines that
share a `session` id share routing state, so a multi-turn conversation can be replayed; a line's `prev`
(`{"text", "profile"?}`) stands for the turn before it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import datetime, timezone
from typing import Any, TextIO

from kimchi_plugin.routing.classifier import Classification
from kimchi_plugin.routing.conversation import decide
from kimchi_plugin.routing.registry import Registry
from kimchi_plugin.routing.router import Decision, Policy, Request, Router
from kimchi_plugin.routing.sessions import SessionState, SessionStore
from kimchi_plugin.routing.tiers import Profile
from kimchi_plugin.settings import DEFAULT_BASE_URL

# Models the Kimchi endpoint serves, used when --models is not given.
KIMCHI_MODELS = "kimi-k2.5,minimax-m2.7,glm-5-fp8,nemotron-3-super-fp4"
SUBAGENTS = frozenset({"explore", "general"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="?", help="the message to route (omit with --jsonl)")
    parser.add_argument(
        "--jsonl", action="store_true", help='read {"text", "agent"?, "session"?, "prev"?} lines from stdin'
    )
    parser.add_argument("--agent", help="route as this agent (applies the primary-agent floor and subagent tiers)")
    parser.add_argument("--models", default=KIMCHI_MODELS, help="comma-separated model ids the user has")
    parser.add_argument("--llm", action="store_true", help="consult the LLM classifier when unsure (needs an API key)")


def decision_json(decision: Decision) -> dict[str, Any]:
    return {
        "tier": decision.tier.value,
        "profile": decision.profile.value,
        "confidence": round(decision.confidence, 3),
        "source": decision.source,
        "model": decision.model.id if decision.model else None,
        "reason": decision.reason,
        "signals": list(decision.signals),
    }


def _router(args: argparse.Namespace) -> Router:
    models = {model_id.strip(): {} for model_id in args.models.split(",") if model_id.strip()}
    registry = Registry.build(
        provider_models=models, api_models=None, pins=None, priorities=None, now=datetime.now(timezone.utc)
    )
    llm = None
    if args.llm:
        from kimchi_plugin.provider.credentials import find_api_key
        from kimchi_plugin.provider.llm_classifier import LlmClassifier

        key, _ = find_api_key(None, None)
        cheapest = registry.cheapest()
        if key and cheapest is not None:
            llm = LlmClassifier(
                base_url=os.environ.get("KIMCHI_BASE_URL", DEFAULT_BASE_URL),
                api_key=key,
                model_id=cheapest.id,
                deadline_s=1.0,
            )
        else:
            print("route: --llm needs an API key (KIMCHI_API_KEY) and a model; continuing offline", file=sys.stderr)
    return Router(registry, Policy(), llm)


async def _route_lines(router: Router, lines: TextIO, default_agent: str | None, out: TextIO) -> int:
    sessions = SessionStore()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            text = item["text"]
            if not isinstance(text, str):
                raise TypeError("text must be a string")
        except (ValueError, KeyError, TypeError) as exc:
            out.write(json.dumps({"line": number, "error": str(exc)}) + "\n")
            continue
        agent = item.get("agent") or default_agent
        session = str(item.get("session") or f"line-{number}")
        state = sessions.get(session, time.time())
        prev = item.get("prev")
        if isinstance(prev, dict) and isinstance(prev.get("text"), str):
            _replay_previous(prev, state)
        request = Request(
            session_id=session,
            text=text,
            agent=agent,
            primary=agent is not None and agent not in SUBAGENTS,
            requested="auto",
            now=time.time(),
        )
        decision = await router.route(request, state)
        out.write(json.dumps(decision_json(decision), ensure_ascii=False) + "\n")
    return 0


def _replay_previous(prev: dict, state: SessionState) -> None:
    """A line's `prev` turn (`{"text", "profile"?}`) becomes the session's previous turn, so a short follow-up
    ("fix it", "why?") is decided from it; a labelled profile is taken as given, otherwise the turn is classified."""
    try:
        found = Classification(Profile(prev["profile"]), 1.0, ("label",), "label")
    except (KeyError, ValueError):
        found = decide(prev["text"], state.conversation)
    state.conversation.note_decision(prev["text"], found)


def run(args: argparse.Namespace) -> int:
    router = _router(args)
    if args.jsonl:
        return asyncio.run(_route_lines(router, sys.stdin, args.agent, sys.stdout))
    if not args.text:
        print("route: give a message or --jsonl", file=sys.stderr)
        return 2
    line = json.dumps({"text": args.text})
    return asyncio.run(_route_lines(router, [line], args.agent, sys.stdout))
