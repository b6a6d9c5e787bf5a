"""The SQLite usage store (upsert, WAL, several writers, pruning, never blocking) and the `stats` report."""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import time
from dataclasses import astuple, replace
from pathlib import Path

import pytest

from kimchi_plugin.cli.stats import add_arguments, parse_since, run
from kimchi_plugin.usage import store as store_module
from kimchi_plugin.usage.prices import ModelPrice, Prices
from kimchi_plugin.usage.recorder import RouteTag, UsageRecorder
from kimchi_plugin.usage.report import build_report
from kimchi_plugin.usage.store import (
    BUSY_TIMEOUT_MS,
    COLUMNS,
    MS_PER_DAY,
    TurnRow,
    UsageStore,
    connect,
    default_db_path,
    ensure_schema,
    prune,
    session_rows,
)

NOW = 1_800_000_000.0  # 2027-01-15


def row(message_id: str, **changes) -> TurnRow:
    base = TurnRow(
        message_id=message_id,
        session_id="ses_a",
        parent_session_id=None,
        agent="build",
        tier="coding",
        profile="coder",
        route_source="heuristic",
        provider="kimchi",
        model="kimi-k2.5",
        input_tokens=100,
        output_tokens=10,
        reasoning_tokens=0,
        cache_read_tokens=0,
        cache_write_tokens=0,
        cost_usd=0.01,
        reasoning_model="deep-r1",
        reasoning_cost_usd=0.02,
        coding_model="kimi-k2.5",
        coding_cost_usd=0.01,
        created_ms=int(NOW * 1000),
        completed_ms=int(NOW * 1000) + 500,
        recorded_ms=int(NOW * 1000) + 600,
    )
    return replace(base, **changes)


def rows_in(path: Path) -> list[sqlite3.Row]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute("SELECT * FROM turns ORDER BY message_id").fetchall()
    finally:
        conn.close()


def test_default_path_follows_xdg_data_home(tmp_path):
    assert default_db_path({"XDG_DATA_HOME": str(tmp_path)}) == str(tmp_path / "opencode-kimchi" / "usage.db")
    assert default_db_path({}).endswith("/.local/share/opencode-kimchi/usage.db")


def test_upsert_by_message_id_and_wal(tmp_path):
    path = tmp_path / "d" / "usage.db"
    store = UsageStore(str(path), clock=lambda: NOW)
    assert store.record(row("m1", output_tokens=5))
    assert store.record(row("m1", output_tokens=50, cost_usd=0.5))
    assert store.record(row("m2"))
    assert store.flush()
    store.close()
    rows = rows_in(path)
    assert [(r["message_id"], r["output_tokens"], r["cost_usd"]) for r in rows] == [("m1", 50, 0.5), ("m2", 10, 0.01)]
    conn = connect(str(path))
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    conn.close()
    assert store.written == 3 and store.dropped == 0


def test_record_never_blocks_and_counts_drops_while_the_database_is_locked(tmp_path):
    path = tmp_path / "usage.db"
    blocker = connect(str(path))
    ensure_schema(blocker)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
    store = UsageStore(str(path), queue_size=8)
    started = time.perf_counter()
    accepted = sum(store.record(row(f"m{i}")) for i in range(200))
    elapsed = time.perf_counter() - started
    # 200 calls return while the lock is still held; a record() that waited on the database would wait out the
    # busy timeout at least once, so the bound is that timeout, not a guess at the machine's speed
    assert elapsed < BUSY_TIMEOUT_MS / 1000
    assert store.dropped == 200 - accepted and store.dropped > 150
    blocker.execute("COMMIT")
    blocker.close()
    assert store.flush(10)
    store.close()
    assert len(rows_in(path)) == accepted


def test_unusable_path_drops_without_raising(tmp_path):
    (tmp_path / "file").write_text("x")
    store = UsageStore(str(tmp_path / "file" / "usage.db"))
    store.record(row("m1"))
    store.flush(5)
    store.close()
    assert store.failed and store.dropped == 1
    assert store.record(row("m2")) is False and store.dropped == 2


def test_prune_by_age_and_count(tmp_path):
    conn = connect(str(tmp_path / "usage.db"))
    ensure_schema(conn)
    store = UsageStore(str(tmp_path / "usage.db"))
    now_ms = int(NOW * 1000)
    for i in range(10):
        store.record(row(f"m{i}", recorded_ms=now_ms - i * MS_PER_DAY))
    store.close()
    assert prune(conn, now_ms=now_ms, max_age_days=7, max_rows=100) == 2  # 8 and 9 days old
    assert prune(conn, now_ms=now_ms, max_age_days=7, max_rows=5) == 3
    assert [r[0] for r in conn.execute("SELECT message_id FROM turns ORDER BY message_id")] == [
        "m0",
        "m1",
        "m2",
        "m3",
        "m4",
    ]
    conn.close()


def test_store_prunes_at_start(tmp_path):
    path = tmp_path / "usage.db"
    old = UsageStore(str(path))
    old.record(row("ancient", recorded_ms=int(NOW * 1000) - 400 * MS_PER_DAY))
    old.close()
    store = UsageStore(str(path), clock=lambda: NOW, max_age_days=180)
    store.record(row("fresh"))
    store.close()
    assert [r["message_id"] for r in rows_in(path)] == ["fresh"]


def test_a_routed_message_opens_the_database_before_its_replies_bring_rows(tmp_path):
    path = tmp_path / "usage.db"
    old = UsageStore(str(path))
    old.record(row("ancient", recorded_ms=int(NOW * 1000) - 400 * MS_PER_DAY))
    old.close()
    rec = UsageRecorder(telemetry=None, store_path=str(path), clock=lambda: NOW)
    rec.on_route("u1", RouteTag("coding", "coder", "heuristic", "kimi-k2.5"))
    assert rec.store is not None and rec.store.flush()  # the writer runs: schema and pruning done, no row yet
    assert rows_in(path) == []
    asyncio.run(rec.close())
    closed = UsageStore(str(tmp_path / "never.db"))
    closed.close()
    closed.open()  # a closed store stays closed
    assert not (tmp_path / "never.db").exists()


# -- a hand-computed session through the recorder into the report -----------------------------------------------------
PRICES = Prices(
    {
        "deep-r1": ModelPrice(2, 8, 0.5, 2),
        "kimi-k2.5": ModelPrice(1, 4, 0.25, 1),
        "mini": ModelPrice(0.2, 0.8, 0.05, 0.2),
    },
    top_reasoning="deep-r1",
    top_coding="kimi-k2.5",
)
ROUTES = {
    "reasoning": RouteTag("reasoning", "planner", "heuristic", "deep-r1", "build"),
    "coding": RouteTag("coding", "coder", "phase", "kimi-k2.5", "build"),
    "quick": RouteTag("quick", "assistant", "agent", "mini", "explore"),
}
COMPLETED = int(NOW * 1000)
OLD = 1_577_836_800_000  # 2020-01-01


def message(mid, session, model, *, inp=0, out=0, cache_read=0, cost=0.0, completed=COMPLETED, parent="u1"):
    return {
        "id": mid,
        "sessionID": session,
        "role": "assistant",
        "parentID": parent or "",
        "modelID": model,
        "providerID": "kimchi",
        "agent": "build",
        "cost": cost,
        "finish": "stop",
        "tokens": {"input": inp, "output": out, "reasoning": 0, "cache": {"read": cache_read, "write": 0}},
        "time": {"created": completed - 1000, "completed": completed} if completed else {"created": 1},
    }


def record_session(db: Path) -> UsageRecorder:
    rec = UsageRecorder(telemetry=None, store_path=str(db), prices=PRICES, clock=lambda: NOW)
    rec.on_session_created("ses_child", "ses_main")
    rec.on_route("u1", ROUTES["reasoning"])
    rec.on_assistant_message(message("m1", "ses_main", "deep-r1", inp=100_000, out=10_000))
    rec.on_route("u2", ROUTES["coding"])
    rec.on_assistant_message(message("m2", "ses_main", "kimi-k2.5", inp=50, completed=None, parent="u2"))  # streaming
    rec.on_assistant_message(
        message("m2", "ses_main", "kimi-k2.5", inp=200_000, out=50_000, cache_read=1_000_000, parent="u2")
    )
    rec.on_assistant_message(
        message("m2", "ses_main", "kimi-k2.5", inp=200_000, out=50_000, cache_read=1_000_000, parent="u2")
    )  # repeated final update
    rec.on_assistant_message(message("m3", "ses_main", "mini", inp=50_000, out=5_000, parent=None), ROUTES["quick"])
    rec.on_assistant_message(
        message("m4", "ses_child", "mini", inp=10_000, out=1_000, cost=0.003, parent=None), ROUTES["quick"]
    )
    rec.on_assistant_message(
        message("m5", "ses_other", "kimi-k2.5", inp=1_000_000, completed=OLD, parent=None), ROUTES["coding"]
    )
    rec.on_assistant_message({**message("x", "ses_main", "gpt-5", inp=9), "providerID": "openai"})  # not ours
    asyncio.run(rec.close())
    return rec


def test_a_flushed_recorder_has_committed_its_rows_and_still_records(tmp_path):
    """`shutdown` flushes: every row so far is readable by another connection before the process ends, and closing
    (the writer's stop and the database's checkpoint) is left to the end of input."""
    db = tmp_path / "usage.db"
    rec = UsageRecorder(telemetry=None, store_path=str(db), prices=PRICES, clock=lambda: NOW)
    rec.on_route("u1", ROUTES["coding"])
    rec.on_assistant_message(message("m1", "ses_main", "kimi-k2.5", inp=100, out=10, parent="u1"))
    asyncio.run(rec.flush())
    assert [r["message_id"] for r in rows_in(db)] == ["m1"]
    assert Path(f"{db}-wal").exists()  # not checkpointed: the database is still open
    rec.on_assistant_message(message("m2", "ses_main", "kimi-k2.5", inp=100, out=10, parent=None), ROUTES["coding"])
    asyncio.run(rec.close())
    assert [r["message_id"] for r in rows_in(db)] == ["m1", "m2"]
    assert not Path(f"{db}-wal").exists()


def test_rows_written_by_the_recorder(tmp_path):
    db = tmp_path / "usage.db"
    rec = record_session(db)
    rows = {r["message_id"]: r for r in rows_in(db)}
    assert sorted(rows) == ["m1", "m2", "m3", "m4", "m5"]
    m2 = rows["m2"]
    assert (m2["tier"], m2["profile"], m2["route_source"], m2["model"]) == ("coding", "coder", "phase", "kimi-k2.5")
    assert (m2["input_tokens"], m2["output_tokens"], m2["cache_read_tokens"]) == (200_000, 50_000, 1_000_000)
    assert m2["cost_usd"] == pytest.approx(0.65)
    assert m2["reasoning_cost_usd"] == pytest.approx(1.3) and m2["coding_cost_usd"] == pytest.approx(0.65)
    assert rows["m4"]["parent_session_id"] == "ses_main" and rows["m4"]["cost_usd"] == pytest.approx(0.003)
    assert rows["m1"]["tier"] == "reasoning"  # attributed via parentID → the route of its user message
    assert rec.stats()["store_written"] >= 5 and rec.stats()["errors"] == 0


def test_report_matches_the_hand_computed_session(tmp_path):
    db = tmp_path / "usage.db"
    record_session(db)
    conn = connect(str(db), readonly=True)
    report = build_report(conn, session="ses_main")
    conn.close()
    # m1 0.28, m2 0.65, m3 0.014, m4 (child session, OpenCode's cost) 0.003
    assert report.total.calls == 4
    assert report.total.cost_usd == pytest.approx(0.947)
    assert report.total.input_tokens == 360_000 and report.total.output_tokens == 66_000
    assert {ln.key: (ln.calls, round(ln.cost_usd, 6)) for ln in report.by_tier} == {
        "coding": (1, 0.65),
        "reasoning": (1, 0.28),
        "quick": (2, 0.017),
    }
    assert [ln.key for ln in report.by_model] == ["kimi-k2.5", "deep-r1", "mini"]
    reasoning, coding = report.savings
    assert reasoning.models == ["deep-r1"] and reasoning.baseline_usd == pytest.approx(0.28 + 1.3 + 0.14 + 0.028)
    assert reasoning.saved_usd == pytest.approx(0.801)
    assert coding.baseline_usd == pytest.approx(0.14 + 0.65 + 0.07 + 0.014)
    assert coding.saved_usd == pytest.approx(-0.073)


def test_replies_follow_the_decision_of_their_user_message():
    rec = UsageRecorder(telemetry=None, prices=PRICES)
    rec.on_route("u1", ROUTES["reasoning"])
    rec.on_route("u2", ROUTES["quick"])  # the session's latest decision by the time u1's reply is reported
    rec.on_assistant_message(message("m1", "s", "deep-r1", inp=10, parent="u1"), ROUTES["quick"])
    rec.on_assistant_message(message("m2", "s", "deep-r1", inp=10, parent="u1"), None)  # a second step of u1
    rec.on_assistant_message(message("m3", "s", "mini", inp=10, parent="unknown"), ROUTES["coding"])
    assert rec.ledger("s").messages_by_tier == {"reasoning": 2, "coding": 1}


def stats(db: Path, *argv: str, capsys) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    code = run(parser.parse_args(["--db", str(db), *argv]))
    return code, capsys.readouterr().out


def test_stats_command_text_and_json(tmp_path, capsys):
    db = tmp_path / "usage.db"
    record_session(db)
    code, text = stats(db, "--session", "ses_main", capsys=capsys)
    assert code == 0
    assert "4 model calls, $0.9470" in text
    assert "vs all on the top Reasoning model (deep-r1): $1.7480 → saved $0.8010 (46%)" in text
    assert "vs all on the top Coding model (kimi-k2.5): $0.8740 → $0.0730 more spent" in text
    code, out = stats(db, "--json", capsys=capsys)
    data = json.loads(out)
    assert data["total"]["calls"] == 5 and data["total"]["cost_usd"] == pytest.approx(1.947)
    assert data["savings"][0]["saved_usd"] == pytest.approx(1.801)
    code, out = stats(db, "--json", "--since", "2026-01-01", capsys=capsys)
    assert json.loads(out)["total"]["calls"] == 4  # m5 finished in 2020
    code, text = stats(tmp_path / "missing.db", capsys=capsys)
    assert code == 0 and "No routed model calls recorded." in text
    assert stats(db, "--since", "yesterday", capsys=capsys)[0] == 2


def test_parse_since():
    assert parse_since("7d", NOW) == int(NOW * 1000) - 7 * MS_PER_DAY
    assert parse_since("12h", NOW) == int(NOW * 1000) - 12 * 3_600_000
    assert parse_since("2w", NOW) == int(NOW * 1000) - 14 * MS_PER_DAY


def test_session_summary_text():
    rec = UsageRecorder(telemetry=None, prices=PRICES)
    assert "No routed model calls" in rec.session_summary("nope")
    rec.on_route("u1", ROUTES["reasoning"])
    rec.on_assistant_message(message("m1", "s", "deep-r1", inp=100_000, out=10_000))
    rec.on_tool_after("s", "bash", {"command": "git commit -m x"}, "", {"exit": 0})
    rec.on_tool_after("s", "edit", {"filePath": "a.py", "oldString": "a", "newString": "b\nc"}, "", {})
    text = rec.session_summary("s")
    assert text.splitlines()[0] == "Session usage: 1 model calls, $0.2800"
    assert "All on the top Coding model (kimi-k2.5): $0.1400 → $0.1400 more spent" in text
    assert "Code: +2 / -1 lines, 1 commits, 0 pull requests" in text


def test_prices_from_registry_entries():
    from datetime import datetime, timezone

    from kimchi_plugin.routing.registry import Registry
    from kimchi_plugin.routing.tiers import Tier
    from kimchi_plugin.usage.prices import prices_from

    registry = Registry.build(
        provider_models={"kimi-k2.5": {}, "minimax-m2.7": {}},
        api_models=None,
        pins=None,
        priorities=None,
        now=datetime.fromtimestamp(NOW, tz=timezone.utc),
    )
    top_r, top_c = registry.best(Tier.REASONING), registry.best(Tier.CODING)
    prices = prices_from(registry.models(), top_r.id if top_r else None, top_c.id if top_c else None)
    spec = registry.get("kimi-k2.5")
    assert prices.get("kimi-k2.5") == ModelPrice(
        spec.cost_input, spec.cost_output, spec.cost_cache_read, spec.cost_cache_write
    )
    assert prices.top_coding in prices.models


# -- honest savings: each top model with its own cache; what cache-aware decisions saved -----------------------------
def honest_session(db: Path) -> UsageRecorder:
    """deep-r1 (cold), a switch to kimi-k2.5 (cold again: the whole prompt uncached), then two kimi calls of a
    decision that stayed on kimi's warm cache and says it saved $0.05."""
    rec = UsageRecorder(telemetry=None, store_path=str(db), prices=PRICES, clock=lambda: NOW)
    rec.on_route("u1", ROUTES["reasoning"])
    rec.on_assistant_message(message("m1", "s", "deep-r1", inp=10_000, out=1_000, completed=COMPLETED))
    rec.on_route("u2", ROUTES["coding"])
    rec.on_assistant_message(
        message("m2", "s", "kimi-k2.5", inp=12_000, out=500, completed=COMPLETED + 2000, parent="u2")
    )
    rec.on_route("u3", replace(ROUTES["coding"], cache_saved_usd=0.05))
    for mid, inp, cached, out, at in (("m3", 1_000, 12_000, 200, 4000), ("m4", 500, 13_000, 100, 6000)):
        rec.on_assistant_message(
            message(mid, "s", "kimi-k2.5", inp=inp, cache_read=cached, out=out, completed=COMPLETED + at, parent="u3")
        )
        rec.on_assistant_message(  # a repeated final update credits nothing twice
            message(mid, "s", "kimi-k2.5", inp=inp, cache_read=cached, out=out, completed=COMPLETED + at, parent="u3")
        )
    return rec


def test_baselines_count_each_top_model_with_its_own_cache(tmp_path, capsys):
    db = tmp_path / "usage.db"
    rec = honest_session(db)
    summary = rec.session_summary("s")
    asyncio.run(rec.close())
    rows = {r["message_id"]: r for r in rows_in(db)}
    # m2 on deep-r1 kept throughout: the 10K prompt of m1 read from its cache, 2K new: 2K×2 + 10K×0.5 + 500×8
    assert rows["m2"]["reasoning_cost_usd"] == pytest.approx(0.013)  # the same tokens would say 0.028
    assert rows["m2"]["coding_cost_usd"] == pytest.approx(0.0065)  # kimi kept throughout: 2K×1 + 10K×0.25 + 500×4
    assert rows["m3"]["reasoning_cost_usd"] == pytest.approx(0.0096)  # no switch: billed as it was
    assert [rows[m]["cache_saved_usd"] for m in ("m1", "m2", "m3", "m4")] == [0, 0, 0.05, 0]
    conn = connect(str(db), readonly=True)
    report = build_report(conn, session="s")
    conn.close()
    assert report.total.cost_usd == pytest.approx(0.028 + 0.014 + 0.0048 + 0.00415)
    reasoning, coding = report.savings
    assert reasoning.baseline_usd == pytest.approx(0.028 + 0.013 + 0.0096 + 0.0083)
    assert coding.baseline_usd == pytest.approx(0.014 + 0.0065 + 0.0048 + 0.00415)
    assert (report.kept_warm, report.cache_saved_usd) == (1, pytest.approx(0.05))
    _, text = stats(db, "--session", "s", capsys=capsys)
    assert "vs all on the top Reasoning model (deep-r1): $0.0589 → saved $0.007950 (13%)" in text
    assert "vs all on the top Coding model (kimi-k2.5): $0.0295 → $0.0215 more spent" in text
    assert "Cache-aware routing: stayed on a warm model 1 times instead of switching, saving $0.0500" in text
    # the in-chat summary says the same from memory
    assert "All on the top Reasoning model (deep-r1): $0.0589 → saved $0.007950 (13%)" in summary
    assert "All on the top Coding model (kimi-k2.5): $0.0295 → $0.0215 more spent" in summary
    assert "Cache-aware routing: stayed on a warm model 1 times instead of switching, saving $0.0500" in summary


def test_a_version_1_database_is_read_and_upgraded(tmp_path):
    db = tmp_path / "usage.db"
    conn = sqlite3.connect(db)
    conn.executescript(store_module._SCHEMA.replace(",\n    cache_saved_usd REAL NOT NULL DEFAULT 0", ""))  # version 1
    conn.execute("PRAGMA user_version=1")
    conn.execute(
        f"INSERT INTO turns ({', '.join(COLUMNS[:-1])}) VALUES ({', '.join('?' for _ in COLUMNS[:-1])})",
        astuple(row("old", session_id="s"))[:-1],
    )
    conn.commit()
    conn.close()
    assert [r.cache_saved_usd for r in session_rows(str(db), "s")] == [0]  # read before any upgrade
    store = UsageStore(str(db), clock=lambda: NOW)
    store.record(row("new", session_id="s", cache_saved_usd=0.5))
    store.close()
    assert {r.message_id: r.cache_saved_usd for r in session_rows(str(db), "s")} == {"old": 0, "new": 0.5}
