"""Huge model catalogues (hardening item 11), through the real brain: 15,000 models from the endpoint and 150,000 in
the disk cache. The catalogue is capped with a warning, the config patch stays small and `config` is answered within
its budget (3 s, PROTOCOL.md)."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from kimchi_plugin.provider.catalog import MAX_MODELS
from tests.support.misbehaving_server import answer, http, serve  # noqa: F401 (serve is a fixture)
from tests.support.rpc_process import RpcProcess

API_KEY = "sk-test-huge-catalog-key"
CONFIG_BUDGET_S = 3.0
PATCH_LIMIT_BYTES = 512 * 1024
USER_MODELS = {"kimi-k2.5": {"name": "Kimi K2.5"}}


def _models(count: int) -> list[dict]:
    limits = {"context_window": 262144, "max_output_tokens": 32768}
    return [
        {"slug": f"vendor-model-{n:06d}", "display_name": f"Vendor Model {n}", "limits": limits, "tool_call": True}
        for n in range(count)
    ]


def _config(base_url: str) -> dict:
    options = {"baseURL": base_url, "apiKey": API_KEY}
    return {"model": "kimchi/kimi-k2.5", "provider": {"kimchi": {"options": options, "models": USER_MODELS}}}


def _configure(home: Path, base_url: str) -> tuple[dict, int, float, RpcProcess]:
    brain = RpcProcess(home=home)
    brain.initialize({"llmClassifier": False})
    started = time.monotonic()
    brain.send_raw(
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "config", "params": {"output": _config(base_url)}}).encode()
        + b"\n"
    )
    line = brain.read_line(60)
    elapsed = time.monotonic() - started
    assert line is not None
    reply = json.loads(line)
    assert "result" in reply, str(reply)[:500]
    return reply["result"]["output"], len(line), elapsed, brain


def test_fifteen_thousand_models_from_the_endpoint(tmp_path: Path, serve):
    server = serve(answer(http("200 OK", json.dumps({"models": _models(15_000)}).encode())))

    patch, size, elapsed, brain = _configure(tmp_path, server.base_url)

    models = patch["provider"]["kimchi"].get("models", {})
    assert "vendor-model-000000" in models and f"vendor-model-{MAX_MODELS:06d}" not in models
    assert size < PATCH_LIMIT_BYTES, size
    assert elapsed < CONFIG_BUDGET_S, f"{elapsed:.2f}s"
    assert brain.close() == 0
    assert "only the first" in brain.stderr


def test_a_150k_model_cache_is_refused_not_parsed(tmp_path: Path):
    base_url = "http://127.0.0.1:9/openai/v1"  # nothing listens: only the cache could answer
    digest = hashlib.sha256(base_url.encode()).hexdigest()[:12]
    cache = tmp_path / "cache" / "opencode-kimchi" / f"models-{digest}.json"
    cache.parent.mkdir(parents=True)
    cache.write_text(json.dumps({"format": 1, "fetched_at": time.time(), "models": _models(150_000)}))

    patch, size, elapsed, brain = _configure(tmp_path, base_url)

    assert "vendor-model-000000" not in patch["provider"]["kimchi"].get("models", {})
    assert size < PATCH_LIMIT_BYTES, size
    assert elapsed < CONFIG_BUDGET_S, f"{elapsed:.2f}s"
    assert brain.close() == 0
    assert "cache larger than" in brain.stderr
