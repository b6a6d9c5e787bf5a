"""A dead LLM classifier endpoint over many vague messages (hardening item 7), through the real brain: each
`chat.message` stays inside its 1.5 s budget, and after a few failures the classifier is paused (visible in the
verbose log) instead of costing every message its deadline."""

from __future__ import annotations

import json
import time
from pathlib import Path

from kimchi_plugin.provider.llm_classifier import FAILURES_TO_OPEN
from tests.support.misbehaving_server import serve, silent  # noqa: F401 (serve is a fixture)
from tests.support.rpc_process import RpcProcess

API_KEY = "sk-test-dead-classifier-key"
CHAT_BUDGET_S = 1.5
MESSAGES = 10
MODELS = {"kimi-k2.5": {"name": "Kimi K2.5"}, "minimax-m2.7": {"name": "MiniMax M2.7"}}


def _chat(rpc_id: int, text: str) -> dict:
    model = {"providerID": "kimchi", "modelID": "auto"}
    session = f"ses_vague_{rpc_id}"
    return {
        "input": {"sessionID": session, "agent": "build", "model": model},
        "output": {
            "message": {"id": f"msg_{rpc_id}", "sessionID": session, "agent": "build", "model": model},
            "parts": [{"type": "text", "text": text}],
        },
    }


def test_dead_classifier_endpoint_is_paused_and_every_message_stays_in_budget(tmp_path: Path, serve):
    server = serve(silent)
    config = {"provider": {"kimchi": {"options": {"baseURL": server.base_url, "apiKey": API_KEY}, "models": MODELS}}}
    brain = RpcProcess(home=tmp_path, env={"KIMCHI_LOG_LEVEL": "DEBUG"})
    try:
        brain.initialize({"llmClassifierThreshold": 1.0, "llmClassifierTimeoutMs": 1200, "toasts": False})
        brain.call(1, "config", {"input": None, "output": config}, timeout=30)
        catalog_requests = server.requests
        took = []
        for n in range(MESSAGES):
            started = time.monotonic()
            reply = brain.call(10 + n, "chat.message", _chat(n, f"hmm, what about the cache thing #{n}?"), timeout=30)
            took.append(time.monotonic() - started)
            assert "result" in reply, reply
    finally:
        assert brain.close() == 0
    assert server.requests - catalog_requests == FAILURES_TO_OPEN, "the classifier was not paused"
    assert max(took) < CHAT_BUDGET_S, [round(t, 3) for t in took]
    log = brain.stderr
    assert "paused after repeated failures" in log
    assert API_KEY not in log
    assert json.dumps(API_KEY) not in log
