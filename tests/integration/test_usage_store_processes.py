"""Several processes writing one usage database at once (WAL and a busy timeout): every row of every writer lands."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

WRITER = """
import sys
from tests.unit.test_usage_store import row
from kimchi_plugin.usage.store import UsageStore
store = UsageStore(sys.argv[1], queue_size=10_000)
for i in range(300):
    store.record(row(f"{sys.argv[2]}-{i}", session_id=sys.argv[2]))
assert store.flush(30)
store.close(30)
print(store.written, store.dropped)
"""


def test_several_processes_write_at_once(tmp_path):
    path = tmp_path / "usage.db"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), f"p{i}"],
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},  # the writer imports the row builder from the tests
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outputs
    assert [out.split() for out, _ in outputs] == [["300", "0"]] * 4
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT session_id, COUNT(*) FROM turns GROUP BY session_id").fetchall() == [
        (f"p{i}", 300) for i in range(4)
    ]
    conn.close()
