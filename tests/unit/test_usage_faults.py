"""Hostile conditions for usage accounting: a poisoned event, a full database, a corrupt, unreadable or half-created
database file. Nothing good is lost, every failure is counted, and each cause is logged once."""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
from pathlib import Path

import pytest
import structlog

from kimchi_plugin.cli.stats import add_arguments, run
from kimchi_plugin.usage.prices import ModelPrice, Prices
from kimchi_plugin.usage.recorder import RouteTag, UsageRecorder
from kimchi_plugin.usage.store import UsageStore, connect, session_rows
from tests.unit.test_usage_store import row

PRICES = Prices({"kimi-k2.5": ModelPrice(1, 4, 0.25, 1)}, top_reasoning="kimi-k2.5", top_coding="kimi-k2.5")
ROUTE = RouteTag("coding", "coder", "heuristic", "kimi-k2.5", "build")
NOW = 1_800_000_000.0
LONE_SURROGATE = "\udcff"


def info(mid: str, session: str = "ses_a", **changes: object) -> dict[str, object]:
    return {
        "id": mid,
        "sessionID": session,
        "role": "assistant",
        "parentID": "u1",
        "modelID": "kimi-k2.5",
        "providerID": "kimchi",
        "agent": "build",
        "cost": 0,
        "finish": "stop",
        "tokens": {"input": 1000, "output": 100, "reasoning": 0, "cache": {"read": 0, "write": 0}},
        "time": {"created": int(NOW * 1000), "completed": int(NOW * 1000) + 500},
        **changes,
    }


def stored_ids(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [mid for (mid,) in conn.execute("SELECT message_id FROM turns ORDER BY message_id")]
    finally:
        conn.close()


def warnings_about(logs: list[dict[str, object]], event: str) -> list[dict[str, object]]:
    return [entry for entry in logs if entry["log_level"] == "warning" and entry["event"] == event]


# -- item 2: one bad row must not take its batch with it ------------------------------------------------------------
def test_a_poisoned_row_is_stored_sanitised_and_its_batch_survives(tmp_path):
    db = tmp_path / "usage.db"
    rec = UsageRecorder(telemetry=None, store_path=str(db), prices=PRICES, clock=lambda: NOW)
    rec.on_route("u1", ROUTE)
    for i in range(200):
        agent = f"build{LONE_SURROGATE}" if i == 57 else "build"
        huge = {"input": 10**30, "output": 1, "cache": {}} if i == 58 else None  # beyond SQLite's 64-bit integers
        rec.on_assistant_message(info(f"m{i:03d}", agent=agent, **({"tokens": huge} if huge else {})))
    asyncio.run(rec.close())
    assert len(stored_ids(db)) == 200
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT agent FROM turns WHERE message_id = 'm057'").fetchone()[0] == "build\ufffd"
    assert conn.execute("SELECT input_tokens FROM turns WHERE message_id = 'm058'").fetchone()[0] == 2**63 - 1
    conn.close()
    assert rec.stats()["store_dropped"] == 0 and rec.stats()["errors"] == 0


def full_disk(max_pages: int):
    """A connection whose database cannot grow past `max_pages` pages: SQLite's own "database or disk is full"."""

    def open_full(path: str) -> sqlite3.Connection:
        conn = connect(path)
        conn.execute(f"PRAGMA max_page_count = {max_pages}")
        return conn

    return open_full


def test_a_full_disk_warns_once_per_cause_then_counts(tmp_path):
    store = UsageStore(str(tmp_path / "usage.db"), clock=lambda: NOW, queue_size=1000, connect=full_disk(12))
    with structlog.testing.capture_logs() as logs:
        for i in range(400):
            store.record(_row(i))
            if i % 50 == 49:
                assert store.flush(30)  # batches of 50, as turns arrive over a session
        store.close(30)
    assert store.written > 0 and store.written + store.dropped == 400 and store.dropped > 300
    assert store.problems == {"database or disk is full": store.dropped}
    assert len(warnings_about(logs, "usage rows not written")) == 1


def _row(i: int):
    return row(f"m{i:04d}", agent="build " + "x" * 400)  # wide rows fill the pages quickly


# -- item 10: the summary survives an unreadable database; a half-created one reads as empty ------------------------
def summary_with_database(db: Path) -> tuple[str, UsageRecorder]:
    rec = UsageRecorder(telemetry=None, store_path=str(db), prices=PRICES, clock=lambda: NOW)
    rec.on_route("u1", ROUTE)
    rec.on_assistant_message(info("m1"))
    rec.on_assistant_message(info("m2"))
    text = rec.session_summary("ses_a")
    asyncio.run(rec.close())
    return text, rec


def test_corrupt_database_summary_falls_back_on_memory(tmp_path):
    db = tmp_path / "usage.db"
    db.write_bytes(b"this is not a database file " * 200)
    text, _ = summary_with_database(db)
    assert text.splitlines()[0] == "Session usage: 2 model calls, $0.002800"
    assert "this process's figures only" in text


def test_unreadable_database_summary_falls_back_on_memory(tmp_path):
    db = tmp_path / "usage.db"
    db.mkdir()  # a directory where the file should be: neither readable nor writable as a database
    text, _ = summary_with_database(db)
    assert text.splitlines()[0] == "Session usage: 2 model calls, $0.002800"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="file modes do not bind root")
def test_read_only_database_summary_falls_back_on_memory(tmp_path):
    db = tmp_path / "usage.db"
    conn = connect(str(db))
    conn.close()
    db.chmod(0o444)
    tmp_path.chmod(0o555)
    try:
        text, _ = summary_with_database(db)
    finally:
        tmp_path.chmod(0o755)
    assert text.splitlines()[0] == "Session usage: 2 model calls, $0.002800"


def half_created(db: Path) -> None:
    """The file as the first writer leaves it between opening it and creating the table."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()


def test_a_database_without_its_table_yet_reads_as_empty(tmp_path, capsys):
    db = tmp_path / "usage.db"
    half_created(db)
    assert session_rows(str(db), "ses_a") == []
    rec = UsageRecorder(telemetry=None, store_path=str(db), prices=PRICES, clock=lambda: NOW)
    rec.on_route("u1", ROUTE)
    rec.on_assistant_message(info("m1", time={"created": int(NOW * 1000)}))  # still streaming: no row written yet
    text = rec.session_summary("ses_a")
    assert text.splitlines()[0] == "Session usage: 1 model calls, $0.001400"
    assert "figures only" not in text
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert run(parser.parse_args(["--db", str(db)])) == 0
    assert "No routed model calls recorded." in capsys.readouterr().out


def test_infinite_and_nan_counts_and_amounts_read_as_zero() -> None:
    from kimchi_plugin.usage.payload import as_amount, as_count

    for hostile in (float("inf"), float("-inf"), float("nan")):
        assert as_count(hostile) == 0
        assert as_amount(hostile) == 0.0
    assert as_count(12.9) == 12 and as_amount(0.25) == 0.25
