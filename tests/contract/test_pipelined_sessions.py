"""Many sessions pipelined through the real brain process, as under `opencode serve` (the in-process scenarios are in
tests/unit/test_concurrency.py)."""

from __future__ import annotations

import json

from kimchi_plugin.routing.tiers import PROFILE_TIER, Profile
from tests.support.rpc_process import RpcProcess
from tests.unit.test_concurrency import CONFIG, MODEL_OF, OPTIONS, _chat, _routed_model


def test_pipelined_sessions_through_the_real_process(brain: RpcProcess):
    """Frames of 40 sessions interleaved in one pipe, none awaited: replies may come in any order, but each answers
    its own id, and within a session a later `/lock` applies from that message on."""
    sessions = 40
    first, second = Profile.REVIEWER, Profile.ASSISTANT  # Reasoning, then Quick
    plan = [
        (f"/lock {first.value} go", first),
        ("continue", first),
        (f"/lock {second.value} next", second),
        ("and this", second),
        ("and that", second),
    ]
    brain.result("initialize", {"protocolVersion": 1, "options": OPTIONS})
    brain.result("config", {"input": None, "output": CONFIG})
    expected: dict[int, str] = {}
    stream = bytearray()
    for n, (text, profile) in enumerate(plan):
        for k in range(sessions):
            rpc_id = 10_000 + n * sessions + k
            stream += json.dumps(_chat(rpc_id, f"ses_{k}", text)).encode() + b"\n"
            expected[rpc_id] = MODEL_OF[PROFILE_TIER[profile]]
    brain.send_raw(bytes(stream))
    answered: dict[int, str] = {}
    for _ in expected:
        reply = brain.read_frame(timeout=30)
        assert isinstance(reply, dict) and reply["id"] not in answered, reply
        answered[reply["id"]] = _routed_model(reply)

    assert answered == expected
    brain.close_stdin()
    assert brain.wait() == 0
