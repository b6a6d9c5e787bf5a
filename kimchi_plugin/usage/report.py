"""What the usage reports say: the in-chat summary of one session (from its ledger) and the `stats` report (from the
local database). Both give what was spent (cache reads and writes priced), what the top Reasoning and the top Coding
model would have cost for the same work with their own prompt caching (see ledger.pinned_usage), and what cache-aware
routing decisions saved. Offline: each row carries the baseline costs of its time.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any

from kimchi_plugin.usage.ledger import SessionLedger
from kimchi_plugin.usage.store import SESSION_TREE, table_columns

SMALL_USD = 0.01  # amounts below this are shown with 6 decimals
BASELINE_TITLE = "Versus one top model for everything, each with its own prompt caching"
LARGE_USD = 100.0  # amounts from this on are shown with 2 decimals


def usd(amount: float) -> str:
    if abs(amount) < SMALL_USD:
        return f"${amount:.6f}"
    return f"${amount:,.4f}" if abs(amount) < LARGE_USD else f"${amount:,.2f}"


def _verdict(baseline: float, actual: float) -> str:
    """`saved $x (n%)` or `$x more spent`, comparing a baseline with what was spent."""
    saved = baseline - actual
    if saved < 0:
        return f"{usd(-saved)} more spent"
    share = f" ({saved / baseline:.0%})" if baseline > 0 else ""
    return f"saved {usd(saved)}{share}"


# -- one session, in chat ---------------------------------------------------------------------------------------------
def format_summary(ledger: SessionLedger) -> str:
    """Spend by tier and model (cache reads and writes priced), tokens, what one top model would have cost with its
    own caching, what cache-aware decisions saved, and code activity of one session."""
    total = ledger.total
    lines = [
        f"Session usage: {ledger.messages} model calls, {usd(total.cost)}",
        f"Tokens: {total.input:,} in, {total.output + total.reasoning:,} out, "
        f"{total.cache_read:,} cache read, {total.cache_write:,} cache write",
        "By tier:",
    ]
    for tier, usage in sorted(ledger.by_tier.items(), key=lambda kv: -kv[1].cost):
        lines.append(f"  {tier:<10} {ledger.messages_by_tier.get(tier, 0):>4} calls  {usd(usage.cost)}")
    lines.append("By model:")
    for model, usage in sorted(ledger.by_model.items(), key=lambda kv: -kv[1].cost):
        lines.append(f"  {model:<24} {ledger.messages_by_model.get(model, 0):>4} calls  {usd(usage.cost)}")
    if ledger.baseline_model:
        lines.append(f"{BASELINE_TITLE}:")
    for kind in ("reasoning", "coding"):
        if kind in ledger.baseline_model:
            cost, spent = ledger.baseline_usd[kind], ledger.baseline_spent[kind]
            top = ledger.baseline_model[kind]
            lines.append(f"All on the top {kind.capitalize()} model ({top}): {usd(cost)} → {_verdict(cost, spent)}")
    if ledger.kept_warm:
        lines.append(_cache_aware_line(ledger.kept_warm, ledger.cache_saved))
    if ledger.commits or ledger.pull_requests or ledger.lines_added or ledger.lines_removed:
        lines.append(
            f"Code: +{ledger.lines_added} / -{ledger.lines_removed} lines, {ledger.commits} commits, "
            f"{ledger.pull_requests} pull requests"
        )
    return "\n".join(lines)


def _cache_aware_line(decisions: int, saved: float) -> str:
    return f"Cache-aware routing: stayed on a warm model {decisions} times instead of switching, saving {usd(saved)}"


# -- the stats report -------------------------------------------------------------------------------------------------
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
    kept_warm: int = 0  # routing decisions that stayed on a warm cache
    cache_saved_usd: float = 0.0

    def to_json(self) -> dict[str, Any]:
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
    present = table_columns(conn)
    if not present:  # created a moment ago by a writer that has not made its table yet
        return Report(scope, Line("total"))
    prefix, where, params = "", ["1=1"], list[object]()
    if session:
        prefix = SESSION_TREE
        params.append(session)
        where.append("session_id IN (SELECT id FROM tree)")
    if since_ms is not None:
        where.append("COALESCE(completed_ms, recorded_ms) >= ?")
        params.append(since_ms)
    cond = " AND ".join(where)

    def query(sql: str) -> list[tuple[Any, ...]]:
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
    kept_warm, cache_saved = 0, 0.0
    if "cache_saved_usd" in present:  # absent from a table an older version wrote and no newer one upgraded yet
        kept_warm, cache_saved = query(
            f"SELECT COUNT(*), COALESCE(SUM(cache_saved_usd), 0) FROM turns WHERE {cond} AND cache_saved_usd > 0"
        )[0]
    return Report(scope, total, by_tier, by_model, savings, kept_warm, cache_saved)


def render(report: Report) -> str:
    t = report.total
    out = [f"opencode-kimchi usage ({report.scope})"]
    if t.calls == 0:
        out.append("No routed model calls recorded.")
        return "\n".join(out)
    out.append(
        f"{t.calls} model calls, {usd(t.cost_usd)}; tokens: {t.input_tokens:,} in, {t.output_tokens:,} out, "
        f"{t.cache_read_tokens:,} cache read, {t.cache_write_tokens:,} cache write"
    )
    header = f"  {'':<26}{'calls':>7}{'input':>12}{'output':>10}{'cache r':>11}{'cache w':>9}{'cost':>12}"
    for title, lines in (("By tier", report.by_tier), ("By model", report.by_model)):
        out += ["", title, header]
        out += [
            f"  {ln.key[:25]:<26}{ln.calls:>7}{ln.input_tokens:>12,}{ln.output_tokens:>10,}"
            f"{ln.cache_read_tokens:>11,}{ln.cache_write_tokens:>9,}{usd(ln.cost_usd):>12}"
            for ln in lines
        ]
    out += ["", BASELINE_TITLE]
    if not report.savings:
        out.append("  no baseline prices recorded")
    for s in report.savings:
        label = f"all on the top {s.baseline.capitalize()} model ({', '.join(s.models)})"
        covered = "" if s.calls_covered == t.calls else f" [{s.calls_covered} of {t.calls} calls priced]"
        out.append(f"  vs {label}: {usd(s.baseline_usd)} → {_verdict(s.baseline_usd, s.actual_usd)}{covered}")
    if report.kept_warm:
        out.append(f"  {_cache_aware_line(report.kept_warm, report.cache_saved_usd)}")
    return "\n".join(out)
