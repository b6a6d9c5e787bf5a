"""`initialize` and `shutdown`, and the wrapper that runs (and logs) every hook call."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from kimchi_plugin import __version__
from kimchi_plugin.logs import BoundOnce, tracing
from kimchi_plugin.opencode import ahead
from kimchi_plugin.opencode import vocabulary as v
from kimchi_plugin.opencode.handshake import offer
from kimchi_plugin.opencode.vocabulary import CONFIG_HOOK
from kimchi_plugin.rpc.protocol import (
    PROTOCOL_VERSION,
    EmptyParams,
    HookParams,
    HookResult,
    InitializeParams,
    InitializeResult,
)
from kimchi_plugin.settings import Settings

if TYPE_CHECKING:  # `handshake` answers `initialize` before the Brain is imported (app.py)
    from kimchi_plugin.brain import Brain

log = BoundOnce("kimchi.hooks")

CONFIG_WAIT_S = 1.0  # how long a hook waits for the first config (inside chat.message's 1.5 s budget)
HookHandler = Callable[["Brain", HookParams], Awaitable[HookResult]]
# Hooks OpenCode calls on every step of a turn (13 tool definitions, params, transforms): logged at trace level only.
PER_STEP_HOOKS = frozenset(
    {v.TOOL_DEFINITION_HOOK, v.CHAT_PARAMS_HOOK, v.SYSTEM_TRANSFORM_HOOK, v.MESSAGES_TRANSFORM_HOOK, v.TOOL_AFTER_HOOK}
)


def handshake(hooks: Sequence[str], params: InitializeParams) -> InitializeResult:
    """The `initialize` answer; needs no Brain."""
    if params.protocolVersion != PROTOCOL_VERSION:
        # Answer with our version and nothing to forward: the shim sees the mismatch and passes through at once.
        log.warning("protocol version mismatch", shim=params.protocolVersion, brain=PROTOCOL_VERSION)
        return InitializeResult(serverVersion=__version__, tools=[], hooks=[], events=[])
    settings, _problems = Settings.from_options(params.options)  # the problems are logged once, by Brain.start
    return InitializeResult.model_validate(offer(hooks, settings.orchestrator))


def start(brain: Brain, params: InitializeParams) -> None:
    """Apply `initialize`'s options (when the protocol versions match)."""
    if params.protocolVersion == PROTOCOL_VERSION:
        brain.start(params.options, params.directory)
        log.info("initialized", directory=params.directory, options=sorted(params.options))


async def initialize(brain: Brain, hooks: Sequence[str], params: InitializeParams) -> InitializeResult:
    answer = handshake(hooks, params)
    start(brain, params)
    return answer


async def shutdown(brain: Brain, _params: EmptyParams) -> dict[str, object]:
    await brain.flush()  # the rest of the close (threads, the database's checkpoint) follows at end of input
    return {}


async def logged(hook: str, handler: HookHandler, brain: Brain, params: HookParams) -> HookResult:
    """Run a hook handler and log the call (method and duration) at debug level; per-step hooks only when tracing.

    Hooks that arrive while the first `config` is still being processed (the shim may answer `config` from its cache
    and send it on concurrently) wait for it briefly: routing needs the model registry it builds. The replies of the
    hooks that change a session's state carry its answers ahead, unless another such request of the session is still
    being answered (its change would come after them)."""
    started = time.perf_counter()
    session = ahead.session_of(params) if hook in v.AHEAD_CARRIERS else None
    if session is not None:
        brain.take(session)
    try:
        if hook != CONFIG_HOOK and not brain.configured.is_set():
            try:
                await asyncio.wait_for(brain.configured.wait(), CONFIG_WAIT_S)
            except asyncio.TimeoutError:
                pass
        result = await handler(brain, params)
        if session is not None and brain.alone(session):
            result.ahead = ahead.entries(brain, session)
    finally:
        if session is not None:
            brain.release(session)
    if (hook not in PER_STEP_HOOKS or tracing()) and log.is_enabled_for(logging.DEBUG):
        log.debug(
            "hook", method=hook, ms=round((time.perf_counter() - started) * 1000, 3), patched=sorted(result.output)
        )
    return result


async def observed(hook: str, handler: HookHandler, brain: Brain, params: HookParams) -> HookResult:
    """A hook the shim sends as a notification (`vocabulary.OBSERVED_HOOKS`): nobody reads a reply, so the actions
    it leads to are pushed as `client.actions`; a shim that still asks is answered without them."""
    result = await logged(hook, handler, brain, params)
    if result.actions:
        brain.services.push_actions(list(result.actions))
    return HookResult(output=result.output)
