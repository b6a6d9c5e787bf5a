"""Usage accounting: per-session token and cost totals from assistant message updates, what a tool call did to the
code and the repository (commits, pull requests, lines, languages), and what the same tokens would have cost on the
top Reasoning and top Coding models. Pure: prices and events come in as arguments.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

TOKENS_PER_PRICE_UNIT = 1_000_000  # prices are USD per 1M tokens
UNROUTED = "unrouted"  # tier/profile label of a message no routing decision is known for
UNKNOWN_LANGUAGE = "unknown"


# -- tokens and prices ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens and USD of one message (or a sum of messages)."""

    input: int = 0
    output: int = 0
    reasoning: int = 0
    cache_read: int = 0
    cache_write: int = 0
    cost: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input + other.input,
            self.output + other.output,
            self.reasoning + other.reasoning,
            self.cache_read + other.cache_read,
            self.cache_write + other.cache_write,
            self.cost + other.cost,
        )

    def __sub__(self, other: Usage) -> Usage:
        return Usage(
            self.input - other.input,
            self.output - other.output,
            self.reasoning - other.reasoning,
            self.cache_read - other.cache_read,
            self.cache_write - other.cache_write,
            self.cost - other.cost,
        )

    def clamped(self) -> Usage:
        """Negative parts set to zero (what a monotonic counter may add)."""
        return Usage(
            max(self.input, 0),
            max(self.output, 0),
            max(self.reasoning, 0),
            max(self.cache_read, 0),
            max(self.cache_write, 0),
            max(self.cost, 0.0),
        )

    @property
    def is_zero(self) -> bool:
        return self == ZERO

    @property
    def tokens(self) -> int:
        return self.input + self.output + self.reasoning + self.cache_read + self.cache_write


ZERO = Usage()


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per 1M tokens. Reasoning tokens are billed as output."""

    input: float
    output: float
    cache_read: float
    cache_write: float

    def cost(self, usage: Usage) -> float:
        return (
            usage.input * self.input
            + (usage.output + usage.reasoning) * self.output
            + usage.cache_read * self.cache_read
            + usage.cache_write * self.cache_write
        ) / TOKENS_PER_PRICE_UNIT


@dataclass(frozen=True, slots=True)
class Prices:
    """Prices of the models involved, and which models are the top Reasoning and top Coding ones."""

    models: Mapping[str, ModelPrice] = field(default_factory=dict)
    top_reasoning: str | None = None
    top_coding: str | None = None

    def get(self, model_id: str | None) -> ModelPrice | None:
        return self.models.get(model_id) if model_id else None


@dataclass(frozen=True, slots=True)
class Baselines:
    """What a usage would have cost on the top Reasoning and top Coding models (None: price unknown)."""

    reasoning_model: str | None
    reasoning_cost: float | None
    coding_model: str | None
    coding_cost: float | None


def baselines(usage: Usage, prices: Prices) -> Baselines:
    """Price the same tokens on the two reference models."""
    top_r, top_c = prices.get(prices.top_reasoning), prices.get(prices.top_coding)
    return Baselines(
        prices.top_reasoning,
        top_r.cost(usage) if top_r else None,
        prices.top_coding,
        top_c.cost(usage) if top_c else None,
    )


def effective_cost(usage: Usage, price: ModelPrice | None) -> float:
    """OpenCode's reported cost when it has one, else our price for the model, else 0."""
    if usage.cost > 0:
        return usage.cost
    return price.cost(usage) if price else 0.0


# -- assistant messages -----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AssistantMessage:
    """The parts of an assistant `message.updated` info that accounting reads (never its content)."""

    id: str
    session_id: str
    model: str
    provider: str
    agent: str | None
    usage: Usage
    created_ms: int | None
    completed_ms: int | None
    finish: str | None
    error: str | None

    @property
    def completed(self) -> bool:
        return self.completed_ms is not None

    @property
    def duration_ms(self) -> int | None:
        if self.completed_ms is None or self.created_ms is None:
            return None
        return max(self.completed_ms - self.created_ms, 0)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return max(int(value), 0)


def _amount(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:  # NaN
        return 0.0
    return max(float(value), 0.0)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_assistant(info: Mapping[str, Any]) -> AssistantMessage | None:
    """Read an assistant message info; None when it is not one or lacks its ids. Negative numbers count as 0."""
    if info.get("role") != "assistant":
        return None
    message_id, session_id = _text(info.get("id")), _text(info.get("sessionID"))
    if message_id is None or session_id is None:
        return None
    tokens = info.get("tokens") if isinstance(info.get("tokens"), Mapping) else {}
    cache = tokens.get("cache") if isinstance(tokens.get("cache"), Mapping) else {}
    times = info.get("time") if isinstance(info.get("time"), Mapping) else {}
    error = info.get("error")
    error_name = None
    if isinstance(error, Mapping):
        error_name = _text(error.get("name")) or "error"
    elif error:
        error_name = "error"
    created, completed = times.get("created"), times.get("completed")
    return AssistantMessage(
        id=message_id,
        session_id=session_id,
        model=_text(info.get("modelID")) or "unknown",
        provider=_text(info.get("providerID")) or "unknown",
        agent=_text(info.get("agent")) or _text(info.get("mode")),
        usage=Usage(
            _count(tokens.get("input")),
            _count(tokens.get("output")),
            _count(tokens.get("reasoning")),
            _count(cache.get("read")),
            _count(cache.get("write")),
            _amount(info.get("cost")),
        ),
        created_ms=_count(created) if created is not None else None,
        completed_ms=_count(completed) if completed is not None else None,
        finish=_text(info.get("finish")),
        error=error_name,
    )


# -- tool calls -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FileEdit:
    """One file changed by one accepted edit/write/patch call."""

    tool: str  # Edit | Write | Patch | MultiEdit
    path: str
    language: str
    added: int
    removed: int


@dataclass(frozen=True, slots=True)
class ToolEffects:
    """What one tool call did: commits and pull requests created, files edited."""

    commits: int = 0
    pull_requests: int = 0
    edits: tuple[FileEdit, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.commits or self.pull_requests or self.edits)


NO_EFFECTS = ToolEffects()

_QUOTED = re.compile(r"'[^']*'|\"(?:[^\"\\]|\\.)*\"")
_SEGMENT = re.compile(r"&&|\|\|?|;|\n")
_PREFIX = r"^[\s({]*(?:(?:sudo|env|time|command|exec)\s+)*(?:\w+=\S*\s+)*"
_GIT_COMMIT = re.compile(
    _PREFIX + r"git(?:\s+(?:-C|-c|--git-dir|--work-tree)\s+\S+|\s+--?[\w-]+(?:=\S*)?)*\s+commit(?![\w-])(.*)$"
)
_NOT_A_NEW_COMMIT = re.compile(r"(?:^|\s)(?:--amend|--dry-run|-h|--help)(?=\s|$|=)")
_GH_PR_CREATE = re.compile(_PREFIX + r"gh(?:\s+-R\s+\S+|\s+--repo(?:=|\s+)\S+)?\s+pr\s+create(?![\w-])(.*)$")
_NOT_A_NEW_PR = re.compile(r"(?:^|\s)(?:--dry-run|--web|-w|-h|--help)(?=\s|$)")
# Output markers used when OpenCode reports no exit status: git's "[branch abc1234] subject", a PR URL.
_COMMIT_SUMMARY = re.compile(r"^\[[^\]\n]*\b[0-9a-f]{7,40}\] ", re.MULTILINE)
_PR_URL = re.compile(r"https?://\S+/pull/\d+")


def _segments(command: str) -> list[str]:
    return _SEGMENT.split(_QUOTED.sub('""', command))


def count_commits(command: str) -> int:
    """New commits a shell command makes: `git commit` invocations that are not `--amend`, `--dry-run` or help."""
    count = 0
    for segment in _segments(command):
        match = _GIT_COMMIT.match(segment)
        if match and not _NOT_A_NEW_COMMIT.search(match.group(1)):
            count += 1
    return count


def count_pull_requests(command: str) -> int:
    """Pull requests a shell command opens: `gh pr create` invocations that are not dry runs or browser hand-offs."""
    count = 0
    for segment in _segments(command):
        match = _GH_PR_CREATE.match(segment)
        if match and not _NOT_A_NEW_PR.search(match.group(1)):
            count += 1
    return count


def _bash_effects(args: Mapping[str, Any], output: str, metadata: Mapping[str, Any]) -> ToolEffects:
    command = args.get("command")
    if not isinstance(command, str):
        return NO_EFFECTS
    commits, prs = count_commits(command), count_pull_requests(command)
    if not (commits or prs):
        return NO_EFFECTS
    if "exit" in metadata:
        exit_code = metadata.get("exit")
        if isinstance(exit_code, bool) or exit_code != 0:  # failed, killed (None) or timed out
            return NO_EFFECTS
    else:  # no exit status reported: trust only what the tools print on success
        text = output or str(metadata.get("output") or "")
        commits = min(commits, len(_COMMIT_SUMMARY.findall(text)))
        prs = min(prs, len(_PR_URL.findall(text)))
    return ToolEffects(commits=commits, pull_requests=prs)


def line_count(text: str) -> int:
    """Lines of a text; a trailing newline does not start another line."""
    if not text:
        return 0
    return text.count("\n") + (0 if text.endswith("\n") else 1)


def diff_lines(old: str, new: str) -> tuple[int, int]:
    """(added, removed) lines turning `old` into `new`."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    added = removed = 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False).get_opcodes():
        if tag != "equal":
            removed += i2 - i1
            added += j2 - j1
    return added, removed


def _counts_from(meta: Any) -> tuple[int, int] | None:
    if isinstance(meta, Mapping) and isinstance(meta.get("additions"), int) and isinstance(meta.get("deletions"), int):
        return _count(meta["additions"]), _count(meta["deletions"])
    return None


def _edit_effects(args: Mapping[str, Any], metadata: Mapping[str, Any]) -> ToolEffects:
    filediff = metadata.get("filediff")
    path = _text(args.get("filePath")) or (_text(filediff.get("file")) if isinstance(filediff, Mapping) else None) or ""
    counts = _counts_from(filediff)
    if counts is None:
        old, new = args.get("oldString"), args.get("newString")
        if not isinstance(old, str) or not isinstance(new, str):
            return NO_EFFECTS
        counts = diff_lines(old, new)
    return ToolEffects(edits=(FileEdit("Edit", path, language_of(path), *counts),))


def _multiedit_effects(args: Mapping[str, Any]) -> ToolEffects:
    path = _text(args.get("filePath")) or ""
    edits = args.get("edits")
    if not isinstance(edits, list):
        return NO_EFFECTS
    added = removed = 0
    for edit in edits:
        if (
            isinstance(edit, Mapping)
            and isinstance(edit.get("oldString"), str)
            and isinstance(edit.get("newString"), str)
        ):
            a, r = diff_lines(edit["oldString"], edit["newString"])
            added, removed = added + a, removed + r
    return ToolEffects(edits=(FileEdit("MultiEdit", path, language_of(path), added, removed),))


def _write_effects(args: Mapping[str, Any], metadata: Mapping[str, Any]) -> ToolEffects:
    content = args.get("content")
    if not isinstance(content, str):
        return NO_EFFECTS
    path = _text(args.get("filePath")) or _text(metadata.get("filepath")) or ""
    return ToolEffects(edits=(FileEdit("Write", path, language_of(path), line_count(content), 0),))


_PATCH_FILE = re.compile(r"^\*\*\* (?:Add|Update|Delete) File: (.+?)\s*$")
_PATCH_MOVE = re.compile(r"^\*\*\* Move to: (.+?)\s*$")
_DIFF_TARGET = re.compile(r"^\+\+\+ (?:b/)?(.+?)\s*$")


def parse_patch(text: str) -> list[tuple[str, int, int]]:
    """(path, added, removed) per file of an OpenCode patch (`*** Update File:` sections) or a unified diff."""
    unified = text.startswith("+++ ") or "\n+++ " in text
    files: dict[str, list[int]] = {}
    path: str | None = None
    for line in text.splitlines():
        if line.startswith("*** "):
            if (move := _PATCH_MOVE.match(line)) and path is not None:
                files[move.group(1)] = files.pop(path)  # a move renames the section being edited
                path = move.group(1)
            elif section := _PATCH_FILE.match(line):
                path = section.group(1)
                files.setdefault(path, [0, 0])
            continue
        if unified and (line.startswith("+++ ") or line.startswith("--- ")):
            if target := _DIFF_TARGET.match(line):
                path = target.group(1)
                files.setdefault(path, [0, 0])
            continue
        if path is None:
            continue
        if line.startswith("+"):
            files[path][0] += 1
        elif line.startswith("-"):
            files[path][1] += 1
    return [(name, added, removed) for name, (added, removed) in files.items()]


def _patch_effects(args: Mapping[str, Any], metadata: Mapping[str, Any]) -> ToolEffects:
    files = metadata.get("files")
    edits: list[FileEdit] = []
    if isinstance(files, list) and files:
        for entry in files:
            counts = _counts_from(entry)
            if counts is None:
                continue
            path = (
                _text(entry.get("movePath")) or _text(entry.get("filePath")) or _text(entry.get("relativePath")) or ""
            )
            edits.append(FileEdit("Patch", path, language_of(path), *counts))
    else:
        text = args.get("patchText") or args.get("patch") or args.get("diff")
        if isinstance(text, str):
            edits = [FileEdit("Patch", path, language_of(path), a, r) for path, a, r in parse_patch(text)]
    return ToolEffects(edits=tuple(edits))


def tool_effects(tool: str, args: Mapping[str, Any], output: str, metadata: Mapping[str, Any]) -> ToolEffects:
    """What a completed tool call did. OpenCode reports only calls that ran (a refused edit never arrives here).

    Edits are counted here and only here: the `file.edited` event that follows each edit is not counted again.
    Line counts prefer OpenCode's own diff statistics in the metadata and fall back on the arguments.
    """
    if tool == "bash":
        return _bash_effects(args, output, metadata)
    if tool == "edit":
        return _edit_effects(args, metadata)
    if tool == "multiedit":
        return _multiedit_effects(args)
    if tool == "write":
        return _write_effects(args, metadata)
    if tool in ("apply_patch", "patch"):
        return _patch_effects(args, metadata)
    return NO_EFFECTS


# -- languages --------------------------------------------------------------------------------------------------------
_EXTENSION_LANGUAGE: Mapping[str, str] = {
    **dict.fromkeys(("ts", "tsx", "mts", "cts"), "TypeScript"),
    **dict.fromkeys(("js", "jsx", "mjs", "cjs"), "JavaScript"),
    **dict.fromkeys(("py", "pyi"), "Python"),
    "go": "Go",
    "rs": "Rust",
    "rb": "Ruby",
    "java": "Java",
    **dict.fromkeys(("kt", "kts"), "Kotlin"),
    "swift": "Swift",
    **dict.fromkeys(("c", "h"), "C"),
    **dict.fromkeys(("cpp", "cc", "cxx", "hpp", "hh", "hxx"), "C++"),
    "cs": "C#",
    "php": "PHP",
    "dart": "Dart",
    "scala": "Scala",
    "lua": "Lua",
    **dict.fromkeys(("md", "mdx"), "Markdown"),
    "json": "JSON",
    **dict.fromkeys(("yaml", "yml"), "YAML"),
    **dict.fromkeys(("toml", "ini"), "TOML"),
    **dict.fromkeys(("xml", "html", "htm", "svg"), "HTML/XML"),
    **dict.fromkeys(("css", "scss", "sass", "less"), "CSS"),
    "sql": "SQL",
    **dict.fromkeys(("sh", "bash", "zsh"), "Bash"),
    "txt": "Plain text",
    "proto": "Protocol Buffers",
    **dict.fromkeys(("tf", "hcl"), "HCL"),
}
_FILENAME_LANGUAGE: Mapping[str, str] = {"dockerfile": "Dockerfile", "makefile": "Makefile"}


def language_of(path: str) -> str:
    """Language of a file by its extension (or well-known name); `unknown` otherwise."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if name in _FILENAME_LANGUAGE:
        return _FILENAME_LANGUAGE[name]
    if name.endswith(".dockerfile"):
        return "Dockerfile"
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return UNKNOWN_LANGUAGE
    return _EXTENSION_LANGUAGE.get(ext, UNKNOWN_LANGUAGE)


# -- per-session ledger -----------------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Snapshot:
    usage: Usage
    model: str
    tier: str
    agent: str


@dataclass(slots=True)
class SessionLedger:
    """One session's totals. A message's repeated update replaces its previous snapshot, so nothing counts twice."""

    session_id: str
    total: Usage = ZERO
    by_model: dict[str, Usage] = field(default_factory=dict)
    by_tier: dict[str, Usage] = field(default_factory=dict)
    by_agent: dict[str, Usage] = field(default_factory=dict)
    messages_by_model: dict[str, int] = field(default_factory=dict)
    messages_by_tier: dict[str, int] = field(default_factory=dict)
    commits: int = 0
    pull_requests: int = 0
    lines_added: int = 0
    lines_removed: int = 0
    _snapshots: dict[str, _Snapshot] = field(default_factory=dict)

    @property
    def messages(self) -> int:
        return len(self._snapshots)

    def apply(self, message: AssistantMessage, usage: Usage, tier: str | None) -> Usage:
        """Record `usage` (cost already settled) as the message's latest snapshot; return the change in totals."""
        return self.put(message.id, usage, message.model, tier, message.agent)

    def put(self, message_id: str, usage: Usage, model: str, tier: str | None, agent: str | None) -> Usage:
        """Set one message's snapshot, replacing an earlier one of the same id; return the change in totals."""
        snapshot = _Snapshot(usage, model, tier or UNROUTED, agent or "unknown")
        previous = self._snapshots.get(message_id)
        if previous is not None:
            self._move(previous, -1)
        self._snapshots[message_id] = snapshot
        self._move(snapshot, +1)
        return usage - previous.usage if previous is not None else usage

    def merge(self, other: SessionLedger) -> None:
        """Take in another ledger's messages (its snapshots win for shared ids) and code activity."""
        for message_id, snap in other._snapshots.items():
            self.put(message_id, snap.usage, snap.model, snap.tier, snap.agent)
        self.commits += other.commits
        self.pull_requests += other.pull_requests
        self.lines_added += other.lines_added
        self.lines_removed += other.lines_removed

    def _move(self, snap: _Snapshot, sign: int) -> None:
        signed = snap.usage if sign > 0 else ZERO - snap.usage
        self.total = self.total + signed
        for table, key in ((self.by_model, snap.model), (self.by_tier, snap.tier), (self.by_agent, snap.agent)):
            table[key] = table.get(key, ZERO) + signed
        for counts, key in ((self.messages_by_model, snap.model), (self.messages_by_tier, snap.tier)):
            counts[key] = counts.get(key, 0) + sign
            if counts[key] == 0:
                del counts[key]

    def apply_tool(self, effects: ToolEffects) -> None:
        self.commits += effects.commits
        self.pull_requests += effects.pull_requests
        for edit in effects.edits:
            self.lines_added += edit.added
            self.lines_removed += edit.removed

    def baselines(self, prices: Prices) -> Baselines:
        return baselines(self.total, prices)
