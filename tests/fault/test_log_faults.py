"""The log file under hostile conditions (hardening items 1 and 4): a full disk never fails a hook, the file stays
bounded while several brains write it, it is private, and a `logFile` naming someone else's file leaves it alone."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from kimchi_plugin.logs import LogFile
from tests.support.rpc_process import RpcProcess

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hooks"
HOOKS = ("config", "chat.message--auto", "chat.params", "tool.execute.after", "experimental.chat.system.transform")
WRITERS = 4
LINES_PER_WRITER = 4000
ROTATE_BYTES = 64 * 1024


def _fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _drive_hooks(brain: RpcProcess) -> None:
    for rpc_id, name in enumerate(HOOKS, start=1):
        fx = _fixture(name)
        reply = brain.call(rpc_id, fx["method"], fx["params"], timeout=30)
        assert "result" in reply, reply


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full to inject ENOSPC")
def test_a_full_disk_never_fails_a_hook(tmp_path: Path):
    brain = RpcProcess(home=tmp_path, env={"KIMCHI_LOG_LEVEL": "DEBUG"})
    try:
        init = brain.initialize({"logFile": "/dev/full", "llmClassifier": False, "verbose": True})
        assert "result" in init, init
        _drive_hooks(brain)
        assert brain.call(99, "shutdown", {})["result"] == {}
    finally:
        assert brain.close() == 0
    stderr = brain.stderr
    assert "Traceback" not in stderr
    assert stderr.count("file logging is off") == 1, stderr[-3000:]


def _write_lines(path: str, writer: int) -> None:
    log = LogFile(path, max_bytes=ROTATE_BYTES)
    for n in range(LINES_PER_WRITER):
        log.write(json.dumps({"event": "line", "writer": writer, "n": n, "pad": "x" * (n % 150)}) + "\n")
    log.close()


def test_rotation_while_running_with_several_writers(tmp_path: Path):
    path = tmp_path / "logs" / "brain.log"
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write_lines, args=(str(path), k)) for k in range(WRITERS)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(60)
        assert process.exitcode == 0
    files = sorted(path.parent.iterdir())
    assert [f.name for f in files] == ["brain.log", "brain.log.1"]
    longest_line = 300
    for file in files:
        assert file.stat().st_size <= ROTATE_BYTES + WRITERS * longest_line, file
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        for line in file.read_text().splitlines():
            json.loads(line)  # no line torn or interleaved with another writer's
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_the_default_log_is_private(tmp_path: Path):
    brain = RpcProcess(home=tmp_path)
    try:
        brain.initialize({"llmClassifier": False})
    finally:
        assert brain.close() == 0
    log = tmp_path / "state" / "opencode-kimchi" / "brain.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700


def test_log_file_naming_an_unrelated_file_leaves_it_alone(tmp_path: Path):
    thesis = tmp_path / "thesis.pdf"
    content = b"%PDF-1.7\n" + os.urandom(6 * 1024 * 1024)  # larger than the rotation size
    thesis.write_bytes(content)
    brain = RpcProcess(home=tmp_path)
    try:
        assert "result" in brain.initialize({"logFile": str(thesis), "llmClassifier": False, "verbose": True})
        _drive_hooks(brain)
    finally:
        assert brain.close() == 0
    assert thesis.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("thesis")) == ["thesis.pdf"]
    assert brain.stderr.count("not a log file this plugin wrote") == 1
