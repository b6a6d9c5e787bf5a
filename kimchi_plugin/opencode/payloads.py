"""Typed views of OpenCode hook payloads: only the fields the handlers read. Every field is optional and unknown fields
are skipped (never copied: the recording keeps the raw params): a payload of an unexpected shape (a future OpenCode)
degrades to "nothing to do", never to an error."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(slots=True)
class ChatMessage:
    """What `chat.message` reads of its payloads."""

    session_id: str | None
    requested: tuple[str | None, str | None] | None  # the model the message names: (providerID, modelID)
    agent: str | None
    message_id: str | None
    words: list[str]  # the user's own words: text parts that are not synthetic (files, tool output OpenCode attaches)


def chat_message(inp: Any, out: Any) -> ChatMessage:
    """`chat.message`'s payloads, read straight when they are plain JSON of the fields' types (every message OpenCode
    sends), else through the views (`chat_message_views`), which degrade any other shape as they do for every hook."""
    return _plain_chat_message(inp, out) or chat_message_views(inp, out)


def chat_message_views(inp: Any, out: Any) -> ChatMessage:
    """`chat.message`'s payloads through the lenient views: a field of a wrong type empties its whole payload."""
    i, o = parse(ChatMessageInput, inp), parse(ChatMessageOutput, out)
    model = o.message.model or i.model
    return ChatMessage(
        i.sessionID or o.message.sessionID,
        None if model is None else (model.providerID, model.modelID),
        o.message.agent or i.agent,
        o.message.id,
        [part.text for part in o.parts if part.type == "text" and part.text and not part.synthetic],
    )


_NOT_PLAIN: Any = object()
_STRING_OR_NONE = frozenset((str, type(None)))


def _strings(*values: Any) -> bool:
    """Whether each value is a string or None (a field the views take as it is)."""
    return _STRING_OR_NONE.issuperset(map(type, values))


def _ref(value: Any) -> Any:
    """A plain model reference as (providerID, modelID), None for none, or _NOT_PLAIN."""
    if value is None:
        return None
    if type(value) is not dict or not _strings(provider := value.get("providerID"), model := value.get("modelID")):
        return _NOT_PLAIN
    return provider, model


def _plain_chat_message(inp: Any, out: Any) -> ChatMessage | None:
    """What the views would read, for payloads whose every read field already has its type (None: any other shape)."""
    if type(inp) is not dict or type(out) is not dict:
        return None
    message, parts = out.get("message", {}), out.get("parts", [])  # null for either empties the views' payload
    if type(message) is not dict or type(parts) is not list:
        return None
    session_id, agent, message_id = inp.get("sessionID"), inp.get("agent"), message.get("id")
    message_session, message_agent = message.get("sessionID"), message.get("agent")
    if not _strings(session_id, agent, message_id, message_session, message_agent):
        return None
    asked, named = _ref(message.get("model")), _ref(inp.get("model"))
    if asked is _NOT_PLAIN or named is _NOT_PLAIN:
        return None
    words = []
    for part in parts:
        if type(part) is not dict:
            return None
        kind, text, synthetic = part.get("type"), part.get("text"), part.get("synthetic")
        if not _strings(kind, text) or not (synthetic is None or type(synthetic) is bool):
            return None
        if kind == "text" and text and not synthetic:
            words.append(text)
    return ChatMessage(session_id or message_session, asked or named, message_agent or agent, message_id, words)
