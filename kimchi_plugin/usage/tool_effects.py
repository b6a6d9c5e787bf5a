"""What a finished tool call did to the repository and the code: commits and pull requests made by shell commands,
lines added and removed by edit tools (with each file's language). Pure: reads the call's arguments, output and
metadata as OpenCode reports them, never the files themselves.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kimchi_plugin.opencode.vocabulary import EDIT_TOOLS, RUN_TOOLS
from kimchi_plugin.usage.languages import language_of
from kimchi_plugin.usage.payload import as_count, as_text


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

# -- shell commands ---------------------------------------------------------------------------------------------------
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


def _run_effects(args: Mapping[str, Any], output: str, metadata: Mapping[str, Any]) -> ToolEffects:
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


# -- edits ------------------------------------------------------------------------------------------------------------
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
        return as_count(meta["additions"]), as_count(meta["deletions"])
    return None


def _edit_effects(args: Mapping[str, Any], metadata: Mapping[str, Any]) -> ToolEffects:
    filediff = metadata.get("filediff")
    path = as_text(args.get("filePath")) or (as_text(filediff.get("file")) if isinstance(filediff, Mapping) else None)
    counts = _counts_from(filediff)
    if counts is None:
        old, new = args.get("oldString"), args.get("newString")
        if not isinstance(old, str) or not isinstance(new, str):
            return NO_EFFECTS
        counts = diff_lines(old, new)
    return ToolEffects(edits=(FileEdit("Edit", path or "", language_of(path or ""), *counts),))


def _multiedit_effects(args: Mapping[str, Any], edits: list[Any]) -> ToolEffects:
    path = as_text(args.get("filePath")) or ""
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


def _write_effects(args: Mapping[str, Any], content: str, metadata: Mapping[str, Any]) -> ToolEffects:
    path = as_text(args.get("filePath")) or as_text(metadata.get("filepath")) or ""
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


def _patch_text(args: Mapping[str, Any]) -> str | None:
    text = args.get("patchText") or args.get("patch") or args.get("diff")
    return text if isinstance(text, str) else None


def _patch_effects(args: Mapping[str, Any], metadata: Mapping[str, Any]) -> ToolEffects:
    files = metadata.get("files")
    edits: list[FileEdit] = []
    if isinstance(files, list) and files:
        for entry in files:
            counts = _counts_from(entry)
            if counts is None:
                continue
            path = (
                as_text(entry.get("movePath")) or as_text(entry.get("filePath")) or as_text(entry.get("relativePath"))
            )
            edits.append(FileEdit("Patch", path or "", language_of(path or ""), *counts))
    elif (text := _patch_text(args)) is not None:
        edits = [FileEdit("Patch", path, language_of(path), a, r) for path, a, r in parse_patch(text)]
    return ToolEffects(edits=tuple(edits))


def tool_effects(tool: str, args: Mapping[str, Any], output: str, metadata: Mapping[str, Any]) -> ToolEffects:
    """What a completed tool call did. OpenCode reports only calls that ran (a refused edit never arrives here).

    The tool's category comes from the shared vocabulary (so `apply_patch` is an edit here as everywhere); how its
    lines are counted follows the shape of its arguments: several edits, a patch, a whole file, or one replacement.
    Edits are counted here and only here: the `file.edited` event that follows each edit is not counted again.
    Line counts prefer OpenCode's own diff statistics in the metadata and fall back on the arguments.
    """
    if tool in RUN_TOOLS:
        return _run_effects(args, output, metadata)
    if tool not in EDIT_TOOLS:
        return NO_EFFECTS
    if isinstance(edits := args.get("edits"), list):
        return _multiedit_effects(args, edits)
    if isinstance(metadata.get("files"), list) or _patch_text(args) is not None:
        return _patch_effects(args, metadata)
    if isinstance(content := args.get("content"), str):
        return _write_effects(args, content, metadata)
    return _edit_effects(args, metadata)
