"""The `config` hook (OpenCode's merged config) and `experimental.session.compacting` (what a summary must keep)."""

from __future__ import annotations

from typing import Any

import structlog

from kimchi_plugin.opencode import payloads as p
from kimchi_plugin.opencode.runtime import REQUEST_OVERHEAD_TOKENS, Runtime
from kimchi_plugin.provider import autoconfig
from kimchi_plugin.routing import context_window
from kimchi_plugin.rpc.protocol import HookParams

log = structlog.get_logger("kimchi.config")


async def config(rt: Runtime, params: HookParams) -> dict[str, Any]:
    cfg = params.output if isinstance(params.output, dict) else {}
    await rt.load_config(cfg)
    patch = autoconfig.configure(
        cfg,
        rt.registry,
        autoconfig.Provisioning(
            provider_id=rt.provider_id, base_url=rt.base_url, api_key=rt.api_key, orchestrator=rt.settings.orchestrator
        ),
    )
    for name, agent in (patch.get("agent") or {}).items():
        if isinstance(agent, dict) and isinstance(agent.get("mode"), str):
            rt.agent_modes[name] = agent["mode"]
    log.info("config patched", keys=sorted(patch))
    # The shim may replay this answer at the next start with the same config, without waiting for the brain;
    # never when it carries an API key (it would be written to disk).
    holds_key = "apiKey" in ((patch.get("provider") or {}).get(rt.provider_id) or {}).get("options", {})
    return {"output": patch, "cacheable": not holds_key}


async def compacting(rt: Runtime, params: HookParams) -> dict[str, Any]:
    inp = p.parse(p.CompactingInput, params.input)
    out = p.parse(p.CompactingOutput, params.output)
    state = rt.sessions.peek(inp.sessionID or "")
    if state is None:
        return {"output": {}}
    tokens = context_window.request_tokens(state, REQUEST_OVERHEAD_TOKENS)
    lines = context_window.preserved_context(state, tokens)
    if not lines:
        return {"output": {}}
    # Only `context`: OpenCode 1.18 ignores `context` entirely when a plugin sets `prompt`.
    return {"output": {"context": [*out.context, "\n".join(lines)]}}
