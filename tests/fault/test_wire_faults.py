"""Frames that used to defeat the wire layer, through the real brain process: replies that outgrow the frame cap
because of escaping (hardening item 5), nesting too deep to parse (item 6), and error replies that carried an
exception's text (item 1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from kimchi_plugin.rpc.protocol import MAX_FRAME_BYTES
from tests.support.rpc_process import RpcProcess

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hooks"
CJK_PASTE_CHARS = 2_900_000
DEEP = 100_000


def _config() -> dict:
    return json.loads((FIXTURES / "config.json").read_text())["params"]


def test_slash_command_before_a_huge_cjk_paste_is_answered_within_the_frame_cap(tmp_path: Path):
    brain = RpcProcess(home=tmp_path)
    try:
        brain.initialize({"llmClassifier": False, "toasts": False})
        brain.call(1, "config", _config(), timeout=30)
        params = json.loads((FIXTURES / "chat.message--slash.json").read_text())["params"]
        paste = "".join(chr(0x4E00 + i % 20000) for i in range(CJK_PASTE_CHARS))
        params["output"]["parts"][0]["text"] = "/plan " + paste
        # The shim writes JSON.stringify output: non-ASCII characters as they are, not escaped.
        request = {"jsonrpc": "2.0", "id": 2, "method": "chat.message", "params": params}
        brain.send_raw(json.dumps(request, ensure_ascii=False).encode() + b"\n")
        line = brain.read_line(60)
        assert line is not None
        assert len(line) <= MAX_FRAME_BYTES, f"reply of {len(line)} bytes is over the {MAX_FRAME_BYTES} cap"
        reply = json.loads(line)
        assert reply["id"] == 2 and "result" in reply, str(reply)[:300]
        text = reply["result"]["output"]["parts"][0]["text"]
        assert not text.startswith("/plan") and text.startswith(paste[:100])
    finally:
        brain.close()


def test_nesting_too_deep_to_parse_is_answered_with_the_request_id(tmp_path: Path):
    brain = RpcProcess(home=tmp_path)
    try:
        brain.initialize({"llmClassifier": False})
        head = '{"jsonrpc":"2.0","id":42,"method":"chat.params","params":{"input":'
        brain.send_raw((head + "[" * DEEP + "]" * DEEP + "}}\n").encode())
        reply = brain.read_frame()
        assert reply["id"] == 42, reply
        assert reply["error"]["code"] == -32600
        assert "nested" in reply["error"]["message"]
        assert brain.call(43, "tool.definition", {"input": {}, "output": {}})["result"] == {"output": {}}
    finally:
        assert brain.close() == 0


def test_error_replies_never_carry_exception_text(tmp_path: Path):
    brain = RpcProcess(home=tmp_path)
    try:
        brain.initialize({"llmClassifier": False})
        brain.send_raw(b'{"jsonrpc": "2.0", "id": 7, "method": \n')
        # The library put the parser's message ("Expecting value: line 1 column …") into `data`.
        assert brain.read_frame()["error"] == {"code": -32700, "message": "Parse error"}
    finally:
        assert brain.close() == 0


def test_stdin_from_a_regular_file_is_served_by_the_reader_thread(tmp_path: Path):
    """The event loop cannot watch a regular file: the thread reader takes over and every frame is answered."""
    frames = tmp_path / "frames.ndjson"
    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": 1, "options": {}}},
        {"jsonrpc": "2.0", "id": 2, "method": "tool.definition", "params": {"input": {}, "output": {}}},
    ]
    frames.write_text("".join(json.dumps(line) + "\n" for line in lines))
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path), "HOME": str(tmp_path)}
    with frames.open("rb") as stdin:
        done = subprocess.run(
            [sys.executable, "-m", "kimchi_plugin"], stdin=stdin, capture_output=True, env=env, timeout=60
        )
    assert done.returncode == 0, done.stderr[-2000:]
    assert [json.loads(line)["id"] for line in done.stdout.splitlines()] == [1, 2]
