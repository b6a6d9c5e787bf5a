"""One version: the Python package holds it, the packaging metadata reads it, and the npm package states the same."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import kimchi_plugin

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[2]


def test_package_json_states_the_python_package_version() -> None:
    assert json.loads((ROOT / "package.json").read_text())["version"] == kimchi_plugin.__version__


def test_pyproject_reads_the_version_from_the_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["hatch"]["version"]["path"] == "kimchi_plugin/__init__.py"
