"""`kimchi-plugin stats`: prints the usage report of the local database (see usage.report) as text or JSON."""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import sys
import time
from datetime import datetime

from kimchi_plugin.usage import limits as spend_limits
from kimchi_plugin.usage.report import Line, Report, build_report, render
from kimchi_plugin.usage.store import connect, default_db_path

_RELATIVE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}


def parse_since(text: str, now: float) -> int:
    """`7d`, `12h`, `30m`, `2w` (relative to `now`) or an ISO date/datetime (local time) → epoch ms."""
    match = _RELATIVE.match(text)
    if match:
        return int(now * 1000) - int(match.group(1)) * _UNIT_MS[match.group(2).lower()]
    try:
        return int(datetime.fromisoformat(text.strip()).timestamp() * 1000)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--since: expected e.g. 7d, 24h or 2026-11-01, got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--session", metavar="ID", help="one session (and its subagent sessions)")
    parser.add_argument("--since", metavar="WHEN", help="only calls since 7d, 24h, 30m, 2w or a date like 2026-11-01")
    parser.add_argument("--db", metavar="PATH", help=f"usage database (default {default_db_path()})")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    path = args.db or default_db_path()
    try:
        since_ms = parse_since(args.since, time.time()) if args.since else None
    except argparse.ArgumentTypeError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    parts = [f"session {args.session}" if args.session else "", f"since {args.since}" if args.since else ""]
    scope = ", ".join(filter(None, parts)) or "all time"
    limits = spend_limits.load(spend_limits.limits_path(path))
    today = 0.0
    if os.path.exists(path):
        try:
            conn = connect(path, readonly=True)
            try:
                report = build_report(conn, session=args.session, since_ms=since_ms, scope=scope)
                if limits.day is not None:
                    today = build_report(conn, since_ms=spend_limits.day_start_ms(time.time())).total.cost_usd
            finally:
                conn.close()
        except sqlite3.Error as exc:
            print(f"cannot read {path}: {exc}", file=sys.stderr)
            return 1
    else:
        report = Report(scope, Line("total"))
    session_spent = report.total.cost_usd if args.session else None
    if args.json:
        out = report.to_json()
        out["limits"] = {"session_usd": limits.session, "day_usd": limits.day, "spent_today_usd": today}
        print(json.dumps(out, indent=2))
    else:
        shown = spend_limits.describe(limits, today, session_spent)
        print(f"{render(report)}\n\n{shown}" if shown else render(report))
    return 0
