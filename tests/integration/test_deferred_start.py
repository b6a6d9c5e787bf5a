"""Start-up defers what `config` does not need, safely: the brain answers `config` before its main thread imports the
classifier's features (loaded on a thread after the answer), pydantic's plugin search, importlib.resources' readers or
the command line parser, nor builds the hook payload models; a message that arrives right behind `config` (while that
load runs) is routed exactly as one sent later."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.rpc_process import REPO_ROOT, RpcProcess, frame

pytestmark = pytest.mark.subprocess

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "hooks"
WATCH_BRAIN = REPO_ROOT / "tests" / "support" / "import_watch_brain.py"
DEFERRED = (
    "kimchi_plugin.routing.classify.features",
    "kimchi_plugin.routing.classify.patterns",
    "kimchi_plugin.routing.classify.lexicon",
    "importlib.metadata",
    "importlib.resources.readers",
    "argparse",
)
TEXTS = (
    "Plan the architecture for splitting the billing service into smaller modules: what are the trade-offs?",
    "Why does the websocket handler drop messages after a reconnect? The log shows a stale cursor.",
    "Refactor the session store so eviction happens in one place and add tests for the TTL.",
    "ok, fix it",
)
OPTIONS = {"llmClassifier": False}


def _fixture(name: str) -> dict[str, Any]:
    params: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())["params"]
    return params


def _message(text: str, session: str, number: int) -> dict[str, Any]:
    params = _fixture("chat.message--auto")
    message_id = f"msg_deferred{number:04d}"
    params["input"]["sessionID"] = params["output"]["message"]["sessionID"] = session
    params["output"]["message"]["id"] = message_id
    params["output"]["parts"] = [{"id": f"prt_deferred{number:04d}", "type": "text", "text": text}]
    return params


def _replies(brain: RpcProcess, ids: list[int]) -> dict[int, Any]:
    replies: dict[int, Any] = {}
    while len(replies) < len(ids):
        reply = brain.read_frame()
        if isinstance(reply, dict) and reply.get("id") in ids:
            replies[reply["id"]] = reply
    return replies


def test_config_is_answered_before_the_main_thread_imports_what_only_later_calls_need(tmp_path: Path) -> None:
    brain = RpcProcess([sys.executable, str(WATCH_BRAIN), *DEFERRED], home=tmp_path)
    try:
        brain.initialize(OPTIONS)
        assert "result" in brain.call(2, "config", _fixture("config"), timeout=60)
        routed = brain.call(3, "chat.message", _message(TEXTS[0], "ses_watch", 1), timeout=60)
        assert "result" in routed, routed
    finally:
        assert brain.close() == 0
    stderr = brain.stderr_once("by the config answer")
    assert "imported on the main thread by the config answer: []" in stderr, stderr[-3000:]
    assert "payload models built by the config answer: []" in stderr, stderr[-3000:]


def test_a_message_right_behind_config_is_routed_as_one_sent_later(tmp_path: Path) -> None:
    session = "ses_deferred_start"
    messages = [_message(text, session, k) for k, text in enumerate(TEXTS)]
    ids = [10 + k for k in range(len(messages))]

    at_once = RpcProcess(home=tmp_path / "at-once")
    try:
        at_once.initialize(OPTIONS)
        # `config` and the session's messages in one write: the first message is read while the features still load.
        at_once.send_raw(
            frame(2, "config", _fixture("config"))
            + b"".join(frame(i, "chat.message", m) for i, m in zip(ids, messages))
        )
        first = _replies(at_once, [2, *ids])
    finally:
        assert at_once.close() == 0

    later = RpcProcess(home=tmp_path / "later")
    try:
        later.initialize(OPTIONS)
        later.call(2, "config", _fixture("config"), timeout=60)
        later.call(3, "chat.message", _message("warm the classifier up", "ses_other", 99), timeout=60)
        time.sleep(0.5)
        second = {i: later.call(i, "chat.message", copy.deepcopy(m), timeout=60) for i, m in zip(ids, messages)}
    finally:
        assert later.close() == 0

    for i in ids:
        assert "result" in first[i], first[i]
        assert first[i]["result"] == second[i]["result"]
    modes = {action["args"]["body"]["title"] for i in ids for action in first[i]["result"].get("actions", [])}
    assert {"Kimchi: Planning", "Kimchi: Debugging", "Kimchi: Coding"} <= modes  # classified, not defaulted


PLUGINS_OFF = """
import sys
from kimchi_plugin.app import without_pydantic_plugins
without_pydantic_plugins()
from pydantic import BaseModel, ValidationError

class Shape(BaseModel):
    size: int

assert Shape.model_validate({"size": "3"}).size == 3
try:
    Shape.model_validate({"size": "three"})
except ValidationError:
    pass
else:
    raise AssertionError("no validation error")
assert "importlib.metadata" not in sys.modules
from pydantic.plugin import _loader
assert tuple(_loader.get_plugins()) == ()
assert _loader.PYDANTIC_ENTRY_POINT_GROUP == "pydantic"  # any other name: the real module, plugins still off
assert tuple(_loader.get_plugins()) == ()
print("ok")
"""


def test_pydantic_validates_without_its_plugin_search() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PLUGINS_OFF], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60, check=False
    )
    assert done.stdout.strip() == "ok", done.stderr[-3000:]
