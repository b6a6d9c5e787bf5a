"""Wire contract v1 between the JS shim and the brain: method names, params and results (see PROTOCOL.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 16 * 1024 * 1024  # one JSON-RPC frame (= one line); larger lines are refused, not parsed


class _Open(BaseModel):
    """OpenCode's payloads grow between versions: unknown fields are kept, never an error."""

    model_config = ConfigDict(extra="allow")


class InitializeParams(_Open):
    protocolVersion: int
    """Must equal PROTOCOL_VERSION; the shim goes pass-through on a mismatch."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Plugin options: the second element of the `plugin` tuple in opencode.json."""
    directory: str = ""
    worktree: str = ""


class ToolSpec(BaseModel):
    name: str
    description: str
    args: dict[str, Any]
    """JSON Schema object (`type: object`, `properties`, `required`)."""


class InitializeResult(BaseModel):
    protocolVersion: int = PROTOCOL_VERSION
    serverVersion: str
    tools: list[ToolSpec]
    hooks: list[str]
    """Hook names the brain handles; the shim registers exactly these."""
    events: list[str]
    """Event types worth forwarding; the shim drops the rest (streaming deltas are most of the bus)."""


class HookParams(_Open):
    input: Any = None
    output: dict[str, Any] | None = None


class ToolContext(_Open):
    sessionID: str = ""
    messageID: str = ""
    agent: str = ""


class ToolExecuteParams(_Open):
    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    context: ToolContext = Field(default_factory=ToolContext)


class EventParams(_Open):
    event: dict[str, Any]


class EmptyParams(_Open):
    pass
