"""`kimchi-plugin doctor` as a user runs it: a process that prints the report and exits non-zero when routing is
blocked (the checks themselves are unit-tested in tests/unit/test_doctor.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_doctor import _env


@pytest.mark.subprocess
def test_the_command_prints_the_report_and_exits_non_zero_without_a_key(tmp_path: Path) -> None:
    env = {**_env(tmp_path), "PATH": os.environ.get("PATH", ""), "KIMCHI_API_KEY": "", "CASTAI_API_KEY": ""}
    done = subprocess.run(
        [sys.executable, "-m", "kimchi_plugin", "doctor", "--offline"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 1, done.stderr[-2000:]
    assert "[FAIL] api key" in done.stdout and "routing blocked by: api key" in done.stdout
