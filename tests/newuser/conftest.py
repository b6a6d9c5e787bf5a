"""A new user's machine: the plugin packed with `npm pack`, installed into a fresh HOME with the real `opencode`
binary the way the README says, no `.venv`, a local stand-in for Kimchi (chat and model metadata). Cases that are not
about the bootstrap share one Python environment built once per session from the packed package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.fake_model_server import FakeModelServer, metadata_entry
from scripts.opencode_sandbox import OpencodeSandbox, RunResult, find_binary, home_env

REPO_ROOT = Path(__file__).resolve().parents[2]

PACKAGE = "@kimchi-dev/opencode-kimchi"
API_KEY = "sk-new-user-test"
SERVED = ("kimi-k2.5", "minimax-m2.7", "claude-opus-4-6")
BUILD_TIMEOUT_S = 15 * 60
NEWUSER_DIR = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "newuser: a new user's install with the real opencode binary (builds from PyPI)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if NEWUSER_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.newuser)


@pytest.fixture(autouse=True)
def _require_tools() -> None:
    # Missing tools fail the layer instead of skipping it: CI must never pass without having run a new user's install.
    if find_binary() is None or shutil.which("npm") is None or shutil.which("node") is None:
        pytest.fail("needs node, npm and the opencode binary under node_modules (npm install)")


@pytest.fixture(scope="session")
def packed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package as npm would publish it."""
    out = tmp_path_factory.mktemp("pack")
    done = subprocess.run(
        ["npm", "pack", "--silent", "--pack-destination", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return next(out.glob("*.tgz"))


@pytest.fixture(scope="session")
def unpacked(packed: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packed package's files (`package/`), for running its user command directly."""
    out = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(packed) as tar:
        tar.extraction_filter = getattr(tarfile, "data_filter", None)  # where this Python has one (3.10.12+, 3.11.4+)
        tar.extractall(out)
    return out / "package"


def user_env(home: Path, **extra: str) -> dict[str, str]:
    env = home_env(home)
    for name in ("NODE_EXTRA_CA_CERTS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_CONFIG_FILE"):
        if name in os.environ:
            env[name] = os.environ[name]
    env.update(extra)
    return env


@dataclass
class SharedEnvironment:
    """A Python environment built once from the packed package; `tmpdir` is the TMPDIR under which the plugin's
    fallback for an unwritable cache directory finds the same environment."""

    cache: Path
    tmpdir: Path
    build_s: float


@pytest.fixture(scope="session")
def shared_env(unpacked: Path, tmp_path_factory: pytest.TempPathFactory) -> SharedEnvironment:
    tmpdir = tmp_path_factory.mktemp("shared-tmp")
    cache = tmpdir / f"opencode-kimchi-{os.getuid()}"
    home = tmp_path_factory.mktemp("builder-home")
    started = time.monotonic()
    done = subprocess.run(
        ["node", str(unpacked / "plugin_shim" / "cli.js"), "route", "hello"],
        cwd=home,
        env=user_env(home, KIMCHI_CACHE_DIR=str(cache)),
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return SharedEnvironment(cache, tmpdir, time.monotonic() - started)


class NewUser:
    """A fresh HOME with OpenCode seeded (no network for its own npm installs) and a project; the plugin installed
    with `opencode plugin "<name>@file:<tgz>"`, then the string entry rewritten into `[spec, options]`."""

    def __init__(self, root: Path, server: FakeModelServer, tgz: Path):
        self.server = server
        self.sandbox = OpencodeSandbox(root, server.api_base, git=True)
        self.sandbox.config_path.write_text(
            json.dumps({"$schema": "https://opencode.ai/config.json", "autoupdate": False, "share": "disabled"}) + "\n"
        )
        self.home = self.sandbox.home
        self.env = self.sandbox.env
        self.env.update(user_env(self.home))
        self.project_config_dir = self.sandbox.project / ".opencode"
        OpencodeSandbox.seed_config_dir(self.project_config_dir)
        self.tgz = tgz

    @property
    def cache(self) -> Path:
        return Path(self.env.get("KIMCHI_CACHE_DIR") or Path(self.env["XDG_CACHE_HOME"]) / "opencode-kimchi")

    def install(self, **options: object) -> float:
        """`opencode plugin` as the README says; returns its wall time."""
        started = time.monotonic()
        done = self.opencode("plugin", f"{PACKAGE}@file:{self.tgz}", timeout=180)
        elapsed = time.monotonic() - started
        assert done.returncode == 0, done.stdout + done.stderr
        path = self.project_config_dir / "opencode.json"
        config = json.loads(path.read_text())
        entries = config.get("plugin") or []
        index = next(i for i, e in enumerate(entries) if "opencode-kimchi" in (e if isinstance(e, str) else e[0]))
        spec = entries[index] if isinstance(entries[index], str) else entries[index][0]
        entries[index] = [spec, {"llmBaseUrl": self.server.api_base, "llmClassifier": False, **options}]
        path.write_text(json.dumps(config, indent=2) + "\n")
        return elapsed

    def installed_package(self) -> Path:
        """Where OpenCode unpacked the plugin."""
        found = list((Path(self.env["XDG_CACHE_HOME"]) / "opencode" / "packages").rglob("opencode-kimchi/package.json"))
        assert found, "the plugin package is not where OpenCode installs packages"
        return found[0].parent

    def run(self, *words: str) -> RunResult:
        return self.sandbox.run(*words)

    def opencode(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        """Another `opencode` command (`plugin`, `models`) in the user's project and environment."""
        return subprocess.run(
            [str(self.sandbox.binary), *args],
            cwd=self.sandbox.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def cli(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        """The installed package's command (`opencode-kimchi doctor`, `stats`, `route`) in the user's environment."""
        return subprocess.run(
            ["node", str(self.installed_package() / "plugin_shim" / "cli.js"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def answered(self, before: int) -> list[dict]:
        """The main-turn requests (with tools) the stand-in Kimchi received since `before` requests."""
        return [r for r in self.server.requests[before:] if r["path"].endswith("/chat/completions") and r["tools"]]

    def venvs(self) -> list[Path]:
        return [p for p in self.cache.glob("venv-*") if (p / ".kimchi-ready").exists()] if self.cache.exists() else []

    def wait_ready(self, timeout: float = BUILD_TIMEOUT_S) -> float:
        """Wait for the environment's ready marker; returns the wait."""
        started = time.monotonic()
        while not self.venvs():
            assert time.monotonic() - started < timeout, (
                f"environment not ready after {timeout}s: {list(self.cache.glob('*'))}"
            )
            time.sleep(0.5)
        return time.monotonic() - started


@pytest.fixture
def make_user(tmp_path: Path, packed: Path) -> Iterator[Callable[..., NewUser]]:
    servers: list[FakeModelServer] = []

    def make(*, metadata_status: int = 200) -> NewUser:
        server = FakeModelServer(log_path=tmp_path / f"requests-{len(servers)}.jsonl", models=SERVED).start()
        server.metadata = [metadata_entry(slug) for slug in SERVED]
        server.metadata_status = metadata_status
        servers.append(server)
        return NewUser(tmp_path / f"user-{len(servers)}", server, packed)

    yield make
    for server in servers:
        server.stop()
