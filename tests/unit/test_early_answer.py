"""The first `initialize` answered before the server's imports (rpc.stdio, opencode.handshake): the same answer the
full server gives, only for frames the full server would accept, and every other byte left to the server."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from pydantic import ValidationError

from kimchi_plugin.opencode import lifecycle
from kimchi_plugin.opencode.handshake import answer_early, offer
from kimchi_plugin.opencode.vocabulary import BRAIN_HOOKS
from kimchi_plugin.rpc.protocol import InitializeParams
from kimchi_plugin.rpc.stdio import answer_first_frame

PARAMS = {
    "protocolVersion": 1,
    "shimVersion": "0.1.0",
    "options": {"verbose": True},
    "directory": "/p",
    "worktree": "/p",
}


def test_the_early_answer_is_the_full_servers_answer() -> None:
    full = lifecycle.handshake(BRAIN_HOOKS, InitializeParams.model_validate(PARAMS))
    assert answer_early("initialize", PARAMS) == full.model_dump(mode="json", exclude_none=True)
    assert offer(BRAIN_HOOKS)["hooks"] == list(BRAIN_HOOKS)


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("chat.params", PARAMS),
        ("initialize", {**PARAMS, "protocolVersion": 2}),  # the mismatch answer is logged: the full server's
        ("initialize", {**PARAMS, "protocolVersion": "1"}),
        ("initialize", {**PARAMS, "protocolVersion": True}),
        ("initialize", {**PARAMS, "protocolVersion": 1.0}),
        ("initialize", {"options": {}}),
        ("initialize", {**PARAMS, "options": ["verbose"]}),
        ("initialize", {**PARAMS, "directory": 7}),
        ("initialize", {**PARAMS, "worktree": None}),
    ],
)
def test_anything_but_a_plain_initialize_is_left_to_the_server(method: str, params: dict[str, Any]) -> None:
    assert answer_early(method, params) is None


@pytest.mark.parametrize(
    "params", [PARAMS, {"protocolVersion": 1}, {**PARAMS, "extra": [1]}, {"protocolVersion": 1, "options": {}}]
)
def test_what_is_answered_early_the_full_server_accepts(params: dict[str, Any]) -> None:
    assert answer_early("initialize", params) is not None
    assert InitializeParams.model_validate(params).protocolVersion == 1


def test_the_full_servers_rejections_are_never_answered_early() -> None:
    for bad in ({"options": {}}, {"protocolVersion": "one"}, {"protocolVersion": 1, "options": 3}):
        with pytest.raises(ValidationError):
            InitializeParams.model_validate(bad)
        assert answer_early("initialize", bad) is None


def _first_frame(data: bytes, *, close: bool = True) -> tuple[bytes, dict[str, Any] | None, list[str]]:
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, data)
        if close:
            os.close(write_fd)
        written: list[str] = []
        rest, params = answer_first_frame(read_fd, written.append, answer_early)
        return rest, params, written
    finally:
        os.close(read_fd)
        if not close:
            os.close(write_fd)


def _request(rpc_id: Any, method: str = "initialize", params: Any = PARAMS) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": rpc_id, "method": method, "params": params}).encode()


def test_the_first_initialize_is_answered_and_what_follows_it_is_kept() -> None:
    following = b'{"jsonrpc":"2.0","id":2,"method":"config","params":{"input":{},"out'
    rest, params, written = _first_frame(_request(1) + b"\n" + following, close=False)
    assert params == PARAMS
    assert rest == following
    assert [json.loads(frame) for frame in written] == [{"jsonrpc": "2.0", "result": offer(BRAIN_HOOKS), "id": 1}]
    _, _, by_string_id = _first_frame(_request("a") + b"\n")
    assert json.loads(by_string_id[0])["id"] == "a"


@pytest.mark.parametrize(
    "data",
    [
        _request(2, "chat.params") + b"\n",
        _request(True) + b"\n",
        _request(None) + b"\n",
        _request(1.5) + b"\n",
        _request(1, params=[1]) + b"\n",
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": PARAMS, "x": 1}).encode() + b"\n",
        json.dumps({"jsonrpc": "1.0", "id": 1, "method": "initialize", "params": PARAMS}).encode() + b"\n",
        b"[" + _request(1) + b"]\n",
        b"{not json\n",
        b"\xff\xfe" + _request(1) + b"\n",
        b"[" * 60_000 + b"\n",  # nested too deeply for the parser (within one pipe buffer)
        b"\n" + _request(1) + b"\n",
        _request(1),  # end of input before the newline
        b"",
    ],
)
def test_any_other_first_frame_is_left_whole_to_the_server(data: bytes) -> None:
    rest, params, written = _first_frame(data)
    assert (rest, params, written) == (data, None, [])


def test_a_first_frame_longer_than_a_pipe_read_is_left_to_the_server() -> None:
    big = _request(1, params={**PARAMS, "options": {"note": "x" * 200_000}}) + b"\n"
    read_fd, write_fd = os.pipe()
    try:
        os.set_blocking(write_fd, False)
        sent = os.write(write_fd, big)  # what the pipe holds; the reader then stops at its read bound or the end
        os.close(write_fd)
        written: list[str] = []
        rest, params = answer_first_frame(read_fd, written.append, answer_early)
        assert (rest, params, written) == (big[:sent], None, [])
    finally:
        os.close(read_fd)
