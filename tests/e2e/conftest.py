"""Fixtures for end-to-end tests against the real opencode binary: a fake model server and a sandbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

from scripts.fake_model_server import FakeModelServer
from scripts.opencode_sandbox import OpencodeSandbox, find_binary

E2E_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def _require_opencode() -> None:
    # A missing binary fails the layer instead of skipping it: CI must never pass without having run OpenCode.
    if find_binary() is None:
        pytest.fail(f"opencode binary not installed under {REPO_ROOT / 'node_modules'} (npm install)")


@pytest.fixture
def fake_server(tmp_path: Path) -> Iterator[FakeModelServer]:
    with FakeModelServer(log_path=tmp_path / "model-requests.jsonl") as server:
        yield server


@pytest.fixture
def make_sandbox(tmp_path: Path, fake_server: FakeModelServer) -> Callable[..., OpencodeSandbox]:
    """Build a sandbox on the fake server: ``make_sandbox(git=True)``; each call gets its own root."""
    count = 0

    def make(*, git: bool = False) -> OpencodeSandbox:
        nonlocal count
        count += 1
        return OpencodeSandbox(tmp_path / f"sandbox-{count}", fake_server.api_base, git=git)

    return make


@pytest.fixture
def sandbox(make_sandbox: Callable[..., OpencodeSandbox]) -> OpencodeSandbox:
    """A sandbox whose project dir is not a git repository, configured without plugins."""
    return make_sandbox()
