"""Fault tests drive the real brain process (and, where the item needs it, the real shim) under hostile conditions."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

FAULT_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if FAULT_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.subprocess)
