"""Builds the plugin's Python environment; started detached by python_env.js, so the build outlives a short-lived
OpenCode command (`opencode models`, a failing `opencode run`) that loaded the plugin. Standard library only: it runs
on the base interpreter, before any dependency exists.

Usage: build_env.py VENV PACKAGE_SPEC LOCK_DIR [UV]
Builds VENV in place (its scripts' shebangs point at VENV itself), writes VENV/.kimchi-ready last, records a failure
in VENV.failed, and removes LOCK_DIR when done either way. LOCK_DIR/owner.json names this process (written by the
parent, which knows the pid first).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

READY = ".kimchi-ready"
TIMEOUT_S = 10 * 60  # a cold pip install on a slow link


def venv_python(venv: str) -> str:
    return os.path.join(venv, "Scripts", "python.exe") if os.name == "nt" else os.path.join(venv, "bin", "python")


def steps(venv: str, spec: str, uv: str | None) -> list[list[str]]:
    if uv:
        return [
            [uv, "venv", "--quiet", "--python", sys.executable, venv],
            [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", venv_python(venv), spec],
        ]
    return [
        [sys.executable, "-m", "venv", venv],
        [venv_python(venv), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", spec],
    ]


def build(venv: str, spec: str, uv: str | None) -> str | None:
    """None on success, else what went wrong (the tail of the failing step's output)."""
    shutil.rmtree(venv, ignore_errors=True)  # a build interrupted earlier
    for command in steps(venv, spec, uv):
        try:
            done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{os.path.basename(command[0])} {command[1]}: {exc}"
        if done.returncode != 0:
            out = (done.stdout + done.stderr).strip()
            hint = " (on Debian/Ubuntu: apt install python3-venv)" if "ensurepip" in out or "venv" in out else ""
            return f"{os.path.basename(command[0])} {command[1]}{hint}: {out[-400:]}"
    with open(os.path.join(venv, READY), "w") as marker:
        marker.write(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    return None


def main() -> int:
    venv, spec, lock = sys.argv[1:4]
    uv = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] else None
    failed = f"{venv}.failed"
    try:
        os.remove(failed)
    except OSError:
        pass
    try:
        problem = build(venv, spec, uv)
        if problem:
            shutil.rmtree(venv, ignore_errors=True)
            with open(failed, "w") as out:
                out.write(problem)
        return 1 if problem else 0
    finally:
        shutil.rmtree(lock, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
