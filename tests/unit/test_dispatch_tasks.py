"""A handler runs eagerly: before Python 3.12 its first step has no current task, so it must not need one there
(closing an httpx client does: anyio asks for the current task; the brain closes its clients at end of input, in the
server's own task)."""

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


def _dispatcher(seen: list[bool]) -> Dispatcher:
    async def close_client(_params: EmptyParams) -> dict[str, bool]:
        seen.append(asyncio.current_task() is not None)
        client = httpx.AsyncClient()
        await client.aclose()
        return {"closed": client.is_closed}

    return Dispatcher({"close": Route(EmptyParams, close_client)})


def _answer(dispatcher: Dispatcher) -> dict[str, object]:
    """The frame dispatched from an event-loop callback, outside any task, as the transport does."""

    async def run() -> str:
        started: asyncio.Future[str | Awaitable[str]] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(lambda: started.set_result(dispatcher.start(_request("close"))))
        reply = await started
        return reply if isinstance(reply, str) else await reply

    return json.loads(asyncio.run(run()))


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.12+ runs the eager step inside an eager task")
def test_before_python_312_the_eager_first_step_has_no_task() -> None:
    seen: list[bool] = []
    answer = _answer(_dispatcher(seen))
    assert seen == [False]
    assert answer["error"] == {"code": -32603, "message": "Internal error"}
