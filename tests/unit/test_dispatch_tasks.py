"""A route that must run in a task (eager=False) gets one from its first step: closing an httpx client needs one on
every Python version (anyio asks for the current task), which the eager first step lacks before Python 3.12."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable

import httpx
import pytest

from kimchi_plugin.rpc.dispatch import Dispatcher, Route
from kimchi_plugin.rpc.protocol import EmptyParams


def _request(method: str) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": {}})


def _dispatcher(eager: bool, seen: list[bool]) -> Dispatcher:
    async def close_client(_params: EmptyParams) -> dict[str, bool]:
        seen.append(asyncio.current_task() is not None)
        client = httpx.AsyncClient()
        await client.aclose()
        return {"closed": client.is_closed}

    return Dispatcher({"close": Route(EmptyParams, close_client, eager=eager)})


def _answer(dispatcher: Dispatcher) -> dict[str, object]:
    """The frame dispatched from an event-loop callback, outside any task, as the transport does."""

    async def run() -> str:
        started: asyncio.Future[str | Awaitable[str]] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(lambda: started.set_result(dispatcher.start(_request("close"))))
        reply = await started
        return reply if isinstance(reply, str) else await reply

    return json.loads(asyncio.run(run()))


def test_a_route_that_needs_a_task_runs_in_one_from_its_first_step() -> None:
    seen: list[bool] = []
    assert _answer(_dispatcher(False, seen)) == {"jsonrpc": "2.0", "result": {"closed": True}, "id": 1}
    assert seen == [True]


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.12+ runs the eager step inside an eager task")
def test_before_python_312_the_eager_first_step_has_no_task() -> None:
    seen: list[bool] = []
    answer = _answer(_dispatcher(True, seen))
    assert seen == [False]
    assert answer["error"] == {"code": -32603, "message": "Internal error"}  # what `shutdown` answered before
