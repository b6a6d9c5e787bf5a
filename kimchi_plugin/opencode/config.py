"""The `config` hook (OpenCode's merged config) and `experimental.session.compacting` (what a summary must keep)."""

from __future__ import annotations

import structlog

from kimchi_plugin.brain import Brain
from kimchi_plugin.opencode import payloads as p
from kimchi_plugin.rpc.protocol import HookParams, HookResult

log = structlog.get_logger("kimchi.config")


async def config(brain: Brain, params: HookParams) -> HookResult:
    answer = await brain.configure(params.output if isinstance(params.output, dict) else {})
    log.info("config patched", keys=sorted(answer.patch), cacheable=answer.cacheable)
    return HookResult(output=answer.patch, actions=list(answer.actions), cacheable=answer.cacheable)


async def compacting(brain: Brain, params: HookParams) -> HookResult:
    inp = p.parse(p.CompactingInput, params.input)
    out = p.parse(p.CompactingOutput, params.output)
    lines = brain.compaction_context(inp.sessionID or "")
    if not lines:
        return HookResult()
    # Only `context`: OpenCode 1.18 ignores `context` entirely when a plugin sets `prompt`.
    return HookResult(output={"context": [*out.context, "\n".join(lines)]})
