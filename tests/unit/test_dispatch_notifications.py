"""A notification is never answered, so one whose params the brain cannot read is logged at debug level (verbose
logs), without the values it carried."""

from __future__ import annotations

import json

import structlog

from kimchi_plugin.rpc.dispatch import Dispatcher, Route
from kimchi_plugin.rpc.protocol import EventParams


def test_a_notification_with_invalid_params_is_not_answered_and_is_logged_without_its_values() -> None:
    seen: list[EventParams] = []

    async def on_event(params: EventParams) -> None:
        seen.append(params)

    dispatcher = Dispatcher({"event": Route(EventParams, on_event)})
    frame = json.dumps({"jsonrpc": "2.0", "method": "event", "params": {"event": "sk-secret-value"}})
    with structlog.testing.capture_logs() as logs:
        assert dispatcher.start(frame) == ""
    assert seen == []
    assert [(entry["log_level"], entry["event"], entry["method"]) for entry in logs] == [
        ("debug", "notification dropped: invalid params", "event")
    ]
    assert "sk-secret-value" not in json.dumps(logs)
