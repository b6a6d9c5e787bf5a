"""Start-up order: `initialize` is answered before the Brain and its method table are imported, and before pydantic,
structlog and asyncio (OpenCode waits for that answer; only later calls need them), and the answer offers exactly the
hooks of the method table."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kimchi_plugin.opencode.routes import HOOK_HANDLERS
from kimchi_plugin.opencode.vocabulary import BRAIN_HOOKS
from tests.support.rpc_process import RpcProcess

SERVER = Path(__file__).resolve().parent / "start_order_brain.py"


def test_the_initialize_answer_offers_the_method_tables_hooks() -> None:
    assert tuple(HOOK_HANDLERS) == BRAIN_HOOKS


@pytest.mark.subprocess
def test_initialize_is_answered_before_the_brain_is_imported(tmp_path: Path) -> None:
    brain = RpcProcess([sys.executable, str(SERVER)], home=tmp_path)
    try:
        answer = brain.initialize({"llmClassifier": False})["result"]
        assert answer["hooks"] == list(BRAIN_HOOKS)
        assert brain.call(2, "tool.definition", {"input": {"toolID": "read"}, "output": {}})["result"] == {"output": {}}
    finally:
        assert brain.close() == 0
    stderr = brain.stderr_once("brain imported at initialize")
    assert "brain imported at initialize: False" in stderr
    assert "imported at initialize: []" in stderr
