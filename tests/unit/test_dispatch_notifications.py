"""A notification is never answered, so one whose params the brain cannot read is logged at debug level (verbose
logs), without the values it carried."""

from __future__ import annotations

import json

import pytest
from structlog.testing import CapturingLogger

from kimchi_plugin.rpc import dispatch
from kimchi_plugin.rpc.dispatch import Dispatcher, Route
from kimchi_plugin.rpc.protocol import EventParams


def test_a_notification_with_invalid_params_is_not_answered_and_is_logged_without_its_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[EventParams] = []

    async def on_event(params: EventParams) -> None:
        seen.append(params)

    logger = CapturingLogger()  # whatever level an earlier test configured, the call itself is seen
    monkeypatch.setattr(dispatch, "log", logger)
    frame = json.dumps({"jsonrpc": "2.0", "method": "event", "params": {"event": "sk-secret-value"}})
    assert Dispatcher({"event": Route(EventParams, on_event)}).start(frame) == ""
    assert seen == []
    assert [(call.method_name, call.args, call.kwargs["method"]) for call in logger.calls] == [
        ("debug", ("notification dropped: invalid params",), "event")
    ]
    assert "sk-secret-value" not in repr(logger.calls)
