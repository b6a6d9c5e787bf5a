"""Contract tests spawn the real brain process (`python -m kimchi_plugin`) and talk to it over stdio."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

from tests.support.rpc_process import INIT_PARAMS, RpcProcess

CONTRACT_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if CONTRACT_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.subprocess)


@pytest.fixture
def isolated_env(tmp_path: Path) -> dict[str, str]:
    """No API key, no user config or cache: nothing reaches the network or the developer's home."""
    return {
        "HOME": str(tmp_path / "home"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "KIMCHI_API_KEY": "",
        "CASTAI_API_KEY": "",
        "KIMCHI_LOG_LEVEL": "TRACE",  # debug, and every per-step hook call
    }


@pytest.fixture
def brain(isolated_env: dict[str, str]) -> Iterator[RpcProcess]:
    """The real brain, not yet initialized."""
    with RpcProcess(env=isolated_env) as proc:
        yield proc


@pytest.fixture
def ready_brain(brain: RpcProcess) -> RpcProcess:
    brain.result("initialize", INIT_PARAMS)
    return brain
