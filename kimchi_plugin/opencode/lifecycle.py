"""`initialize` and `shutdown`, and the wrapper that logs every hook call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from kimchi_plugin import __version__
from kimchi_plugin.opencode.runtime import Runtime
from kimchi_plugin.opencode.tools import tool_specs
from kimchi_plugin.rpc.protocol import PROTOCOL_VERSION, EmptyParams, HookParams, InitializeParams, InitializeResult

log = structlog.get_logger("kimchi.hooks")

CONFIG_WAIT_S = 1.0  # how long a hook waits for the first config (inside chat.message's 1.5 s budget)
FORWARDED_EVENTS = [
    "session.created",
    "session.deleted",
    "session.error",
    "session.idle",
    "session.compacted",
    "session.status",  # "retry" is the only sign of a rate-limited model while OpenCode retries it
    "message.updated",
]


async def initialize(runtime: Runtime, params: InitializeParams) -> InitializeResult:
    from kimchi_plugin.opencode import HOOK_HANDLERS

    if params.protocolVersion != PROTOCOL_VERSION:
        # Answer with our version and nothing to forward: the shim sees the mismatch and passes through at once.
        log.warning("protocol version mismatch", shim=params.protocolVersion, brain=PROTOCOL_VERSION)
        return InitializeResult(serverVersion=__version__, tools=[], hooks=[], events=[])

    runtime.initialize(params)
    log.info("initialized", directory=params.directory, options=sorted(params.options))
    return InitializeResult(
        serverVersion=__version__, tools=tool_specs(), hooks=list(HOOK_HANDLERS), events=FORWARDED_EVENTS
    )


async def shutdown(runtime: Runtime, _params: EmptyParams) -> dict:
    await runtime.close()
    return {}


async def logged(
    hook: str, handler: Callable[[Runtime, HookParams], Awaitable[dict[str, Any]]], runtime: Runtime, params: HookParams
) -> dict[str, Any]:
    """Run a hook handler and log the call (method and duration) at debug level.

    Hooks that arrive while the first `config` is still being processed (the shim may answer `config` from its cache
    and send it on concurrently) wait for it briefly: routing needs the model registry it builds."""
    started = time.perf_counter()
    if hook != "config" and not runtime.configured.is_set():
        try:
            await asyncio.wait_for(runtime.configured.wait(), CONFIG_WAIT_S)
        except asyncio.TimeoutError:
            pass
    result = await handler(runtime, params)
    log.debug(
        "hook",
        method=hook,
        ms=round((time.perf_counter() - started) * 1000, 3),
        patched=sorted(result.get("output") or {}),
    )
    return result
