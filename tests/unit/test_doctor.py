"""`kimchi-plugin doctor`: each check says what is wrong and how to fix it; the exit code says whether routing is
blocked. Pure checks on an injected environment and fetch; one run of the real command."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from kimchi_plugin.cli.doctor import report, run_checks

NOW = 1_795_627_350.0


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(tmp_path / "cache"), **extra}


def _by_name(checks: list) -> dict:
    return {check.name: check for check in checks}


async def _unreachable(_base_url: str, _key: str) -> tuple[bool, str]:
    return False, "no answer within 3 s"


def test_no_key_blocks_routing_and_names_every_way_to_set_one(tmp_path: Path) -> None:
    checks = asyncio.run(run_checks(_env(tmp_path), lambda: NOW, _unreachable, (3, 11, 7)))
    key = _by_name(checks)["api key"]
    assert key.status == "fail" and "KIMCHI_API_KEY" in key.fix and "config.json" in key.fix
    assert "fetch" not in " ".join(_by_name(checks))  # nothing to fetch with
    text, code = report(checks)
    assert code == 1 and "routing blocked by: api key" in text


def test_a_key_is_reported_by_source_never_by_value(tmp_path: Path) -> None:
    secret = "sk-doctor-secret-123456"
    checks = asyncio.run(run_checks(_env(tmp_path, KIMCHI_API_KEY=secret), lambda: NOW, _unreachable, (3, 12, 1)))
    text, code = report(checks)
    assert code == 0 and secret not in text and "found in KIMCHI_API_KEY" in text
    fetch = _by_name(checks)["catalogue fetch"]
    assert fetch.status == "warn" and fetch.fix
    config = _by_name(checks)["config"]
    assert config.status == "ok" and "bundled" in config.detail and "kimchi/auto" in config.detail


def test_a_cached_catalogue_is_used_and_its_age_shown(tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "opencode-kimchi"
    cache.mkdir(parents=True)
    from kimchi_plugin.provider.catalog import cache_path
    from kimchi_plugin.settings import DEFAULT_BASE_URL

    entry = {"slug": "kimi-k2.5", "limits": {"context_window": 262144, "max_output_tokens": 32768}}
    document = {"format": 1, "fetched_at": NOW - 7200, "models": [entry]}
    cache_path(DEFAULT_BASE_URL, cache).write_text(json.dumps(document))
    checks = _by_name(asyncio.run(run_checks(_env(tmp_path), lambda: NOW, None, (3, 11, 0))))
    assert checks["catalogue cache"].status == "ok" and "2.0 h old" in checks["catalogue cache"].detail
    assert "kimi-k2.5" in checks["config"].detail and "from the cache catalogue" in checks["config"].detail


def test_an_old_python_blocks_routing(tmp_path: Path) -> None:
    checks = _by_name(asyncio.run(run_checks(_env(tmp_path), lambda: NOW, None, (3, 9, 18))))
    assert checks["python"].status == "fail" and "KIMCHI_PYTHON" in checks["python"].fix
