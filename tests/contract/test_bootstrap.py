"""First start for a real user: no `.venv` next to the package and an empty cache, so the shim finds Python, builds
the virtualenv from PyPI, installs the package shipped in the npm package, and the brain answers its handshake.
One cold run (slow, needs the registry), then one warm start; both times are printed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PROBE = REPO_ROOT / "tests" / "shim" / "bootstrap_probe.mjs"
SHIPPED = ["plugin_shim", "kimchi_plugin", "pyproject.toml", "README.md", "package.json"]
COLD_TIMEOUT_S = 15 * 60


def probe(pkg: Path, env: dict[str, str], timeout: float) -> dict:
    done = subprocess.run(
        ["node", str(PROBE), str(pkg)], env=env, capture_output=True, text=True, timeout=timeout, cwd=pkg
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.bootstrap
def test_first_start_builds_the_venv_then_reuses_it(tmp_path: Path) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    pkg = tmp_path / "package"
    pkg.mkdir()
    for name in SHIPPED:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, pkg / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, pkg / name)
    cache = tmp_path / "cache"
    env = {
        **os.environ,
        "KIMCHI_CACHE_DIR": str(cache),
        "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
        "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "HOME": str(tmp_path / "home"),
    }
    for name in ("KIMCHI_PYTHON", "KIMCHI_API_KEY", "CASTAI_API_KEY", "VIRTUAL_ENV", "PYTHONPATH"):
        env.pop(name, None)

    cold = probe(pkg, env, COLD_TIMEOUT_S)
    assert cold["tools"], cold
    assert any("first start" in (n["message"] or "") for n in cold["notices"]), "the user is told setup is running"
    venvs = [p for p in cache.iterdir() if p.is_dir() and (p / ".kimchi-ready").exists()]
    assert len(venvs) == 1 and venvs[0].name.startswith("venv-0.1.0-py3."), list(cache.iterdir())

    warm = probe(pkg, env, 60)
    assert warm["tools"], warm
    assert not any("first start" in (n["message"] or "") for n in warm["notices"]), "no second setup"
    print(
        f"\nbootstrap: first run (venv build + handshake) {cold['readyMs']} ms; warm load → ready {warm['readyMs']} ms"
    )
