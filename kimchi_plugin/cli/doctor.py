"""`kimchi-plugin doctor`: check what the plugin needs — Python, this environment, the API key, the model catalogue,
the config the plugin would produce, where it logs and keeps data — and say what is wrong and how to fix it.

Exit code 1 when something blocks routing (no usable Python, no key, no model), else 0. The key's value is never
printed, only where it was found.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kimchi_plugin import __version__
from kimchi_plugin.app import command_services
from kimchi_plugin.brain import Brain
from kimchi_plugin.brain.locks import default_locks_path
from kimchi_plugin.provider.credentials import KEY_SOURCES, find_api_key
from kimchi_plugin.routing.registry import VIRTUAL_IDS
from kimchi_plugin.settings import DEFAULT_BASE_URL, default_log_file

MIN_PYTHON = (3, 10)
PYTHON = (sys.version_info.major, sys.version_info.minor, sys.version_info.micro)
FETCH_BUDGET_S = 3.0
Status = Literal["ok", "warn", "fail"]
Fetch = Callable[[str, str], Awaitable[tuple[bool, str]]]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--offline", action="store_true", help="do not try to fetch the model catalogue")


def check_python(version: tuple[int, ...]) -> Check:
    found = ".".join(map(str, version[:3]))
    if tuple(version[:2]) < MIN_PYTHON:
        need = ".".join(map(str, MIN_PYTHON))
        return Check("python", "fail", f"Python {found}", f"install Python ≥ {need} or set KIMCHI_PYTHON to one")
    return Check("python", "ok", f"Python {found}")


def check_environment() -> Check:
    venv = "virtualenv" if sys.prefix != sys.base_prefix else "no virtualenv"
    return Check("environment", "ok", f"kimchi-plugin {__version__} on {sys.executable} ({venv})")


def check_key(env: Mapping[str, str]) -> tuple[Check, str | None]:
    key, source = find_api_key(None, None, env)
    if key is None:
        fix = "set one of: " + "; ".join(KEY_SOURCES)
        return Check("api key", "fail", "none found (options in opencode.json are not visible here)", fix), None
    return Check("api key", "ok", f"found in {source}"), key


async def check_catalog(
    env: Mapping[str, str], clock: Callable[[], float], key: str | None, fetch: Fetch | None
) -> list[Check]:
    from kimchi_plugin.provider import catalog

    cache_dir = catalog.default_cache_dir(env)
    cached = await catalog.load_models(DEFAULT_BASE_URL, None, cache_dir=cache_dir, now=clock)
    if cached.fetched_at is not None:
        age_h = max(0.0, clock() - cached.fetched_at) / 3600
        disk = Check("catalogue cache", "ok", f"{len(cached.models)} models, {age_h:.1f} h old, in {cache_dir}")
    else:
        disk = Check("catalogue cache", "warn", f"none in {cache_dir}", "it is written at the first start with a key")
    if fetch is None or key is None:
        return [disk]
    reached, detail = await fetch(DEFAULT_BASE_URL, key)
    fix = "" if reached else "check the network and the key; the cached or bundled catalogue is used meanwhile"
    return [disk, Check("catalogue fetch", "ok" if reached else "warn", detail, fix)]


async def fetch_catalog(env: Mapping[str, str], clock: Callable[[], float]) -> Fetch:
    from kimchi_plugin.provider import catalog

    async def fetch(base_url: str, key: str) -> tuple[bool, str]:
        started = time.monotonic()
        result = await catalog.load_models(
            base_url, key, cache_dir=catalog.default_cache_dir(env), ttl_s=0, budget_s=FETCH_BUDGET_S, now=clock
        )
        if result.refresh is not None:
            result.refresh.cancel()
        ms = (time.monotonic() - started) * 1000
        if result.source is catalog.Source.NETWORK:
            return True, f"{len(result.models)} models from {catalog.metadata_url(base_url)} in {ms:.0f} ms"
        return False, f"no answer from {catalog.metadata_url(base_url)} within {FETCH_BUDGET_S:.0f} s"

    return fetch


async def check_config(env: Mapping[str, str], clock: Callable[[], float]) -> Check:
    brain = Brain(command_services(env=env, clock=clock))
    brain.start({})
    try:
        answer = await brain.configure({})
    finally:
        await brain.close()
    models = sorted((answer.patch.get("provider") or {}).get(brain.provider_id, {}).get("models", {}))
    if not models:
        return Check("config", "fail", "the plugin would add no models", "refresh the catalogue (see above)")
    virtual = [m for m in models if m in VIRTUAL_IDS]
    real = [m for m in models if m not in virtual]
    source = brain.setup.catalog
    detail = f"{len(real)} models ({', '.join(real)}) and {', '.join(virtual)} from the {source} catalogue"
    return Check("config", "ok", detail + f"; model: {answer.patch.get('model', 'yours')}")


def check_files(env: Mapping[str, str]) -> list[Check]:
    from kimchi_plugin.provider.catalog import default_cache_dir
    from kimchi_plugin.usage.store import default_db_path

    places = {
        "log file": Path(default_log_file(env)),
        "usage database": Path(default_db_path(env)),
        "locks": default_locks_path(env),
        "cache": default_cache_dir(env) / "models.json",
    }
    return [_writable(name, path) for name, path in places.items()]


def _writable(name: str, path: Path) -> Check:
    folder = path.parent
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is None or not os.access(existing, os.W_OK):
        return Check(name, "warn", f"{path} (not writable)", f"make {existing or folder} writable")
    return Check(name, "ok", str(path) if name != "cache" else str(folder))


async def run_checks(
    env: Mapping[str, str], clock: Callable[[], float], fetch: Fetch | None, version: tuple[int, ...]
) -> list[Check]:
    key_check, key = check_key(env)
    checks = [check_python(version), check_environment(), key_check]
    checks += await check_catalog(env, clock, key, fetch)
    checks.append(await check_config(env, clock))
    checks += check_files(env)
    return checks


def report(checks: list[Check]) -> tuple[str, int]:
    marks = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}
    lines = [f"[{marks[c.status]}] {c.name}: {c.detail}" + (f"\n       fix: {c.fix}" if c.fix else "") for c in checks]
    failed = [c.name for c in checks if c.status == "fail"]
    lines.append(f"routing blocked by: {', '.join(failed)}" if failed else "nothing blocks routing")
    return "\n".join(lines), 1 if failed else 0


async def _main(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    fetch = None if args.offline else await fetch_catalog(env, time.time)
    text, code = report(await run_checks(env, time.time, fetch, PYTHON))
    print(text)
    return code


def run(args: argparse.Namespace) -> int:
    from kimchi_plugin.app import quiet_logs

    quiet_logs()
    return asyncio.run(_main(args, dict(os.environ)))
