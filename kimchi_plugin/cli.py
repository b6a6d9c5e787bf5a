"""Command line: `serve` (default, the stdio JSON-RPC brain), `route` (try the router), `stats` (spend and savings)."""

from __future__ import annotations

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kimchi-plugin", description="opencode-kimchi routing brain")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the JSON-RPC brain on stdin/stdout (what the OpenCode plugin starts)")
    serve.add_argument("--log-file", help="also write logs to this file")
    serve.add_argument("-v", "--verbose", action="store_true", help="debug logs (KIMCHI_LOG_LEVEL wins)")
    from kimchi_plugin import route_cli

    route_cli.add_arguments(sub.add_parser("route", help="show the routing decision for a message"))
    from kimchi_plugin import stats_report

    stats_report.add_arguments(sub.add_parser("stats", help="spend by tier and model, and savings versus the top models"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    command = args.command or "serve"
    if command == "serve":
        from kimchi_plugin.app import run_server

        return run_server(verbose=getattr(args, "verbose", False), log_file=getattr(args, "log_file", None))
    if command == "route":
        from kimchi_plugin import route_cli

        return route_cli.run(args)
    if command == "stats":
        from kimchi_plugin import stats_report

        return stats_report.run(args)
    return 2
