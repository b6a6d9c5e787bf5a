"""Realistic params for every method the brain serves (the shapes OpenCode 1.18 sends), as starting points that
fuzzers mutate: fields dropped, renamed, retyped or added, as a future OpenCode might."""

from __future__ import annotations

import copy
from typing import Any

PROVIDER = "kimchi"
SESSION = "ses_fuzz"
MODELS = {"kimi-k2.5": {"name": "Kimi K2.5"}, "glm-5": {}, "minimax-m2.7": {}}
MODEL_REF = {"providerID": PROVIDER, "modelID": "kimi-k2.5"}
MODEL_INFO = {"id": "kimi-k2.5", "providerID": PROVIDER}


def _text_part(text: str, synthetic: bool = False) -> dict[str, Any]:
    return {
        "id": "prt_1",
        "sessionID": SESSION,
        "messageID": "msg_1",
        "type": "text",
        "text": text,
        "synthetic": synthetic,
    }


def _transcript() -> list[dict[str, Any]]:
    return [
        {
            "info": {"id": "msg_1", "role": "user", "sessionID": SESSION, "agent": "build"},
            "parts": [_text_part("why does the login test fail after the refactor?")],
        },
        {
            "info": {
                "id": "msg_2",
                "role": "assistant",
                "sessionID": SESSION,
                "agent": "build",
                "modelID": "kimi-k2.5",
            },
            "parts": [
                {"type": "reasoning", "text": "look at the fixture"},
                {
                    "type": "tool",
                    "tool": "bash",
                    "callID": "c1",
                    "state": {"status": "error", "input": {"command": "pytest"}, "error": "FAILED test_login"},
                },
                {
                    "type": "tool",
                    "tool": "read",
                    "state": {"status": "completed", "input": {"filePath": "a.py"}, "output": "def login(): ..."},
                },
                {"type": "text", "text": "The fixture resets the session too late."},
            ],
        },
    ]


HOOK_PARAMS: dict[str, dict[str, Any]] = {
    "config": {
        "input": None,
        "output": {
            "model": f"{PROVIDER}/kimi-k2.5",
            "small_model": f"{PROVIDER}/minimax-m2.7",
            "provider": {PROVIDER: {"options": {"baseURL": "http://127.0.0.1:9/v1"}, "models": MODELS}},
            "agent": {"build": {"mode": "primary"}, "helper": {"mode": "subagent", "model": f"{PROVIDER}/glm-5"}},
            "command": {"deploy": {"template": "deploy $ARGUMENTS"}},
        },
    },
    "chat.message": {
        "input": {"sessionID": SESSION, "agent": "build", "model": MODEL_REF, "messageID": "msg_1"},
        "output": {
            "message": {"id": "msg_1", "sessionID": SESSION, "role": "user", "agent": "build", "model": MODEL_REF},
            "parts": [_text_part("/lock reasoning plan the cache layer"), _text_part("file body", True)],
        },
    },
    "chat.params": {
        "input": {
            "sessionID": SESSION,
            "agent": "build",
            "model": MODEL_INFO,
            "provider": {"id": PROVIDER},
            "message": {"id": "msg_1", "sessionID": SESSION},
        },
        "output": {"temperature": 0.7, "topP": 1, "options": {}},
    },
    "experimental.chat.system.transform": {
        "input": {"sessionID": SESSION, "model": MODEL_INFO},
        "output": {"system": ["You are opencode, an interactive CLI tool.", "Project instructions."]},
    },
    "experimental.chat.messages.transform": {"input": {}, "output": {"messages": _transcript()}},
    "tool.execute.after": {
        "input": {"tool": "edit", "sessionID": SESSION, "callID": "c2", "args": {"filePath": "src/a.py"}},
        "output": {"title": "edit", "output": "Error: no match", "metadata": {"exit": 1}},
    },
    "tool.definition": {
        "input": {"toolID": "task"},
        "output": {"description": "Launch a subagent.", "parameters": {"type": "object"}},
    },
    "experimental.session.compacting": {
        "input": {"sessionID": SESSION},
        "output": {"context": ["keep"], "prompt": None},
    },
}

OTHER_PARAMS: dict[str, dict[str, Any]] = {
    "initialize": {
        "protocolVersion": 1,
        "shimVersion": "0.1.0",
        "options": {"llmClassifier": False, "verbose": True},
        "directory": "/tmp/project",
        "worktree": "/tmp/project",
    },
    "tool.execute": {
        "name": "suggest_reasoning_mode",
        "args": {"reason": "needs a design"},
        "context": {"sessionID": SESSION, "messageID": "msg_1", "agent": "build"},
    },
}

EVENTS: list[dict[str, Any]] = [
    {
        "type": "message.updated",
        "properties": {
            "info": {
                "id": "msg_2",
                "role": "assistant",
                "sessionID": SESSION,
                "providerID": PROVIDER,
                "modelID": "kimi-k2.5",
                "tokens": {"input": 1200, "output": 80, "reasoning": 0, "cache": {"read": 500, "write": 0}},
                "cost": 0.001,
                "finish": "stop",
                "time": {"created": 1, "completed": 2},
            }
        },
    },
    {
        "type": "session.error",
        "properties": {
            "sessionID": SESSION,
            "error": {"name": "APIError", "data": {"message": "rate limited", "statusCode": 429, "isRetryable": True}},
        },
    },
    {"type": "session.compacted", "properties": {"sessionID": SESSION}},
    {"type": "session.idle", "properties": {"sessionID": SESSION}},
    {"type": "session.deleted", "properties": {"info": {"id": SESSION}}},
]


def template(method: str) -> dict[str, Any]:
    """A fresh copy of the realistic params of `method`."""
    if method == "event":
        return {"event": copy.deepcopy(EVENTS[0])}
    source = HOOK_PARAMS.get(method) or OTHER_PARAMS[method]
    return copy.deepcopy(source)


METHODS = [*HOOK_PARAMS, *OTHER_PARAMS, "event"]
