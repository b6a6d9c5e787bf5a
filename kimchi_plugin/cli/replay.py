"""`kimchi-plugin replay FILE`: re-run a recording's decisions with this brain and print where they differ from the
recorded ones (exit 1 when any does). `--set option=value` changes a plugin option for the replay, to see what a
rule change would do to a real session. The frames go through the plugin's own hook handlers, on a clock, a catalogue
and LLM answers taken from the recording: nothing is read from the network or the user's files."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kimchi_plugin.app import bundled, quiet_logs
from kimchi_plugin.brain import Brain, LlmSpec, Services
from kimchi_plugin.opencode import events, tools
from kimchi_plugin.opencode.recording import FORMAT, decision_of, default_recordings_dir, llm_key, session_of
from kimchi_plugin.opencode.routes import HOOK_HANDLERS
from kimchi_plugin.opencode.vocabulary import CHAT_MESSAGE_HOOK
from kimchi_plugin.routing.corrections import Correction
from kimchi_plugin.routing.explanation import excerpt
from kimchi_plugin.routing.tiers import Profile, Tier
from kimchi_plugin.rpc.protocol import EventParams, HookParams, ToolExecuteParams

REPLAY_KEY = "replay-key"  # stands in for the removed key, so the LLM second opinion is asked (and answered from file)
COMPARED = ("model", "tier", "profile", "step")


@dataclass
class Loaded:
    frames: list[dict[str, Any]]
    session: str | None = None  # the one session of the recording, when it holds one

    @property
    def header(self) -> dict[str, Any]:
        return next((f for f in self.frames if f.get("kind") == "header"), {})


@dataclass(frozen=True, slots=True)
class Difference:
    index: int
    session: str | None
    text: str
    recorded: Mapping[str, Any] | None
    replayed: Mapping[str, Any] | None


def load(path: Path) -> Loaded:
    frames = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    header = next((f for f in frames if f.get("kind") == "header"), None)
    if header is None or header.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} file")
    sessions = {s for f in frames if f.get("method") == CHAT_MESSAGE_HOOK and (s := session_of(f))}
    return Loaded(frames, next(iter(sessions)) if len(sessions) == 1 else None)


def only_session(loaded: Loaded, session: str) -> Loaded:
    """The frames of one session, plus those that belong to none (header, catalogue, config)."""
    return Loaded([f for f in loaded.frames if session_of(f) in (None, session)], session)


def load_session(which: str, env: Mapping[str, str]) -> Loaded:
    """A recording file, or the newest recording under the recordings directory that holds session `which`."""
    path = Path(which)
    if path.is_file():
        return load(path)
    folder = default_recordings_dir(env)
    for candidate in sorted(folder.glob("*.jsonl"), key=lambda p: p.stat().st_mtime, reverse=True):
        loaded = load(candidate)
        if any(session_of(f) == which for f in loaded.frames):
            return only_session(loaded, which)
    raise ValueError(f"no recording of session {which!r} under {folder} (turn on the option `record`)")


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class _Recorded:
    """What the recording says the outside world answered."""

    catalog: Any = None
    llm: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Catalog:
    models: Sequence[Mapping[str, Any]]
    source: str
    refresh: Any = None


class _ReplayLlm:
    def __init__(self, answers: Mapping[str, str | None]) -> None:
        self._answers = answers

    async def __call__(self, text: str, previous: str) -> Tier | None:
        answer = self._answers.get(llm_key(text, previous))
        return Tier(answer) if answer else None

    async def close(self) -> None:
        return None


def _services(clock: _Clock, recorded: _Recorded) -> Services:
    async def load_catalog(_base_url: str, _api_key: str | None) -> _Catalog:
        return recorded.catalog or _Catalog((), "none")

    def make_llm(_spec: LlmSpec) -> _ReplayLlm:
        return _ReplayLlm(recorded.llm)

    return Services(
        clock=clock,
        env={"KIMCHI_API_KEY": REPLAY_KEY},
        load_catalog=load_catalog,
        bundled_models=bundled,
        make_llm=make_llm,
        background_loads=False,
    )


class Replay:
    """A fresh Brain fed a recording: its clock, catalogue and LLM answers come from the frames."""

    def __init__(self, loaded: Loaded) -> None:
        self.loaded = loaded
        self.clock, self.recorded = _Clock(), _Recorded()
        self.recorded.llm = {str(f["key"]): f.get("tier") for f in loaded.frames if f.get("kind") == "llm"}
        self.brain = Brain(_services(self.clock, self.recorded))

    async def run(self, overrides: Mapping[str, Any], directory: str | None = None) -> list[Difference]:
        """Every frame through the brain, the recorded options changed by `overrides`; the messages whose decision
        differs from the recorded one."""
        header = self.loaded.header
        self.brain.start({**header.get("options", {}), **overrides}, header.get("directory", ""))
        differences: list[Difference] = []
        for index, frame in enumerate(self.loaded.frames):
            if isinstance(frame.get("t"), (int, float)):
                self.clock.now = float(frame["t"])
            kind = frame.get("kind")
            if kind == "corrections":
                self.brain.learning.seed([_correction(c) for c in frame.get("corrections", [])])
            elif kind == "catalog":
                self.recorded.catalog = _Catalog(frame.get("models", []), str(frame.get("source", "none")))
            elif kind == "hook" and frame.get("method") in HOOK_HANDLERS:
                await _hook(self.brain, frame, index, differences)
            elif kind == "event":
                await events.on_event(self.brain, EventParams(event=frame.get("event") or {}))
            elif kind == "tool":
                await tools.tool_execute(self.brain, ToolExecuteParams.model_validate(frame.get("params") or {}))
        return differences

    async def close(self) -> None:
        await self.brain.close()


async def _hook(brain: Brain, frame: Mapping[str, Any], index: int, differences: list[Difference]) -> None:
    method = str(frame["method"])
    raw = frame.get("params") or {}
    await HOOK_HANDLERS[method](brain, HookParams(input=raw.get("input"), output=raw.get("output")))
    if method != CHAT_MESSAGE_HOOK:
        return
    message = (raw.get("output") or {}).get("message") or {}
    session = session_of(frame)
    replayed = decision_of(brain, session, message.get("id"))
    recorded = frame.get("decision")
    if _key(recorded) != _key(replayed):
        parts = (raw.get("output") or {}).get("parts") or []
        text = next((str(p.get("text")) for p in parts if isinstance(p, Mapping) and p.get("type") == "text"), "")
        differences.append(Difference(index, session, excerpt(text, 60), recorded, replayed))


def _key(decision: Mapping[str, Any] | None) -> tuple[Any, ...] | None:
    return tuple(decision.get(k) for k in COMPARED) if decision else None


def _correction(data: Mapping[str, Any]) -> Correction:
    return Correction(
        float(data["at"]),
        str(data["excerpt"]),
        frozenset(data["features"]),
        Profile(data["detected"]),
        Profile(data["automatic"]),
        Profile(data["target"]),
        str(data["kind"]),
    )


def describe(decision: Mapping[str, Any] | None) -> str:
    if not decision:
        return "not routed"
    return f"{decision['tier']}/{decision['profile']} on {decision['model']} ({decision['step']})"


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="a recording (option `record`, or `kimchi-plugin record`)")
    parser.add_argument("--session", help="replay only this session of the recording")
    parser.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE", help="change a plugin option")


async def _replay(args: argparse.Namespace) -> int:
    loaded = load(Path(args.file))
    if args.session:
        loaded = only_session(loaded, args.session)
    overrides = {}
    for item in args.set:
        name, _, value = item.partition("=")
        overrides[name.strip()] = _value(value.strip())
    replay = Replay(loaded)
    try:
        differences = await replay.run(overrides)
    finally:
        await replay.close()
    routed = sum(1 for f in loaded.frames if f.get("method") == CHAT_MESSAGE_HOOK)
    for d in differences:
        print(f'frame {d.index} session {d.session} "{d.text}"')
        print(f"  recorded: {describe(d.recorded)}")
        print(f"  now:      {describe(d.replayed)}")
    print(f"{routed} message(s) replayed, {len(differences)} difference(s)")
    return 1 if differences else 0


def run(args: argparse.Namespace) -> int:
    quiet_logs()
    try:
        return asyncio.run(_replay(args))
    except (OSError, ValueError) as exc:
        print(f"replay: {exc}", file=sys.stderr)
        return 2
