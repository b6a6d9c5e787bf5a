"""`kimchi-plugin stats`: spend by tier and model and the savings versus sending everything to the top Reasoning or
top Coding model, read from the local usage database (offline: each row carries the baseline prices of its time).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime

from kimchi_plugin.usage.store import SESSION_TREE, connect, default_db_path

SMALL_USD = 0.01  # amounts below this are shown with 6 decimals
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


@dataclass(slots=True)
class Line:
    """Totals of a group of rows. Baseline sums cover only rows whose baseline price was known."""

    key: str
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0


@dataclass(slots=True)
class Savings:
    baseline: str  # reasoning | coding
    models: list[str]
    calls_covered: int
    actual_usd: float
    baseline_usd: float

    @property
    def saved_usd(self) -> float:
        return self.baseline_usd - self.actual_usd


@dataclass(slots=True)
class Report:
    scope: str
    total: Line
    by_tier: list[Line] = field(default_factory=list)
    by_model: list[Line] = field(default_factory=list)
    savings: list[Savings] = field(default_factory=list)

    def to_json(self) -> dict:
        out = asdict(self)
        out["savings"] = [{**asdict(s), "saved_usd": s.saved_usd} for s in self.savings]
        return out


_SUMS = (
    "COUNT(*), COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens + reasoning_tokens), 0), "
    "COALESCE(SUM(cache_read_tokens), 0), COALESCE(SUM(cache_write_tokens), 0), COALESCE(SUM(cost_usd), 0)"
)


def build_report(
    conn: sqlite3.Connection, *, session: str | None = None, since_ms: int | None = None, scope: str = "all time"
) -> Report:
    """Aggregate the rows of one session (with its child sessions) and/or since a time."""
    prefix, where, params = "", ["1=1"], []
    if session:
        prefix = SESSION_TREE
        params.append(session)
        where.append("session_id IN (SELECT id FROM tree)")
    if since_ms is not None:
        where.append("COALESCE(completed_ms, recorded_ms) >= ?")
        params.append(since_ms)
    cond = " AND ".join(where)

    def query(sql: str) -> list[tuple]:
        return conn.execute(prefix + sql, params).fetchall()

    total = Line("total", *query(f"SELECT {_SUMS} FROM turns WHERE {cond}")[0])
    by_tier = [
        Line(*row)
        for row in query(
            f"SELECT tier, {_SUMS} FROM turns WHERE {cond} GROUP BY tier ORDER BY SUM(cost_usd) DESC, tier"
        )
    ]
    by_model = [
        Line(*row)
        for row in query(
            f"SELECT model, {_SUMS} FROM turns WHERE {cond} GROUP BY model ORDER BY SUM(cost_usd) DESC, model"
        )
    ]
    savings = []
    for name in ("reasoning", "coding"):
        calls, actual, baseline = query(
            f"SELECT COUNT(*), COALESCE(SUM(cost_usd), 0), COALESCE(SUM({name}_cost_usd), 0) FROM turns "
            f"WHERE {cond} AND {name}_cost_usd IS NOT NULL"
        )[0]
        if calls:
            models = [
                m
                for (m,) in query(
                    f"SELECT {name}_model FROM turns WHERE {cond} AND {name}_cost_usd IS NOT NULL "
                    f"GROUP BY {name}_model ORDER BY MAX(recorded_ms) DESC"
                )
            ]
            savings.append(Savings(name, models, calls, actual, baseline))
    return Report(scope, total, by_tier, by_model, savings)


def _usd(amount: float) -> str:
    if abs(amount) < SMALL_USD:
        return f"${amount:.6f}"
    return f"${amount:,.4f}" if abs(amount) < 100 else f"${amount:,.2f}"


def render(report: Report) -> str:
    t = report.total
    out = [f"opencode-kimchi usage ({report.scope})"]
    if t.calls == 0:
        out.append("No routed model calls recorded.")
        return "\n".join(out)
    out.append(
        f"{t.calls} model calls, {_usd(t.cost_usd)}; tokens: {t.input_tokens:,} in, {t.output_tokens:,} out, "
        f"{t.cache_read_tokens:,} cache read, {t.cache_write_tokens:,} cache write"
    )
    header = f"  {'':<26}{'calls':>7}{'input':>12}{'output':>10}{'cache r':>11}{'cache w':>9}{'cost':>12}"
    for title, lines in (("By tier", report.by_tier), ("By model", report.by_model)):
        out += ["", title, header]
        out += [
            f"  {ln.key[:25]:<26}{ln.calls:>7}{ln.input_tokens:>12,}{ln.output_tokens:>10,}"
            f"{ln.cache_read_tokens:>11,}{ln.cache_write_tokens:>9,}{_usd(ln.cost_usd):>12}"
            for ln in lines
        ]
    out += ["", "Savings (the same tokens priced on one model)"]
    if not report.savings:
        out.append("  no baseline prices recorded")
    for s in report.savings:
        label = f"all on the top {s.baseline.capitalize()} model ({', '.join(s.models)})"
        share = f" ({s.saved_usd / s.baseline_usd:.0%})" if s.baseline_usd > 0 else ""
        verb = f"saved {_usd(s.saved_usd)}{share}" if s.saved_usd >= 0 else f"{_usd(-s.saved_usd)} more spent"
        covered = "" if s.calls_covered == t.calls else f" [{s.calls_covered} of {t.calls} calls priced]"
        out.append(f"  vs {label}: {_usd(s.baseline_usd)} → {verb}{covered}")
    return "\n".join(out)


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
    scope = (
        ", ".join(
            filter(
                None, [f"session {args.session}" if args.session else "", f"since {args.since}" if args.since else ""]
            )
        )
        or "all time"
    )
    if os.path.exists(path):
        try:
            conn = connect(path, readonly=True)
            try:
                report = build_report(conn, session=args.session, since_ms=since_ms, scope=scope)
            finally:
                conn.close()
        except sqlite3.Error as exc:
            print(f"cannot read {path}: {exc}", file=sys.stderr)
            return 1
    else:
        report = Report(scope, Line("total"))
    print(json.dumps(report.to_json(), indent=2) if args.json else render(report))
    return 0
