"""Typed views of OpenCode hook payloads: only the fields the handlers read. Every field is optional and unknown fields
are skipped (never copied: the recording keeps the raw params): a payload of an unexpected shape (a future OpenCode)
degrades to "nothing to do", never to an error."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Open(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)  # built on first use: `config` needs none of them


class ModelRef(Open):
    providerID: str | None = None
    modelID: str | None = None


class Part(Open):
    type: str | None = None
    text: str | None = None
    synthetic: bool | None = None


class UserMessage(Open):
    id: str | None = None
    sessionID: str | None = None
    agent: str | None = None
    model: ModelRef | None = None


class ChatMessageInput(Open):
    sessionID: str | None = None
    agent: str | None = None
    model: ModelRef | None = None


class ChatMessageOutput(Open):
    message: UserMessage = Field(default_factory=UserMessage)
    parts: list[Part] = Field(default_factory=list)


class ModelInfo(Open):
    id: str | None = None
    providerID: str | None = None


class ProviderInfo(Open):
    id: str | None = None


class ChatParamsInput(Open):
    sessionID: str | None = None
    agent: str | None = None
    model: ModelInfo | None = None
    provider: ProviderInfo | None = None


class SystemTransformInput(Open):
    sessionID: str | None = None
    model: ModelInfo | None = None


class ToolAfterInput(Open):
    tool: str | None = None
    sessionID: str | None = None
    args: dict[str, Any] | None = None


class ToolAfterOutput(Open):
    output: Any = None
    metadata: dict[str, Any] | None = None


class ToolDefinitionInput(Open):
    toolID: str | None = None


class ToolDefinitionOutput(Open):
    description: str | None = None


class CompactingInput(Open):
    sessionID: str | None = None


class CompactingOutput(Open):
    context: list[Any] = Field(default_factory=list)
    prompt: str | None = None


class TranscriptInfo(Open):
    id: str | None = None
    role: str | None = None
    sessionID: str | None = None


class TranscriptMessage(Open):
    info: TranscriptInfo = Field(default_factory=TranscriptInfo)
    parts: list[Any] = Field(default_factory=list)
    """Read as they are (a part that is not an object is skipped): validating each would copy the whole transcript
    at every step."""


class MessagesTransformOutput(Open):
    messages: list[TranscriptMessage] = Field(default_factory=list)


def parse(model: type[BaseModel], value: Any) -> Any:
    """Validate `value` leniently: a wrong shape yields an empty model instead of an exception."""
    try:
        return model.model_validate(value if isinstance(value, dict) else {})
    except ValueError:
        return model.model_validate({})
