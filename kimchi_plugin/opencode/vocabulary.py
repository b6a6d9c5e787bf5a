"""OpenCode's names, written once: tool categories, built-in subagents and the bus events worth forwarding.

A leaf module (no imports from the project), so the pure routing code may read it without depending on the adapter.
"""

from __future__ import annotations

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

# Subagents OpenCode ships; a custom agent is a subagent only when its config says `mode: "subagent"`.
EXPLORE_AGENT = "explore"
GENERAL_AGENT = "general"
BUILTIN_SUBAGENTS = frozenset({EXPLORE_AGENT, GENERAL_AGENT})

# Bus events the brain reads; the shim drops the rest (streaming deltas are most of the bus).
FORWARDED_EVENTS = (
    "session.created",
    "session.deleted",
    "session.error",
    "session.idle",
    "session.compacted",
    "session.status",  # "retry" is the only sign of a rate-limited model while OpenCode retries it
    "message.updated",
)
