"""Property tests: whatever shape a payload takes (fields missing, renamed, retyped, extra; NaN; deep values), every
method answers with a well-formed JSON-RPC reply — a result, or -32602 for params that are not even an object
(-32600 with a null id when params is a scalar, as JSON-RPC 2.0 prescribes) — and no handler ever raises (-32603)."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kimchi_plugin.app import plugin_services
from kimchi_plugin.brain import Brain as Plugin
from kimchi_plugin.opencode.routes import HOOK_HANDLERS, build_routes
from kimchi_plugin.rpc.dispatch import build_dispatcher
from tests.fuzz.payloads import HOOK_PARAMS, METHODS, template

INVALID_PARAMS = -32602
INVALID_REQUEST = -32600
INTERNAL_ERROR = -32603
EXAMPLES = 120
SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
)
json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=25,
)
_keys = st.sampled_from(
    [
        "id",
        "type",
        "text",
        "sessionID",
        "model",
        "providerID",
        "modelID",
        "parts",
        "info",
        "role",
        "tool",
        "state",
        "status",
        "output",
        "error",
        "messages",
        "system",
        "agent",
        "options",
        "models",
        "provider",
        "event",
        "properties",
        "tokens",
        "args",
    ]
) | st.text(max_size=8)


@st.composite
def mutated(draw: st.DrawFn, value: Any, depth: int = 0) -> Any:
    """`value` with each field kept, dropped, renamed, retyped or recursed into, plus the odd extra field."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            action = draw(st.sampled_from(["keep", "keep", "recurse", "recurse", "drop", "rename", "retype"]))
            if action == "keep":
                out[key] = item
            elif action == "recurse" and depth < 6:
                out[key] = draw(mutated(item, depth + 1))
            elif action == "rename":
                out[draw(_keys)] = item
            elif action == "retype":
                out[key] = draw(json_values)
        for _ in range(draw(st.integers(0, 2))):
            out[draw(_keys)] = draw(json_values)
        return out
    if isinstance(value, list):
        items = [draw(mutated(item, depth + 1)) for item in value]
        if draw(st.booleans()):
            items.append(draw(json_values))
        return draw(st.permutations(items)) if len(items) < 6 else items
    return draw(st.one_of(st.just(value), json_values))


class Brain:
    """One configured brain (the plugin's services + dispatcher) on its own event loop, shared by the examples."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="kimchi-fuzz-"))
        env = {"HOME": str(self.tmp), "XDG_CACHE_HOME": str(self.tmp), "XDG_CONFIG_HOME": str(self.tmp)}
        self.brain = Plugin(plugin_services(env=env, log_file=str(self.tmp / "brain.log")))
        self.dispatch = build_dispatcher(build_routes(self.brain))
        self.loop = asyncio.new_event_loop()
        self.next_id = 0
        self.call(
            "initialize",
            {"protocolVersion": 1, "options": {"llmClassifier": False, "logFile": str(self.tmp / "brain.log")}},
        )
        self.call("config", HOOK_PARAMS["config"])
        self.brain.tokens.wait_until_loaded()

    def call(self, method: str, params: Any) -> dict[str, Any]:
        self.next_id += 1
        frame = json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}, allow_nan=True)
        reply = json.loads(self.loop.run_until_complete(self.dispatch(frame)))
        assert reply.get("jsonrpc") == "2.0" and ("result" in reply) != ("error" in reply), reply
        if isinstance(params, (dict, list)):
            assert reply.get("id") == self.next_id, reply
        else:  # not a structured value: an invalid request, whose id JSON-RPC 2.0 answers as null
            assert reply.get("id") is None and reply["error"]["code"] == INVALID_REQUEST, reply
        return reply


@pytest.fixture(scope="module")
def brain() -> Brain:
    return Brain()


def _safe(method: str, params: Any, brain: Brain) -> Any:
    """Keep fuzzed `initialize` options from pointing the log anywhere but the sandbox, or at a network endpoint."""
    if method == "initialize" and isinstance(params, dict) and isinstance(params.get("options"), dict):
        params["options"].update(logFile=str(brain.tmp / "brain.log"), llmBaseUrl="http://127.0.0.1:9/v1")
        params["options"].pop("apiKey", None)
    return params


def _check(method: str, reply: dict[str, Any], params: Any) -> None:
    if (
        method == "initialize"
        and isinstance(params, dict)
        and isinstance(params.get("protocolVersion"), int)
        and params["protocolVersion"] != 1
        and "result" in reply
    ):
        # Another protocol version: the brain states its own and offers nothing, so the shim passes through.
        assert reply["result"]["protocolVersion"] == 1 and reply["result"]["hooks"] == [], reply
        return
    if "error" in reply:
        assert reply["error"]["code"] in (INVALID_PARAMS, INVALID_REQUEST), (method, params, reply)
        return
    if method in HOOK_HANDLERS:
        result = reply["result"]
        assert isinstance(result, dict) and isinstance(result.get("output"), dict), reply
        assert isinstance(result.get("actions", []), list)


@pytest.mark.parametrize("method", METHODS)
@SETTINGS
@given(data=st.data())
def test_mutated_payloads_always_get_a_valid_reply(brain: Brain, method: str, data: st.DataObject):
    params = _safe(method, data.draw(mutated(template(method))), brain)

    _check(method, brain.call(method, params), params)


@pytest.mark.parametrize("method", METHODS)
@SETTINGS
@given(params=json_values)
def test_arbitrary_params_always_get_a_valid_reply(brain: Brain, method: str, params: Any):
    params = _safe(method, params, brain)

    _check(method, brain.call(method, params), params)


@pytest.mark.parametrize("method", sorted(HOOK_PARAMS))
@SETTINGS
@given(data=st.data())
def test_hook_output_of_any_shape_is_passed_through(brain: Brain, method: str, data: st.DataObject):
    """A realistic input with an output of any shape: never an error unless the output is not an object."""
    params = {"input": template(method)["input"], "output": data.draw(json_values)}

    reply = brain.call(method, params)

    if isinstance(params["output"], dict) or params["output"] is None:
        assert "result" in reply, (params, reply)
    _check(method, reply, params)
