"""Start-up against a broken model-metadata endpoint, through the real brain process: the `config` hook answers within
the catalog's start-up budget whatever the endpoint does, and the last cached model list is used."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from kimchi_plugin.provider.catalog import START_BUDGET_S
from tests.support.misbehaving_server import MisbehavingServer, answer, closed_port, http, serve, silent, trickle  # noqa: F401 (serve is a fixture)
from tests.support.rpc_process import RpcProcess

pytestmark = pytest.mark.subprocess

API_KEY = "sk-test-catalog-startup-key"
SLACK_S = 3.0  # process scheduling on a loaded 2-CPU machine (a silent or trickling endpoint would hold far longer)
BUDGET_SPENT = "network slower than"  # the brain's log line when the start-up budget ran out
CACHED_MODEL = "nemotron-3-super"  # only the cache knows it
NETWORK_MODEL = "glm-5"  # only the network knows it
USER_MODELS = {"kimi-k2.5": {"name": "Kimi K2.5"}}


def _entry(slug: str) -> dict:
    return {"slug": slug, "limits": {"context_window": 262144, "max_output_tokens": 32768}, "tool_call": True}


def _seed_cache(home: Path, base_url: str) -> None:
    """A stale copy (fetched long ago), as a previous session would have left it."""
    digest = hashlib.sha256(base_url.encode()).hexdigest()[:12]
    path = home / "cache" / "opencode-kimchi" / f"models-{digest}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": 1, "fetched_at": 1_000_000.0, "models": [_entry(CACHED_MODEL)]}))


def _config(base_url: str) -> dict:
    return {
        "model": "kimchi/kimi-k2.5",
        "provider": {"kimchi": {"options": {"baseURL": base_url, "apiKey": API_KEY}, "models": USER_MODELS}},
    }


def _start(home: Path, base_url: str) -> tuple[set[str], float, RpcProcess]:
    brain = RpcProcess(home=home)
    brain.initialize({"llmClassifier": False})
    # The Brain is imported right after `initialize` is answered: a no-op call first, so that the timing below is the
    # catalogue's alone.
    brain.call(0, "tool.definition", {"input": {"toolID": "read"}, "output": {}})
    started = time.monotonic()
    reply = brain.call(1, "config", {"input": None, "output": _config(base_url)}, timeout=START_BUDGET_S + 10)
    elapsed = time.monotonic() - started
    models = set(reply["result"]["output"]["provider"]["kimchi"].get("models", {}))
    return models, elapsed, brain


QUICK_FAILURES = {
    "http 500": answer(http("500 Internal Server Error", b"{}")),
    "http 401": answer(http("401 Unauthorized", b'{"error": "bad key"}')),
    "not json": answer(http("200 OK", b"<html>maintenance</html>", "text/html")),
    "no models list": answer(http("200 OK", b'{"data": []}')),
    "models of the wrong shape": answer(http("200 OK", b'{"models": [1, "x", {"slug": 3}, {"slug": "a b"}]}')),
    "truncated json": answer(http("200 OK", b'{"models": [{"slug": "glm-5", "limits": {"context_wi')),
}
SLOW_FAILURES = {
    "silent": silent,
    "trickling bytes": lambda conn: trickle(conn, json.dumps({"models": [_entry(NETWORK_MODEL)]}).encode()),
}


@pytest.mark.parametrize("name", sorted(QUICK_FAILURES))
def test_bad_answer_falls_back_to_the_cache_at_once(tmp_path: Path, serve, name: str):
    server = serve(QUICK_FAILURES[name])
    _seed_cache(tmp_path, server.base_url)

    models, elapsed, brain = _start(tmp_path, server.base_url)

    assert CACHED_MODEL in models
    assert elapsed < START_BUDGET_S + SLACK_S, f"{elapsed:.2f}s"
    assert server.wait_for_requests(1) == 1
    assert brain.close() == 0
    assert BUDGET_SPENT not in brain.stderr  # the bad answer ended the wait, not the budget
    assert API_KEY not in brain.stderr


@pytest.mark.parametrize("name", sorted(SLOW_FAILURES))
def test_slow_endpoint_costs_at_most_the_budget(tmp_path: Path, serve, name: str):
    server = serve(SLOW_FAILURES[name])
    _seed_cache(tmp_path, server.base_url)

    models, elapsed, brain = _start(tmp_path, server.base_url)

    assert CACHED_MODEL in models and NETWORK_MODEL not in models
    assert elapsed < START_BUDGET_S + SLACK_S, f"{elapsed:.2f}s"
    assert brain.close() == 0  # the background refresh does not hold up the exit
    assert BUDGET_SPENT in brain.stderr


def test_endpoint_down_without_any_cache_starts_with_the_configured_models(tmp_path: Path):
    base_url = f"http://127.0.0.1:{closed_port()}/openai/v1"

    models, elapsed, brain = _start(tmp_path, base_url)

    assert CACHED_MODEL not in models and NETWORK_MODEL not in models
    assert {"auto", "coding"} <= models  # the routed entries are still provisioned from the user's models
    assert elapsed < START_BUDGET_S + SLACK_S, f"{elapsed:.2f}s"
    assert brain.close() == 0
    assert BUDGET_SPENT not in brain.stderr  # the refused connection ended the wait, not the budget


def test_good_endpoint_replaces_the_stale_copy(tmp_path: Path, serve):
    server = serve(answer(http("200 OK", json.dumps({"models": [_entry(NETWORK_MODEL)]}).encode())))
    _seed_cache(tmp_path, server.base_url)

    models, _elapsed, brain = _start(tmp_path, server.base_url)

    assert NETWORK_MODEL in models and CACHED_MODEL not in models
    assert brain.close() == 0
