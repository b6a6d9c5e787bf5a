"""Measures the next-request estimate behind context-aware routing: accuracy of the transcript count against
tiktoken o200k_base, and the cost per turn of `experimental.chat.messages.transform` on a ~100K-token conversation.

Messages are built from Python stdlib sources and prose (user asks, assistant answers, tool outputs); nothing touches
the network. Run: .venv/bin/python scripts/bench_context.py [--tokens N] [--repeats N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import sysconfig
import time
from pathlib import Path

from kimchi_plugin.app import command_services
from kimchi_plugin.brain import Brain
from kimchi_plugin.opencode import chat
from kimchi_plugin.opencode.payloads import TranscriptMessage
from kimchi_plugin.routing.tokens import (
    MESSAGE_OVERHEAD_TOKENS,
    ConversationTokens,
    build_encoding,
    estimate_tokens,
)
from kimchi_plugin.rpc.protocol import HookParams

STDLIB = Path(sysconfig.get_paths()["stdlib"])
SOURCES = ("json/encoder.py", "textwrap.py", "argparse.py", "dataclasses.py", "pathlib.py", "shutil.py", "typing.py")
CHUNK_CHARS = 4_000
SESSION = "ses_bench"


def build_messages(target_tokens: int, encoding) -> list[dict]:
    """OpenCode-shaped transcript messages (user ask, assistant tool call + tool output) up to `target_tokens`."""
    text = "".join((STDLIB / name).read_text() for name in SOURCES)
    messages: list[dict] = []
    total, offset, i = 0, 0, 0
    while total < target_tokens:
        chunk = text[offset : offset + CHUNK_CHARS] or text[:CHUNK_CHARS]
        offset = (offset + CHUNK_CHARS) % len(text)
        ask = f"Step {i}: read the next part of the module and explain what the helper functions do."
        messages.append(
            {
                "info": {"id": f"msg_u{i}", "role": "user", "sessionID": SESSION},
                "parts": [{"id": f"prt_u{i}", "type": "text", "text": ask}],
            }
        )
        tool = {
            "id": f"prt_t{i}",
            "type": "tool",
            "tool": "read",
            "state": {"status": "completed", "input": {"filePath": f"/src/mod{i}.py"}, "output": chunk},
        }
        answer = {"id": f"prt_a{i}", "type": "text", "text": "The helpers normalise input and build the result. " * 3}
        messages.append(
            {"info": {"id": f"msg_a{i}", "role": "assistant", "sessionID": SESSION}, "parts": [tool, answer]}
        )
        total += sum(
            len(encoding.encode_ordinary(s)) for s in (ask, chunk, answer["text"], str(tool["state"]["input"]))
        )
        i += 1
    return messages


def transform(rt: Brain, payload: str) -> float:
    """One hook call as the brain sees it (JSON frame → params → handler); returns milliseconds."""
    started = time.perf_counter()
    params = HookParams.model_validate(json.loads(payload))
    asyncio.run(chat.messages_transform(rt, params))
    return (time.perf_counter() - started) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)

    rt = Brain(command_services(env={}))
    assert rt.tokens.wait_until_loaded(60), "o200k_base could not be built from the shipped rank file"
    encoding = build_encoding()  # a separate tiktoken Encoding (o200k_base from the shipped, hash-checked ranks)
    messages = build_messages(args.tokens, encoding)
    rt.sessions.get(SESSION, 0.0)

    # Accuracy: what the brain counts vs tiktoken on exactly the text OpenCode sends per message.
    sent = [chat._entry(TranscriptMessage.model_validate(m), i).sent for i, m in enumerate(messages)]
    reference = sum(len(encoding.encode_ordinary(s)) for s in sent)
    payload = json.dumps({"input": {}, "output": {"messages": messages}})
    transform(rt, payload)
    counted = rt.sessions.peek(SESSION).transcript_tokens - MESSAGE_OVERHEAD_TOKENS * len(messages)
    estimated = sum(estimate_tokens(s) for s in sent)
    print(
        f"conversation: {len(messages)} messages, {reference:,} o200k tokens (tiktoken), "
        f"{len(payload) / 1e6:.2f} MB JSON"
    )
    print(
        f"brain count (exact path):    {counted:,} tokens, error {counted - reference:+,} "
        f"({(counted - reference) / reference:+.3%})"
    )
    print(f"estimate (while loading):    {estimated:,} tokens, error {(estimated - reference) / reference:+.2%}")

    # Cost per turn: cold (every message new) and warm (one new user message per turn, the usual case).
    cold = []
    for _ in range(args.repeats):
        fresh = Brain(command_services(env={}))
        fresh.tokens = rt.tokens
        fresh.conversation_tokens = ConversationTokens(rt.tokens)
        fresh.sessions.get(SESSION, 0.0)
        cold.append(transform(fresh, payload))
    warm = []
    grown = list(messages)
    for turn in range(args.repeats):
        grown.append(
            {
                "info": {"id": f"msg_new{turn}", "role": "user", "sessionID": SESSION},
                "parts": [{"id": f"prt_new{turn}", "type": "text", "text": "and now the next step, please"}],
            }
        )
        warm.append(transform(rt, json.dumps({"input": {}, "output": {"messages": grown}})))
    print(f"messages.transform, cold (all {len(messages)} messages counted): median {statistics.median(cold):.1f} ms")
    print(
        f"messages.transform, warm (1 new message per turn):          median {statistics.median(warm):.1f} ms "
        f"(min {min(warm):.1f}, max {max(warm):.1f}) incl. JSON decode and payload validation"
    )
    parse_only = [0.0] * args.repeats
    for i in range(args.repeats):
        started = time.perf_counter()
        HookParams.model_validate(json.loads(payload))
        parse_only[i] = (time.perf_counter() - started) * 1000
    print(f"  of which JSON decode + HookParams validation: median {statistics.median(parse_only):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
