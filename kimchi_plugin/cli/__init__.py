"""Command line: `serve` (default, the stdio JSON-RPC brain), `route` (try the router), `stats` (spend and savings),
`doctor` (what is wrong and how to fix it).

Only the chosen command's module is imported: `serve` sits on OpenCode's start-up path.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# command → (module with add_arguments/run, help)
TOOLS = {
    "route": ("kimchi_plugin.cli.route", "show the routing decision for a message"),
    "stats": ("kimchi_plugin.cli.stats", "spend by tier and model, and savings versus the top models"),
    "explain": ("kimchi_plugin.cli.explain", "why a message is routed where it is (what /why answers in a session)"),
    "learn": ("kimchi_plugin.cli.learn", "the routing corrections learned from you; --reset forgets them"),
    "record": ("kimchi_plugin.cli.record", "write a recorded session, keys removed, to a file for a bug report"),
    "replay": ("kimchi_plugin.cli.replay", "re-run a recording's decisions with this brain and show differences"),
    "doctor": ("kimchi_plugin.cli.doctor", "check Python, the key, the catalogue and the config the plugin produces"),
}


def _parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kimchi-plugin", description="opencode-kimchi routing brain")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the JSON-RPC brain on stdin/stdout (what the OpenCode plugin starts)")
    serve.add_argument("--log-file", help="also write logs to this file")
    serve.add_argument("-v", "--verbose", action="store_true", help="debug logs (KIMCHI_LOG_LEVEL wins)")
    for name, (module, text) in TOOLS.items():
        tool = sub.add_parser(name, help=text)
        if name == command:
            importlib.import_module(module).add_arguments(tool)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    wanted = next((arg for arg in argv if not arg.startswith("-")), "serve")
    args = _parser(wanted).parse_args(argv)
    command = args.command or "serve"
    if command in TOOLS:
        code: int = importlib.import_module(TOOLS[command][0]).run(args)
        return code
    from kimchi_plugin.app import run_server

    return run_server(verbose=getattr(args, "verbose", False), log_file=getattr(args, "log_file", None))
