"""`kimchi-plugin route`: try the router from the command line, one message or a JSON-lines stream.

It routes through the plugin's own Brain and defaults: the catalogue the plugin would use (its disk copy, else the
one shipped with the package), the primary-agent floor (a message without an agent goes to the default, primary
agent), OpenCode's built-in subagents. Offline unless `--llm` is passed; nothing is recorded. Lines that share a
`session` id share routing state, so a multi-turn conversation can be replayed; a line's `prev`
(`{"text", "profile"?}`) stands for the turn before it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from kimchi_plugin.app import command_services, quiet_logs
from kimchi_plugin.brain import Brain, UserTurn
from kimchi_plugin.routing.router import Decision
from kimchi_plugin.routing.tiers import Profile


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="?", help="the message to route (omit with --jsonl)")
    parser.add_argument(
        "--jsonl", action="store_true", help='read {"text", "agent"?, "session"?, "prev"?} lines from stdin'
    )
    parser.add_argument("--agent", help="route as this agent (default: the primary agent, as in OpenCode)")
    parser.add_argument("--raw", action="store_true", help="no primary-agent floor: the classifier's own tier")
    parser.add_argument("--models", help="comma-separated model ids to route among instead of the catalogue")
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


async def configured_brain(args: argparse.Namespace) -> Brain:
    """The plugin's Brain with the plugin's options (the floor off with `--raw`) and OpenCode's config for them."""
    brain = Brain(command_services(env=os.environ, llm=args.llm))
    brain.start({"primaryFloor": not args.raw, "llmClassifier": args.llm, "toasts": False, "learn": False})
    models = [m.strip() for m in (args.models or "").split(",") if m.strip()]
    config: dict[str, Any] = {"provider": {brain.provider_id: {"models": {m: {} for m in models}}}} if models else {}
    await brain.configure(config)
    if args.llm and brain.setup.llm is None:
        print("route: --llm needs an API key (KIMCHI_API_KEY) and a model; continuing offline", file=sys.stderr)
    return brain


async def route_lines(brain: Brain, lines: Iterable[str], default_agent: str | None, out: TextIO) -> int:
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
        session = str(item.get("session") or f"line-{number}")
        prev = item.get("prev")
        if isinstance(prev, dict) and isinstance(prev.get("text"), str):
            brain.replay_turn(session, prev["text"], _profile(prev.get("profile")))
        agent = item.get("agent") or default_agent
        routed = await brain.route(UserTurn(session, text, agent if isinstance(agent, str) else None, "auto"))
        out.write(json.dumps(decision_json(routed.decision), ensure_ascii=False) + "\n")
    return 0


def _profile(value: object) -> Profile | None:
    try:
        return Profile(value)
    except ValueError:
        return None


async def _run(args: argparse.Namespace, lines: Iterable[str]) -> int:
    brain = await configured_brain(args)
    try:
        return await route_lines(brain, lines, args.agent, sys.stdout)
    finally:
        await brain.close()


def run(args: argparse.Namespace) -> int:
    quiet_logs()
    if args.jsonl:
        return asyncio.run(_run(args, sys.stdin))
    if not args.text:
        print("route: give a message or --jsonl", file=sys.stderr)
        return 2
    return asyncio.run(_run(args, [json.dumps({"text": args.text})]))
