"""Wire contract between the JS shim and the brain: method params and typed results (see PROTOCOL.md).

The action whitelist is written here once, the protocol version and the frame cap in `stdio` (read before pydantic
is imported); the shim reads the version from the `initialize` answer and refuses any other.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kimchi_plugin.rpc.stdio import MAX_FRAME_BYTES as MAX_FRAME_BYTES
from kimchi_plugin.rpc.stdio import PROTOCOL_VERSION as PROTOCOL_VERSION

TOAST_MS = 4000

# OpenCode SDK client calls the shim may make for the brain: the whole whitelist.
ActionCall = Literal["tui.showToast", "app.log", "session.summarize", "session.abort", "session.promptAsync"]
ToastVariant = Literal["info", "success", "warning", "error"]
LogLevel = Literal["debug", "info", "warn", "error"]


class _Open(BaseModel):
    """OpenCode's payloads grow between versions: unknown fields are kept, never an error. Validators are built on
    first use, so the models the `config` answer does not need are not built before it."""

    model_config = ConfigDict(extra="allow", defer_build=True)


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
    observed: list[str] = []
    """Those of `hooks` the brain only observes: the shim sends them as notifications and does not wait."""
    readOnly: list[str] = []
    """Those of `hooks` whose calls only read the brain's state: their requests leave the answers ahead in place."""
    filters: dict[str, dict[str, list[str]]] = {}
    """Per hook, input fields and the values one must hold for the call to be forwarded (absent: every call)."""
    ahead: list[dict[str, Any]] = []
    """Answers ahead that hold while this brain runs (they depend on the options alone): calls of `readOnly` hooks
    without a session (a tool's definition) that they match need no round trip."""
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


class Action(BaseModel):
    """One OpenCode SDK client call the shim makes after applying a hook's patch; `args` is the call's argument."""

    model_config = ConfigDict(frozen=True)

    call: ActionCall
    args: dict[str, Any]

    @classmethod
    def toast(cls, title: str, message: str, variant: ToastVariant = "info", duration: int = TOAST_MS) -> Action:
        body = {"title": title, "message": message, "variant": variant, "duration": duration}
        return cls(call="tui.showToast", args={"body": body})

    @classmethod
    def log(cls, level: LogLevel, message: str) -> Action:
        """A line in OpenCode's own log file (where users look when something is off)."""
        return cls(call="app.log", args={"body": {"service": "kimchi", "level": level, "message": message}})

    @classmethod
    def summarize(cls, session_id: str, provider_id: str, model_id: str) -> Action:
        """Ask OpenCode to compact a session (v1 client shape)."""
        return cls(
            call="session.summarize",
            args={"path": {"id": session_id}, "body": {"providerID": provider_id, "modelID": model_id}},
        )

    @classmethod
    def abort(cls, session_id: str) -> Action:
        """Stop the session's running turn (a stuck turn, continued on a stronger model by `prompt_async`)."""
        return cls(call="session.abort", args={"path": {"id": session_id}})

    @classmethod
    def prompt_async(cls, session_id: str, text: str, provider_id: str, model_id: str, agent: str | None) -> Action:
        """Send the session a user message without waiting for the answer (v1 client shape)."""
        body: dict[str, Any] = {
            "parts": [{"type": "text", "text": text}],
            "model": {"providerID": provider_id, "modelID": model_id},
        }
        if agent:
            body["agent"] = agent
        return cls(call="session.promptAsync", args={"path": {"id": session_id}, "body": body})


class HookResult(BaseModel):
    """Every hook's answer: a patch the shim merges into OpenCode's `output`, then actions it runs."""

    output: dict[str, Any] = Field(default_factory=dict)
    actions: list[Action] = Field(default_factory=list)
    cacheable: bool | None = None
    """`config` only: whether the shim may replay this patch at the next start with the same config."""
    ahead: list[dict[str, Any]] | None = None
    """Answers to the session's coming read-only hook calls (opencode/ahead.py): plain JSON data, sent as is."""

    def wire(self) -> dict[str, Any]:
        """The answer as sent: empty actions are left off, `cacheable` is only sent for `config`. Built by hand: a
        pydantic dump of the patch (plain JSON data already) costs more than most hooks' own work."""
        data: dict[str, Any] = {"output": self.output}
        if self.actions:
            data["actions"] = [action.model_dump(mode="json") for action in self.actions]
        if self.cacheable is not None:
            data["cacheable"] = self.cacheable
        if self.ahead is not None:
            data["ahead"] = self.ahead
        return data


class ToolExecuteResult(BaseModel):
    output: str
