"""`kimchi-plugin explain "<message>"`: why the plugin would route a message where it does — the same answer `/why`
gives in a session, built by the same Brain from the user's OpenCode config (models, the plugin's options) with the
user's learned corrections for this project. With `--session`
the turns of a recorded session (`record: true`) are replayed first, so the message is explained in its context."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from kimchi_plugin.app import command_services, quiet_logs
from kimchi_plugin.brain import Brain, UserTurn
from kimchi_plugin.cli import opencode_config

SESSION = "explain"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", help="the message to explain")
    parser.add_argument("--session", help="a recording (file) or a recorded session id: explain in its context")
    parser.add_argument("--agent", help="route as this agent (default: the primary agent, as in OpenCode)")
    parser.add_argument("--project", default=os.getcwd(), help="the project whose corrections apply (default: here)")
    parser.add_argument("--global-corrections", action="store_true", help="use the corrections kept for all projects")
    parser.add_argument("--no-learn", action="store_true", help="ignore learned corrections")


async def explain(args: argparse.Namespace) -> str:
    project = Path(args.project).resolve()
    config = opencode_config.load(os.environ, project)
    options: dict[str, Any] = {**opencode_config.plugin_options(config), "llmClassifier": False, "toasts": False}
    if args.no_learn:
        options["learn"] = False
    if args.global_corrections:
        options["learnScope"] = "global"
    if args.session:
        from kimchi_plugin.cli.replay import Replay, load_session

        replay = Replay(load_session(args.session, os.environ))
        brain, session = replay.brain, replay.loaded.session or SESSION
        await replay.run({"toasts": False})
    else:
        brain, session = Brain(command_services(env=os.environ)), SESSION
        brain.start(options, str(project))
        await brain.configure(config)
    try:
        await brain.route(UserTurn(session, args.text, args.agent, "auto"))
        return brain.why(session)
    finally:
        await brain.close()


def run(args: argparse.Namespace) -> int:
    quiet_logs()
    try:
        print(asyncio.run(explain(args)))
    except (OSError, ValueError) as exc:
        print(f"explain: {exc}", file=sys.stderr)
        return 2
    return 0
