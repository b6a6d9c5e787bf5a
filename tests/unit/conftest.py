"""Unit tests are pure: a test (or any fixture it uses, whatever its scope) that starts a process or opens a network
socket fails here, so it moves to the layer it belongs to (tests/integration, tests/contract, tests/fault, tests/e2e)
instead of slowing and loosening this one."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest

PROCESS_CALLS = ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system")
SOCKET_CALLS = ("connect", "connect_ex", "bind")
UNIT_DIR = Path(__file__).resolve().parent


def _forbid(what: str) -> Callable[..., NoReturn]:
    def refuse(*_args: object, **_kwargs: object) -> NoReturn:
        raise AssertionError(f"unit tests are pure: {what} is not allowed here (move the test to tests/integration)")

    return refuse


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    """Around setup, call and teardown of every unit test, so module- and session-scoped fixtures are held too (the
    hook sees every item of the run, so it picks this folder's)."""
    if UNIT_DIR not in item.path.resolve().parents:
        return (yield)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess.Popen, "_execute_child", _forbid("starting a process"))
        for name in PROCESS_CALLS:
            if hasattr(os, name):
                patch.setattr(os, name, _forbid(f"os.{name}"))
        for name in SOCKET_CALLS:
            patch.setattr(socket.socket, name, _forbid(f"socket.{name}"))
        return (yield)
