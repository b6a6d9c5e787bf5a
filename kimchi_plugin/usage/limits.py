"""The spend limits the plugin runs with (options `sessionBudget`, `dailyBudget`), kept beside the stats database so
that `kimchi-plugin stats`, which does not read opencode.json, can show them with what was spent against them. The
latest plugin start wins; a write that fails is skipped (the limits still apply in the plugin)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

LIMITS_NAME = "limits.json"
DIR_MODE = 0o700
FILE_MODE = 0o600


@dataclass(frozen=True, slots=True)
class SpendLimits:
    session: float | None = None  # USD per session
    day: float | None = None  # USD per local day

    @property
    def any(self) -> bool:
        return self.session is not None or self.day is not None


def day_start_ms(now: float) -> int:
    """Local midnight before `now`, in epoch ms: where a per-day limit starts counting."""
    start = datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(start.timestamp() * 1000)


def limits_path(db_path: str) -> str:
    return os.path.join(os.path.dirname(db_path), LIMITS_NAME)


def save(path: str, limits: SpendLimits) -> bool:
    """Write atomically (a temporary file renamed over the old one); False when it could not be written."""
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), mode=DIR_MODE, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"session": limits.session, "day": limits.day}, handle)
        os.replace(temporary, path)
        return True
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        return False


def _amount(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value and value > 0
    return float(value) if ok else None


def load(path: str) -> SpendLimits:
    """The saved limits; none when the file is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return SpendLimits()
    if not isinstance(data, dict):
        return SpendLimits()
    return SpendLimits(_amount(data.get("session")), _amount(data.get("day")))


def describe(limits: SpendLimits, today_usd: float, session_usd: float | None) -> str:
    """The limits with what was spent against them (the session's only when one session is reported)."""
    parts = []
    if limits.session is not None:
        spent = f": {session_usd / limits.session:.0%} used" if session_usd is not None else ""
        parts.append(f"${limits.session:.2f} per session{spent}")
    if limits.day is not None:
        parts.append(f"${limits.day:.2f} per day: ${today_usd:.2f} spent today ({today_usd / limits.day:.0%})")
    return "Spend limits (plugin options): " + "; ".join(parts) if parts else ""
