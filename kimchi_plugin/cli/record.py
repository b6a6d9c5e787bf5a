"""`kimchi-plugin record`: the recordings the plugin made (option `record`), and one session of them written to a
file to attach to a bug report — keys and secrets removed once more on the way out."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from kimchi_plugin.cli.replay import load, load_session
from kimchi_plugin.opencode.recording import default_recordings_dir, scrub, session_of
from kimchi_plugin.opencode.vocabulary import CHAT_MESSAGE_HOOK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--session", help="the session to write (default: list the recorded sessions)")
    parser.add_argument("-o", "--out", help="the file to write (default: stdout)")


def _list(folder: Path) -> int:
    files = sorted(folder.glob("*.jsonl"), key=lambda p: p.stat().st_mtime, reverse=True) if folder.is_dir() else []
    if not files:
        print(f'no recordings under {folder}: set the plugin option "record": true and use OpenCode')
        return 0
    for path in files:
        sessions: dict[str, int] = {}
        for frame in load(path).frames:
            if frame.get("method") == CHAT_MESSAGE_HOOK and (session := session_of(frame)):
                sessions[session] = sessions.get(session, 0) + 1
        listed = ", ".join(f"{s} ({n} messages)" for s, n in sessions.items()) or "no messages"
        print(f"{path}: {listed}")
    return 0


def run(args: argparse.Namespace) -> int:
    if not args.session:
        return _list(default_recordings_dir(os.environ))
    try:
        loaded = load_session(args.session, os.environ)
    except (OSError, ValueError) as exc:
        print(f"record: {exc}", file=sys.stderr)
        return 2
    text = "".join(json.dumps(scrub(frame), ensure_ascii=False) + "\n" for frame in loaded.frames)
    if args.out:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        print(f"wrote {len(loaded.frames)} frames of session {args.session} to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
