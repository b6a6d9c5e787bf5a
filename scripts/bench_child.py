"""What the brain benchmarks (bench_hooks.py, bench_memory.py) share: where the brain and the echo child are, the
environment a measured child runs in, its JSON-RPC frames and its resident memory. The benchmarks run as scripts,
so they import this module by its bare name from this folder."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
ECHO = REPO_ROOT / "scripts" / "echo_brain.py"


def _ask(python: Path | str, expression: str) -> str:
    code = f"import sys, sysconfig; print({expression})"
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def user_layout_python(where: Path) -> Path:
    """An interpreter laid out as a user's environment is (a virtualenv with the package and its libraries on plain
    path entries), built in `where`: the dev `.venv` is an editable install whose import hook costs ~20 ms of CPU at
    every start, which a user's environment (a regular install) does not have. Its libraries are `.venv`'s; the
    package comes from the checkout (or from `child_env`'s `root`, which comes first on the path)."""
    venv = where / "user-layout-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([_ask(PYTHON, "sys._base_executable"), "-m", "venv", "--without-pip", str(venv)], check=True)
    libraries = _ask(PYTHON, "sysconfig.get_paths()['purelib']")
    site = Path(_ask(python, "sysconfig.get_paths()['purelib']"))
    (site / "kimchi-bench.pth").write_text(f"{libraries}\n{REPO_ROOT}\n")
    return python


def child_env(root: Path | None, **overrides: str) -> dict[str, str]:
    """This environment without API keys (a benchmark never reaches Kimchi), the brain's code from `root` when given
    (another checkout: before/after on one machine), then `overrides`."""
    env = {k: v for k, v in os.environ.items() if k not in ("KIMCHI_API_KEY", "CASTAI_API_KEY")}
    if root is not None:
        env["PYTHONPATH"] = str(root)
    env.update(overrides)
    return env


def frame(rpc_id: int, method: str, params: Any) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": rpc_id, "method": method, "params": params}).encode() + b"\n"


def rss_mb(pid: int) -> float:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")
