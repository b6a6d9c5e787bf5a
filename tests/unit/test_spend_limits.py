"""Spend limits saved beside the stats database and shown by `kimchi-plugin stats`; the day's spend starts from the
database."""

from __future__ import annotations

import argparse
import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from kimchi_plugin.app import plugin_services
from kimchi_plugin.brain.economics import Economics
from kimchi_plugin.cli import stats
from kimchi_plugin.settings import Settings
from kimchi_plugin.usage import limits
from kimchi_plugin.usage.limits import SpendLimits
from kimchi_plugin.usage.store import TurnRow, UsageStore


def test_saved_limits_read_back_and_bad_files_read_as_none(tmp_path: Path) -> None:
    path = str(tmp_path / "data" / "limits.json")
    assert limits.save(path, SpendLimits(5.0, None))
    assert limits.load(path) == SpendLimits(5.0, None)
    assert os.stat(path).st_mode & 0o777 == 0o600
    for bad in ("{", "[]", json.dumps({"session": -1, "day": "ten"}), json.dumps({"session": True})):
        Path(path).write_text(bad)
        assert limits.load(path) == SpendLimits()
    assert limits.load(str(tmp_path / "missing.json")) == SpendLimits()


def test_the_plugin_saves_its_limits_for_stats_only_when_it_has_some(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path)}
    path = tmp_path / "opencode-kimchi" / "limits.json"
    make_usage = plugin_services(env=env).make_usage
    assert make_usage is not None
    make_usage(Settings(stats=True))
    assert not path.exists()
    make_usage(Settings(sessionBudget=2.5, dailyBudget=10))
    assert limits.load(str(path)) == SpendLimits(2.5, 10.0)
    make_usage(Settings())  # limits removed from the options: stats no longer shows them
    assert limits.load(str(path)) == SpendLimits()


def _run(db: Path, *, session: str | None = None, as_json: bool = False) -> int:
    return stats.run(argparse.Namespace(db=str(db), since=None, session=session, json=as_json))


def test_stats_shows_the_limits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "usage.db"
    assert _run(db) == 0
    assert "Spend limits" not in capsys.readouterr().out
    limits.save(limits.limits_path(str(db)), SpendLimits(2.0, 20.0))
    assert _run(db, session="ses_1") == 0
    shown = capsys.readouterr().out
    assert "Spend limits (plugin options): $2.00 per session: 0% used; $20.00 per day: $0.00 spent today (0%)" in shown
    assert _run(db, as_json=True) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["limits"] == {"session_usd": 2.0, "day_usd": 20.0, "spent_today_usd": 0.0}


def _store_with(path: Path, now: float, *costs_and_ages: tuple[float, float]) -> None:
    """A stats database holding one row per (USD, seconds before `now`)."""
    store = UsageStore(str(path), clock=lambda: now)
    for n, (cost, age) in enumerate(costs_and_ages):
        at = int((now - age) * 1000)
        store.record(
            TurnRow(
                message_id=f"msg_{n}",
                session_id="ses_old",
                parent_session_id=None,
                agent="build",
                tier="reasoning",
                profile="planner",
                route_source="heuristic",
                provider="kimchi",
                model="claude-opus-4-6",
                input_tokens=1_000,
                output_tokens=10,
                reasoning_tokens=0,
                cache_read_tokens=0,
                cache_write_tokens=0,
                cost_usd=cost,
                reasoning_model=None,
                reasoning_cost_usd=None,
                coding_model=None,
                coding_cost_usd=None,
                created_ms=at,
                completed_ms=at,
                recorded_ms=at,
            )
        )
    store.close()


def test_the_day_starts_from_what_the_database_recorded_today(tmp_path: Path) -> None:
    now = datetime(2026, 12, 7, 15, 0).timestamp()  # local time: 15 h after midnight
    db = tmp_path / "usage.db"
    _store_with(db, now, (0.40, 3600), (0.25, 10 * 3600), (5.0, 20 * 3600))  # the last one was yesterday
    economics = Economics(lambda: now)
    economics.seed_day(str(db), spawn=lambda work: work())
    assert economics.day_spent() == pytest.approx(0.65)
    economics.add_day_spend(0.1)
    assert economics.day_spent() == pytest.approx(0.75)
    missing = Economics(lambda: now)
    missing.seed_day(str(tmp_path / "none.db"), spawn=lambda work: work())
    assert missing.day_spent() == 0.0
