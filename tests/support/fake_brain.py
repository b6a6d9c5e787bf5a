"""A brain that misbehaves on purpose, for the shim tests. Standard library only, so it starts in a few ms.

Usage: fake_brain.py MODE [STATE_DIR] [PATCHES_JSON]
  STATE_DIR     gets `pid-<pid>` per process and `calls.jsonl` (every frame received, in order)
  PATCHES_JSON  {"<method>": <result>} answers for hook methods (default {"output": {}}); an "initialize" entry is
                merged over the handshake result (e.g. {"hooks": [...]} to list fewer hooks); "pushBefore": a method
                whose every answer is preceded by an empty `client.actions` notification
Modes:
  ok            a well-behaved brain
  die-on-hook   SIGKILLs itself when `chat.message` arrives (other methods are answered)
  hang-on-hook  never answers `chat.message` (other methods are answered)
  silent-hooks  never answers a hook (the handshake, `shutdown` and `tool.execute` are answered)
  hang-hard     answers `initialize`, then ignores everything: input, end of input and SIGTERM
  wrong-id      answers hooks with another id
  garbage       answers hooks with a line that is not JSON
  junk          writes junk lines and stray frames before every (correct) answer
  push          after `initialize`, pushes a `client.actions` notification (one allowed call, one not)
  slow-start    sleeps SLOW_START_S before reading anything
  crash-at-start  writes a line to stderr and exits 3 before reading anything
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

SLOW_START_S = 3.0
HOOKS = [
    "config",
    "chat.message",
    "chat.params",
    "experimental.chat.system.transform",
    "experimental.chat.messages.transform",
    "tool.execute.before",
    "tool.execute.after",
    "tool.definition",
    "experimental.session.compacting",
]
TOOL = {
    "name": "fake_tool",
    "description": "A tool the fake brain offers",
    "args": {"type": "object", "properties": {"reason": {"type": "string"}}, "required": ["reason"]},
}


def send(frame: object) -> None:
    sys.stdout.write(json.dumps(frame) + "\n")
    sys.stdout.flush()


def main() -> int:
    mode = sys.argv[1]
    state_dir = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None
    patches = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    calls = None
    if state_dir:
        open(os.path.join(state_dir, f"pid-{os.getpid()}"), "w").close()
        calls = open(os.path.join(state_dir, "calls.jsonl"), "a", buffering=1)  # noqa: SIM115 - open for the life of the process
    if mode == "crash-at-start":
        sys.stderr.write("fatal: cannot import the routing brain\n")
        return 3
    if mode == "slow-start":
        time.sleep(SLOW_START_S)
    for line in sys.stdin:
        msg = json.loads(line)
        if calls:
            calls.write(json.dumps({"pid": os.getpid(), **msg}) + "\n")
        method, rpc_id = msg.get("method"), msg.get("id")
        if rpc_id is None:
            continue
        if method == "initialize":
            send(
                {
                    "jsonrpc": "2.0",
                    "id": rpc_id,
                    "result": {
                        "protocolVersion": 1,
                        "serverVersion": "fake",
                        "tools": [TOOL],
                        "hooks": HOOKS,
                        "events": ["session.idle"],
                        "pid": os.getpid(),
                        **patches.get("initialize", {}),
                    },
                }
            )
            if mode == "push":
                send(
                    {
                        "jsonrpc": "2.0",
                        "method": "client.actions",
                        "params": {
                            "actions": [
                                {
                                    "call": "app.log",
                                    "args": {"body": {"service": "fake", "level": "info", "message": "pushed"}},
                                },
                                {"call": "session.delete", "args": {"path": {"id": "ses_1"}}},
                            ]
                        },
                    }
                )
            if mode == "hang-hard":
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                while True:
                    time.sleep(3600)
            continue
        if method == "shutdown":
            send({"jsonrpc": "2.0", "id": rpc_id, "result": {}})
            continue
        if method == "tool.execute":
            send({"jsonrpc": "2.0", "id": rpc_id, "result": {"output": f"ran {msg['params']['name']}"}})
            continue
        if method == "chat.message" and mode == "die-on-hook":
            os.kill(os.getpid(), signal.SIGKILL)
        if (method == "chat.message" and mode == "hang-on-hook") or mode == "silent-hooks":
            continue
        result = patches.get(method, {"output": {}})
        if patches.get("pushBefore") == method:
            send({"jsonrpc": "2.0", "method": "client.actions", "params": {"actions": []}})
        if mode == "wrong-id":
            send({"jsonrpc": "2.0", "id": rpc_id + 1000, "result": result})
        elif mode == "garbage":
            sys.stdout.write("<html>definitely not json</html>\n")
            sys.stdout.flush()
        else:
            if mode == "junk":
                sys.stdout.write("Loading model weights... done\n")
                send({"jsonrpc": "2.0", "id": 987654, "result": {"output": {"temperature": 99}}})
                send([1, 2, 3])
                send(None)
            send({"jsonrpc": "2.0", "id": rpc_id, "result": result})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
