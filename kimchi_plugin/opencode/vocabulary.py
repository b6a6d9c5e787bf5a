"""OpenCode's names, written once: hooks, tool categories, agents, bus events and internal prompts.

A leaf module (no imports from the project), so the pure routing code may read it without depending on the adapter.
"""

from __future__ import annotations

# Hooks the brain handles; the `initialize` answer lists exactly these and the shim forwards nothing else.
CONFIG_HOOK = "config"
CHAT_MESSAGE_HOOK = "chat.message"
CHAT_PARAMS_HOOK = "chat.params"
SYSTEM_TRANSFORM_HOOK = "experimental.chat.system.transform"
MESSAGES_TRANSFORM_HOOK = "experimental.chat.messages.transform"
TOOL_AFTER_HOOK = "tool.execute.after"
TOOL_DEFINITION_HOOK = "tool.definition"
COMPACTING_HOOK = "experimental.session.compacting"
BRAIN_HOOKS = (
    CONFIG_HOOK,
    CHAT_MESSAGE_HOOK,
    CHAT_PARAMS_HOOK,
    SYSTEM_TRANSFORM_HOOK,
    MESSAGES_TRANSFORM_HOOK,
    TOOL_AFTER_HOOK,
    TOOL_DEFINITION_HOOK,
    COMPACTING_HOOK,
)  # in the order of the method table (opencode/routes.py), which a test holds to it
# Hooks the brain only observes (it never patches their output): the shim sends them as notifications and OpenCode
# does not wait for the brain; what they lead to (a compaction) comes as `client.actions`.
OBSERVED_HOOKS = (MESSAGES_TRANSFORM_HOOK,)
# Hooks whose calls only read the brain's state, answered ahead (opencode/ahead.py): the replies to the hooks that
# change what these answers depend on carry them, and the shim answers matching calls without a round trip.
READ_ONLY_HOOKS = (CHAT_PARAMS_HOOK, SYSTEM_TRANSFORM_HOOK, TOOL_DEFINITION_HOOK)
AHEAD_CARRIERS = (CHAT_MESSAGE_HOOK, TOOL_AFTER_HOOK, COMPACTING_HOOK)

# Tools that change files. `apply_patch`, `str_replace`, `create` and `notebookedit` are other agents' names for the
# same work, seen in transcripts and in custom tools.
EDIT_TOOLS = frozenset({"edit", "write", "patch", "multiedit", "apply_patch", "str_replace", "create", "notebookedit"})
# Tools that only look: files, search, language server, the web.
READ_TOOLS = frozenset(
    {"read", "grep", "glob", "list", "ls", "codesearch", "lsp", "view", "find", "search", "webfetch", "websearch"}
)
# Tools that run commands (tests, builds, scripts).
RUN_TOOLS = frozenset({"bash", "shell", "run", "exec", "terminal", "test"})
# The tool a primary agent hands work to a subagent with.
DELEGATION_TOOL = "task"
# What the orchestrator's task tool description opens with (`tool.definition`; answered ahead from the handshake).
TASK_TOOL_GUIDE = (
    'Delegate with this tool: set subagent_type to "explore" for finding and reading code, "general" for research '
    "and implementation. Give a detailed prompt: goal, files or areas, constraints, and how to verify the result. "
    "Independent tasks can run in parallel; check each result before building on it."
)
TASK_TOOL_PREFIX = TASK_TOOL_GUIDE + "\n\n"

# Subagents OpenCode ships; a custom agent is a subagent only when its config says `mode: "subagent"`.
EXPLORE_AGENT = "explore"
GENERAL_AGENT = "general"
BUILTIN_SUBAGENTS = frozenset({EXPLORE_AGENT, GENERAL_AGENT})
# OpenCode's helper agents: they never pass through chat.message and get no routing mode.
SYSTEM_AGENTS = ("title", "summary", "compaction")
# The agent value OpenCode gives a subagent in its config.
SUBAGENT_MODE = "subagent"
# The primary agent this plugin adds: it delegates to subagents and gets delegation reminders.
ORCHESTRATOR_AGENT = "kimchi-auto"

# Text that opens the system prompt of OpenCode's internal requests (title, summary, compaction in OpenCode 1.18):
# they get no profile prompt.
INTERNAL_PROMPT_MARKERS = (
    "You are a title generator",
    "You are a context summarization agent",
    "Only output the structured summary",
    "summarize the conversation",
)

# Bus events the brain reads; the shim drops the rest (streaming deltas are most of the bus).
SESSION_CREATED = "session.created"
SESSION_DELETED = "session.deleted"
SESSION_ERROR = "session.error"
SESSION_IDLE = "session.idle"
SESSION_COMPACTED = "session.compacted"
SESSION_STATUS = "session.status"  # "retry" is the only sign of a rate-limited model while OpenCode retries it
MESSAGE_UPDATED = "message.updated"
FORWARDED_EVENTS = (
    SESSION_CREATED,
    SESSION_DELETED,
    SESSION_ERROR,
    SESSION_IDLE,
    SESSION_COMPACTED,
    SESSION_STATUS,
    MESSAGE_UPDATED,
)
