"""A new user's first hours with the real opencode binary: Kimchi answers from the first message of the first start,
broken states heal, nothing goes to another provider, and the user command works from the installed package."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.newuser.conftest import API_KEY, SharedEnvironment, user_env

PROMPT = ("plan", "how", "to", "add", "caching", "to", "app.py")
STAND_IN = "kimi-k2.5"  # what kimchi/auto stands for before routing is active (the brain's shipped answer)


def served_ok(user, result, before: int) -> list[dict]:
    """The run succeeded and its turn was answered by the stand-in Kimchi (never another provider)."""
    assert result.rc == 0, f"rc={result.rc}\n{result.stderr[-3000:]}"
    answered = user.answered(before)
    assert answered, f"no request reached Kimchi\n{result.stderr[-3000:]}"
    assert "served-by:" in result.text
    return answered


def test_first_run_without_environment_is_answered_by_kimchi_and_the_next_is_routed(make_user) -> None:
    user = make_user()
    user.env["KIMCHI_API_KEY"] = API_KEY
    started = time.monotonic()
    install_s = user.install()
    first = user.run(*PROMPT)
    first_answer_s = time.monotonic() - started
    answered = served_ok(user, first, 0)
    assert {r["model"] for r in answered} == {STAND_IN}, "kimchi/auto served by its stand-in"
    assert first.stderr.count("routing is not active yet") == 1, first.stderr
    assert "Python environment is being set up" in first.stderr
    # The build goes on after that short run (detached), and is ready within its normal time.
    user.wait_ready()
    ready_s = time.monotonic() - started
    before = len(user.server.requests)
    second = user.run(*PROMPT)
    answered = served_ok(user, second, before)
    assert "routing is not active" not in second.stderr, second.stderr
    assert "claude-opus-4-6" in {r["model"] for r in answered}, "a planning message is routed to the Reasoning tier"
    third_start = time.monotonic()
    third = user.run("hello")
    served_ok(user, third, len(user.server.requests) - 1)
    print(
        f"\nnew user timeline: install {install_s:.1f}s, first answer at {first_answer_s:.1f}s, routing active at "
        f"{ready_s:.1f}s (environment ready); a later start's run took {time.monotonic() - third_start:.1f}s"
    )


def test_metadata_endpoint_down_at_first_start(make_user, shared_env: SharedEnvironment) -> None:
    user = make_user(metadata_status=503)
    user.env.update(KIMCHI_API_KEY=API_KEY, KIMCHI_CACHE_DIR=str(shared_env.cache))
    user.install()
    result = user.run(*PROMPT)
    served_ok(user, result, 0)
    assert "Model not found" not in result.stderr and "Provider not found" not in result.stderr


def test_python_missing(make_user) -> None:
    user = make_user()
    user.env.update(KIMCHI_API_KEY=API_KEY, KIMCHI_PYTHON="/bin/false")
    user.install()
    result = user.run(*PROMPT)
    answered = served_ok(user, result, 0)
    assert {r["model"] for r in answered} == {STAND_IN}
    lines = [line for line in result.stderr.splitlines() if "opencode-kimchi" in line]
    assert len(lines) == 1 and "Python >= 3.10" in lines[0] and "KIMCHI_PYTHON" in lines[0], lines
    doctor = user.cli("doctor", timeout=60)
    assert doctor.returncode == 1
    assert "FAIL" in doctor.stdout and "KIMCHI_PYTHON" in doctor.stdout, doctor.stdout


def test_first_run_without_a_key_then_with_one(make_user, shared_env: SharedEnvironment) -> None:
    user = make_user()
    user.env["KIMCHI_CACHE_DIR"] = str(shared_env.cache)
    user.install()
    first = user.run(*PROMPT)
    served_ok(user, first, 0)
    assert first.stderr.count("no Kimchi API key") == 1, first.stderr
    for way in ("KIMCHI_API_KEY", "CASTAI_API_KEY", "apiKey"):
        assert way in first.stderr
    user.env["KIMCHI_API_KEY"] = API_KEY
    for _ in range(2):
        before = len(user.server.requests)
        again = user.run(*PROMPT)
        answered = served_ok(user, again, before)
        assert "Model not found" not in again.stderr
        assert "no Kimchi API key" not in again.stderr
        assert all("Authorization" in r["headers"] or "authorization" in r["headers"] for r in answered)


def test_bootstrap_killed_halfway_then_a_normal_start(make_user) -> None:
    user = make_user()
    user.env["KIMCHI_API_KEY"] = API_KEY
    user.install()
    # A short-lived command loads the plugin and starts the setup, which is then killed halfway.
    user.opencode("models", "kimchi", timeout=120)
    owner_files = list(user.cache.glob("venv-*.lock/owner.json"))
    assert owner_files, f"no setup running after `opencode models`: {list(user.cache.glob('*'))}"
    owner = json.loads(owner_files[0].read_text())
    os.kill(owner["pid"], 0)  # the setup outlived the command that started it
    time.sleep(3)
    os.kill(owner["pid"], signal.SIGKILL)
    started = time.monotonic()
    result = user.run(*PROMPT)
    served_ok(user, result, 0)
    assert "being set up" in result.stderr, result.stderr
    user.wait_ready()
    rebuilt_s = time.monotonic() - started
    assert not list(user.cache.glob("*.lock")), "lock released"
    print(f"\nbootstrap after a killed setup: ready {rebuilt_s:.1f}s after the next start")


def test_unwritable_cache_directory(make_user, shared_env: SharedEnvironment, tmp_path: Path) -> None:
    user = make_user()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    # Below a regular file nobody can create anything (root included); the plugin falls back to $TMPDIR, where the
    # shared environment already is.
    user.env.update(KIMCHI_API_KEY=API_KEY, KIMCHI_CACHE_DIR=str(blocker / "cache"), TMPDIR=str(shared_env.tmpdir))
    user.install()
    result = user.run(*PROMPT)
    served_ok(user, result, 0)
    assert "is not writable" in user.sandbox.opencode_log(), "reported in OpenCode's log"


def test_user_command_runs_stats_and_route_from_the_installed_package(make_user, shared_env: SharedEnvironment) -> None:
    user = make_user()
    user.env.update(KIMCHI_API_KEY=API_KEY, KIMCHI_CACHE_DIR=str(shared_env.cache))
    user.install()
    served_ok(user, user.run(*PROMPT), 0)
    stats = user.cli("stats", "--json", timeout=120)
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout), stats.stdout
    route = user.cli("route", "why does this test fail?", timeout=120)
    assert route.returncode == 0, route.stderr
    assert json.loads(route.stdout.strip().splitlines()[-1])["tier"] == "reasoning"
    # The npm way: `npx <package> <command>` runs the same bin.
    npx = subprocess.run(
        ["npm", "exec", "--yes", f"--package={user.tgz}", "--", "opencode-kimchi", "route", "hi"],
        cwd=user.home,
        env=user_env(user.home, KIMCHI_CACHE_DIR=str(shared_env.cache)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert npx.returncode == 0, npx.stderr[-2000:]
    assert "tier" in npx.stdout
