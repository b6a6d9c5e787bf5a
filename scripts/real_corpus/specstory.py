"""Extract real user turns from SpecStory chat exports (``.specstory/history/*.md``).

Why: the routing evaluation needs messages that people actually typed into AI
coding assistants, not synthetic prompts. SpecStory (a Cursor / Claude Code
extension) saves each chat as Markdown, and many public repositories commit
these files. This script turns one export into the ordered list of user turns,
each with the normalised tool activity of the assistant reply that follows, and
it can rebuild the whole corpus manifest from the (repo, commit, path) recorded
for each session, so the corpus is re-buildable and auditable.

Rules applied to every turn (the same ones used to build the committed jsonl):
  * SpecStory markup is dropped: the ``_**User**_`` header (and its timestamp),
    ``<!-- ... -->`` comments and the trailing ``---`` block separator.
  * Empty turns and lines that the client, not the person, wrote
    (``<command-name>`` wrappers, "[Request interrupted by user]", local-command
    caveats) are dropped; short real turns ("continue", "yes") are kept.
  * Turns over 1,500 characters keep the first 1,000 and the last 300
    characters, with ``[…N chars cut…]`` in between.
  * Emails -> ``<email>``; API keys, tokens, PEM blocks, passwords (also in
    URLs and ``mysql -p...``) -> ``<secret>``; phone numbers -> ``<phone>``;
    full names of private people met during review -> ``<name>`` (kept as
    hashes in PRIVATE_NAME_HASHES); public IPv4 addresses -> ``<ip>``.
  * Claude Code injections (skill bodies, task notifications, continuation
    summaries, agent-team reports, a plan accepted with "Implement the
    following plan:") and Copilot terminal notices are dropped like the IDE
    templates below; the command file Cursor appends to a typed ``/command``
    is cut, the command stays.
  * Messages the IDE writes on a button click ("Implement the plan as
    specified...", "For the code present, we get this error: ... concise.",
    '@agent Continue: "Continue to iterate?"', "Issue reproduced, please
    proceed."), the CLAUDE.md ``/init`` template and a stop hook's follow-up
    are dropped, and so is a long turn (over 40 characters) that repeats an
    earlier one of the same export verbatim (SpecStory sometimes re-exports a
    conversation into itself).
  * Of a Codex IDE turn only what follows "## My request for Codex:" is kept
    (the part before lists open tabs and the selection).
  * At most MAX_TURNS turns are kept per session (the first ones, in order).

Tool names are normalised to: read, edit, write, bash, grep, glob, task,
webfetch, todowrite; a call whose result is clearly a failure gets a ``!``
suffix. Consecutive identical entries are collapsed (SpecStory often renders
one call twice).

Usage:
  python scripts/real_corpus/specstory.py extract FILE.md        # print turns
  python scripts/real_corpus/specstory.py rebuild MANIFEST.jsonl MIRRORS [--write OUT]

MIRRORS is a directory holding either ``owner+name/repo`` bare git dirs (as made
by the collection tooling) or ``owner/name`` checkouts; files are read at the
recorded commit with ``git show``. Stdlib only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from build import jsonl_line  # this folder: run as a script
from text_rules import EMAIL_RE, MAX_TURNS, redact_tokens, trim

# Block headers: "_**User**_", "_**User (2025-10-22 10:00Z)**_",
# "_**Assistant**_", "_**Agent (model x, mode Agent)**_". "_****_" is a
# continuation of the assistant reply and is not a header.
HEADER_RE = re.compile(r"^_\*\*(User|Assistant|Agent)\b[^\n]*?\*\*_[ \t]*$", re.M)
COMMENT_RE = re.compile(r"<!--.*?-->", re.S)

# --- redaction -------------------------------------------------------------

# A bearer token goes together with the word "Bearer".
BEARER_RE = re.compile(r"(?i)\bBearer\s+[A-Za-z0-9._~+/-]{16,}=*")
# key = value / key: value where the key names a secret; keep the key.
KV_SECRET_RE = re.compile(
    r"(?i)\b([A-Z0-9_]*(?:api[_-]?key|secret|token|passw(?:or)?d|passwd|pwd|access[_-]?key)[A-Z0-9_]*"
    r"[\"']?\s*[:=]\s*)([\"']?)([^\s\"',;]{6,})\2"
)
URL_CRED_RE = re.compile(r"\b([a-z][a-z0-9+.-]*://[^:/\s@]+:)([^@\s/]+)(@)", re.I)
CLI_PASS_RE = re.compile(r"(\bmysql(?:dump|admin)?\b[^\n]*?\s-p)(?!\s)([^\s<]+)")
IPV4_RE = re.compile(r"(?<![\w.])((?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3})(?![\w.])")
_PRIVATE_IP = re.compile(r"^(?:127\.|10\.|192\.168\.|172\.(?:1[6-9]|2\d|3[01])\.|0\.|255\.|169\.254\.)")
PHONE_RES = [
    re.compile(r"(?<![\w+])\+\d{1,3}[ .-]?\(?\d{1,4}\)?(?:[ .-]?\d{2,4}){2,4}(?!\w)"),
    re.compile(r"(?<!\w)\(\d{3}\)\s?\d{3}-\d{4}(?!\w)"),
    re.compile(r"(?<![\w.-])\d{3}-\d{3}-\d{4}(?![\w.-])"),
    re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)"),  # mainland China mobile
]


PEM_RE = re.compile(r"-----BEGIN [A-Z ]+-----.*?(?:-----END [A-Z ]+-{2,5}|$)", re.S)
# an email turned into an identifier, e.g. "jane_doe_gmail_com"
EMAIL_ID_RE = re.compile(
    r"\b[A-Za-z0-9._-]+_(?:gmail|googlemail|yahoo|hotmail|outlook|icloud|live|qq|163|126)_com\b", re.I
)
# long random-looking token (mixed case and digits, no path characters)
RANDOM_TOKEN_RE = re.compile(
    r"(?<![\w/.\\-])(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Z])(?=[A-Za-z0-9_-]*[a-z])[A-Za-z0-9_-]{32,}(?![\w/.\\-])"
)


# Full names of private people found while reviewing the corpus, stored only as
# truncated sha256 of "first last" (lower case) so the names are not repeated here.
PRIVATE_NAME_HASHES = {"1f53c4e34fcff4d5", "ce0661f7a97b2da9", "b2b3c1035192566b"}
NAME_WORD_RE = re.compile(r"[^\W\d_]{2,}")


def _redact_names(text: str) -> str:
    """Replace 3- then 2-word runs whose hash is listed (names of private people)."""
    for size in (3, 2):
        words = list(NAME_WORD_RE.finditer(text))
        spans = []
        for i in range(len(words) - size + 1):
            run = words[i : i + size]
            if any(not text[a.end() : b.start()].isspace() for a, b in zip(run, run[1:])):
                continue
            key = " ".join(w.group(0) for w in run).lower().encode()
            if hashlib.sha256(key).hexdigest()[:16] in PRIVATE_NAME_HASHES:
                spans.append((run[0].start(), run[-1].end()))
        for a, b in reversed(spans):
            text = text[:a] + "<name>" + text[b:]
    return text


def redact(text: str) -> str:
    text = _redact_names(text)
    text = PEM_RE.sub("<secret>", text)
    text = EMAIL_RE.sub("<email>", text)
    text = EMAIL_ID_RE.sub("<email>", text)
    text = redact_tokens(text)
    text = BEARER_RE.sub("<secret>", text)

    def _kv(m: re.Match[str]) -> str:
        val: str = m.group(3)
        whole: str = m.group(0)
        if val.startswith("<") or val.lower() in {"true", "false", "none", "null", "undefined"}:
            return whole
        if re.fullmatch(r"[A-Za-z_][\w.]*(\(\))?", val) and not re.search(r"\d", val):
            return whole  # looks like an identifier / variable, not a literal secret
        return f"{m.group(1)}{m.group(2)}<secret>{m.group(2)}"

    text = KV_SECRET_RE.sub(_kv, text)
    text = URL_CRED_RE.sub(lambda m: f"{m.group(1)}<secret>{m.group(3)}", text)
    text = CLI_PASS_RE.sub(lambda m: f"{m.group(1)}<secret>", text)
    text = RANDOM_TOKEN_RE.sub("<secret>", text)
    text = IPV4_RE.sub(lambda m: m.group(0) if _PRIVATE_IP.match(m.group(1)) else "<ip>", text)
    for rx in PHONE_RES:
        text = rx.sub("<phone>", text)
    return text


# --- user text ---------------------------------------------------------------

MACHINE_LINE_RES = [
    re.compile(r"^\s*\[Request interrupted by user[^\]]*\]\s*$", re.M),
    re.compile(r"<command-(?:name|message|args)>.*?</command-(?:name|message|args)>", re.S),
    re.compile(r"<local-command-(?:stdout|stderr|caveat)>.*?</local-command-(?:stdout|stderr|caveat)>", re.S),
    re.compile(r"<system-reminder>.*?</system-reminder>", re.S),
    re.compile(r"^Caveat: The messages below were generated by the user while running local commands.*$", re.M),
    re.compile(r"^--- Cursor Command: .*", re.M | re.S),  # the command file Cursor appends to a typed /command
]
# Turns the IDE writes when a button is clicked (not typed by the person).
TEMPLATED_RES = [
    re.compile(r'^@agent Continue: "Continue to iterate\?"$'),
    re.compile(
        r"^(?:[^\n]*\n\n)?Implement the plan as specified, it is attached for your reference\. "
        r"Do NOT edit the plan file itself\.",
        re.S,
    ),  # optionally after the plan's title line
    re.compile(r"^Implement the plan as specified\. To-do's from the plan have already been created"),
    re.compile(
        r"^The beginning of the above subagent result is already visible to the user\."
    ),  # Cursor, after a subagent
    re.compile(r"^Base directory for this skill:"),  # Claude Code skill text injected as a turn
    re.compile(r"^<task-notification>"),  # Claude Code background-task notice
    re.compile(r"^This session is being continued from a previous conversation"),
    re.compile(r"^Briefly inform the user about the task result"),  # agent follow-up prompt
    re.compile(r"^<teammate-message\b"),  # Claude Code agent team report
    re.compile(r"^\[Terminal [0-9a-f-]+ notification: "),  # Copilot, a background command finished
    re.compile(r"^Implement the following plan:"),  # Claude Code, a plan the model wrote, accepted
    re.compile(r"^Generate a file named AGENTS\.md that serves as a contributor guide"),  # /init template
    re.compile(
        r"^For the code present, we get this error:.*"
        r"How can I resolve this\? If you propose a fix, please make it concise\.$",
        re.S,
    ),
    # the same button in later Cursor versions, with the file mention it adds
    re.compile(
        r"^For the code present, we get this error:.*Fix it, verify, and then give a concise explanation\.", re.S
    ),
    re.compile(r"^Issue reproduced, please proceed\.$"),  # Cursor debug mode button
    re.compile(r"^File editing session$"),  # client placeholder, no text typed
    re.compile(r"^Please analyze this codebase and create a CLAUDE\.md file"),  # Claude Code /init template
    re.compile(r"^Only go ahead if you made code changes \(not just updated"),  # text a stop hook sends
]
USER_QUERY_RE = re.compile(r"<user_query>\s*(.*?)\s*</user_query>", re.S)
# Codex in the IDE puts open tabs and the selection before what the person typed.
CODEX_REQUEST_RE = re.compile(r"\A# Context from my IDE setup:.*?^## My request for Codex:[ \t]*\n(.*)\Z", re.S | re.M)


def clean_user(block: str) -> str:
    text = COMMENT_RE.sub("", block)
    m = USER_QUERY_RE.search(text)
    if m:
        text = m.group(1)
    m = CODEX_REQUEST_RE.search(text.strip())
    if m:
        text = m.group(1)
    for rx in MACHINE_LINE_RES:
        text = rx.sub("", text)
    text = text.strip()
    # drop SpecStory's block separator(s) at the end
    while text.endswith("---"):
        text = text[:-3].rstrip()
    return text.strip()


# --- tools -------------------------------------------------------------------

TOOL_NAME_MAP = {
    # read
    "read_file": "read",
    "read_file_v2": "read",
    "read": "read",
    "read_lints": "read",
    "notebookread": "read",
    "fetch_rules": "read",
    # edit
    "edit_file": "edit",
    "edit_file_v2": "edit",
    "search_replace": "edit",
    "edit": "edit",
    "multiedit": "edit",
    "apply_patch": "edit",
    "delete_file": "edit",
    "reapply": "edit",
    "edit_notebook": "edit",
    "notebookedit": "edit",
    "multi_edit": "edit",
    # write
    "write": "write",
    "create_file": "write",
    "write_file": "write",
    # bash
    "run_terminal_cmd": "bash",
    "run_terminal_command": "bash",
    "run_terminal_command_v2": "bash",
    "bash": "bash",
    "shell": "bash",
    "bashoutput": "bash",
    "killshell": "bash",
    "killbash": "bash",
    # grep
    "grep_search": "grep",
    "grep": "grep",
    "ripgrep_raw_search": "grep",
    "ripgrep_search": "grep",
    "codebase_search": "grep",
    "semantic_search": "grep",
    "semantic_search_full": "grep",
    "search": "grep",
    # glob
    "file_search": "glob",
    "glob_file_search": "glob",
    "glob": "glob",
    "list_dir": "glob",
    "list_dir_v2": "glob",
    "ls": "glob",
    "list_directory": "glob",
    # task
    "task": "task",
    "agent": "task",
    "task_v2": "task",
    # webfetch
    "web_search": "webfetch",
    "web_fetch": "webfetch",
    "webfetch": "webfetch",
    "websearch": "webfetch",
    "fetch": "webfetch",
    # todos
    "todo_write": "todowrite",
    "todowrite": "todowrite",
    "todo_read": "todowrite",
}

# Old Cursor export lines / summaries without a <tool-use> wrapper.
TEXT_TOOL_RES = [
    (re.compile(r"^(?:<summary>)?\s*Read file:", re.M), "read"),
    (re.compile(r"^(?:<summary>)?\s*Edit file:", re.M), "edit"),
    (re.compile(r"^(?:<summary>)?\s*(?:Deleted file|Delete file)\b", re.M), "edit"),
    (re.compile(r"<summary>\s*(?:Grep search for|Grep for|Searched codebase)\b"), "grep"),
    (re.compile(r"<summary>\s*(?:Searched files|Listed directory|Listed current directory)\b"), "glob"),
    (re.compile(r"<summary>\s*Searched web\b"), "webfetch"),
    (re.compile(r"^(?:<summary>)?\s*(?:Ran terminal command|Run command):?", re.M), "bash"),
    (re.compile(r"<summary>\s*(?:To-do List|Todo List)\b"), "todowrite"),
]

TOOL_USE_RE = re.compile(r"<tool-use\b([^>]*)>(.*?)</tool-use>", re.S)
ATTR_RE = re.compile(r'([\w-]+)="([^"]*)"')
SUMMARY_TOOL_RE = re.compile(r"<summary>\s*Tool use:\s*\*\*([^*]+)\*\*")
ERROR_RE = re.compile(
    r"(?i)(?:\bexit code:?\s*[1-9]\d*|\bcommand failed\b|\bstatus\W+(?:error|failed)\b|"
    r"\bTraceback \(most recent call last\)|\bNo such file or directory\b|"
    r"^\s*(?:Error|ERROR|error)(?:\[\w+\])?:|<tool_use_error>|Model failed to call the tool|"
    r"Could not (?:find|resolve|read)|is not recognized as (?:an internal|the name)|"
    r"command not found|npm ERR!|BUILD FAILED|FAILED \(|Cancelled)",
    re.M,
)


def _norm(name: str) -> str | None:
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = re.sub(r"^mcp_+", "", key)
    return TOOL_NAME_MAP.get(key)


def _textual_tools(chunk: str) -> list[tuple[int, str, bool]]:
    found = []
    for rx, tool in TEXT_TOOL_RES:
        for m in rx.finditer(chunk):
            # a failure shown right after the call line (within its details / next lines)
            window = chunk[m.end() : m.end() + 600]
            nxt = re.search(r"\n(?:<details|Read file:|Edit file:|---)", window)
            if nxt:
                window = window[: nxt.start()]
            found.append((m.start(), tool, bool(ERROR_RE.search(window))))
    return found


def tools_in(segment: str) -> list[str]:
    """Normalised tool calls found in one assistant reply (all its blocks)."""
    events: list[tuple[int, str, bool]] = []
    taken: list[tuple[int, int]] = []
    for m in TOOL_USE_RE.finditer(segment):
        attrs = dict(ATTR_RE.findall(m.group(1)))
        name = attrs.get("data-tool-name", "")
        tool = _norm(name)
        if tool is None:
            sm = SUMMARY_TOOL_RE.search(m.group(2))
            tool = _norm(sm.group(1)) if sm else None
        taken.append((m.start(), m.end()))
        if tool is None:
            continue
        body = m.group(2)
        err = attrs.get("data-tool-status", "").lower() in {"error", "failed"} or bool(ERROR_RE.search(body))
        events.append((m.start(), tool, err))
    rest = segment
    for s, e in reversed(taken):
        rest = rest[:s] + " " * (e - s) + rest[e:]
    events.extend(_textual_tools(rest))
    events.sort()
    out: list[str] = []
    for _, tool, err in events:
        name = tool + ("!" if err else "")
        if out and out[-1].rstrip("!") == tool:
            # one call is often rendered twice; merge, keeping a failure mark
            if err and not out[-1].endswith("!"):
                out[-1] = name
            continue
        out.append(name)
    return out


# --- extraction ----------------------------------------------------------------


def extract(markdown: str, max_turns: int | None = MAX_TURNS) -> list[dict[str, Any]]:
    """Ordered user turns of one SpecStory export: [{"text": ..., "tools": [...]}]."""
    markdown = markdown.replace("\r\n", "\n")
    heads = list(HEADER_RE.finditer(markdown))
    turns: list[dict[str, Any]] = []
    seen: set[str] = set()
    i = 0
    while i < len(heads):
        h = heads[i]
        if h.group(1) != "User":
            i += 1
            continue
        end = heads[i + 1].start() if i + 1 < len(heads) else len(markdown)
        text = clean_user(markdown[h.end() : end])
        j = i + 1
        while j < len(heads) and heads[j].group(1) != "User":
            j += 1
        seg_end = heads[j].start() if j < len(heads) else len(markdown)
        reply = markdown[end:seg_end]
        i = j
        if not text or any(rx.match(text) for rx in TEMPLATED_RES):
            continue
        if len(text) > 40 and text in seen:
            continue  # the export repeats a long turn verbatim; keep the first
        seen.add(text)
        turns.append({"text": trim(redact(text)), "tools": tools_in(reply)})
        if max_turns and len(turns) >= max_turns:
            break
    return turns


# --- language (majority over turns, rough) -------------------------------------

_STOP = {
    "en": "the and to is it this that of in for you with please can not what why how",
    "es": "el la de que en los las por para con una un es no se lo como del al pero",
    "pt": "o a de que em os as para com uma um não se do da no na por é você",
    "fr": "le la les de des et est en un une pour que pas dans sur avec ce qui vous",
    "de": "der die das und ist nicht ich zu den mit ein eine es auf für bitte wie",
    "it": "il la di che e un una per non è con del della sono come questo ma",
    "tr": "ve bir bu için ile de da ne mi çok olarak gibi daha ama şu",
    "id": "dan yang di ini itu untuk dengan tidak ke dari ada saya apa bisa",
    "nl": "de het een en van is dat niet ik je op te voor met",
    "pl": "nie jest to się na że do co jak tak ale mi jeszcze czy dodaj zrób",
    "vi": "và của là có không được cho này một các những trong với",
}
_STOP_SETS = {k: set(v.split()) for k, v in _STOP.items()}


def turn_lang(text: str) -> str | None:
    """Rough language of one turn; None when a short Latin-script turn gives no clue."""
    if re.search(r"[\u3040-\u30ff]", text):
        return "ja"
    if re.search(r"[\uac00-\ud7af]", text):
        return "ko"
    if len(re.findall(r"[\u4e00-\u9fff]", text)) >= 2:
        return "zh"
    arabic = re.findall(r"[\u0600-\u06ff]", text)
    if len(arabic) >= 3:
        return "fa" if re.search(r"[پچژگکی]", text) else "ar"
    if len(re.findall(r"[\u0900-\u097f]", text)) >= 3:
        return "hi"
    if len(re.findall(r"[\u0e00-\u0e7f]", text)) >= 3:
        return "th"
    if len(re.findall(r"[\u0590-\u05ff]", text)) >= 3:
        return "he"
    cyr = re.findall(r"[\u0400-\u04ff]", text)
    if len(cyr) >= 3:
        return "uk" if re.search(r"[іїєґ]", text.lower()) else "ru"
    low = text.lower()
    if re.search(r"[ăắằẳẵặâấầẩẫậđêếềểễệôốồổỗộơớờởỡợưứừửữự]", low):
        return "vi"
    if re.search(r"[ąćęłńśźż]", low):
        return "pl"
    if re.search(r"[ğış]", low):
        return "tr"
    words = re.findall(r"[a-zçãõáéíóúâêôàèìòùäöüßñ]+", low)
    scores = {lang: sum(w in stop for w in words) for lang, stop in _STOP_SETS.items()}
    best = max(scores, key=lambda lang: scores[lang])
    ranked = sorted(scores.values(), reverse=True)
    if ranked[0] < 2 or ranked[0] == ranked[1]:
        return None
    return best


def session_lang(turns: list[dict[str, Any]]) -> str:
    """Majority language over the turns that give a clue ("continue" gives none)."""
    counts: dict[str, int] = {}
    for t in turns:
        lang = turn_lang(t["text"])
        if lang:
            counts[lang] = counts.get(lang, 0) + 1
    if not counts:
        pooled = turn_lang(" ".join(t["text"] for t in turns))
        return pooled or "en"
    return max(counts, key=lambda lang: counts[lang])


# --- rebuild from manifest -------------------------------------------------------


def _git_dir(mirrors: Path, repo: str) -> Path:
    owner, name = repo.split("/", 1)
    for cand in (mirrors / f"{owner}+{name}" / "repo", mirrors / owner / name / ".git", mirrors / owner / name):
        if cand.exists():
            return cand
    raise FileNotFoundError(f"no mirror for {repo} under {mirrors}")


def read_at(mirrors: Path, repo: str, commit: str, path: str) -> str:
    gd = _git_dir(mirrors, repo)
    out = subprocess.run(["git", f"--git-dir={gd}", "show", f"{commit}:{path}"], capture_output=True, check=True)
    return out.stdout.decode("utf-8", errors="replace")


def rebuild(manifest: Path, mirrors: Path) -> tuple[list[dict[str, Any]], int]:
    rows = [json.loads(line) for line in manifest.read_text(encoding="utf-8").split("\n") if line.strip()]
    out, mismatches = [], 0
    for row in rows:
        turns = extract(read_at(mirrors, row["repo"], row["commit"], row["path"]))
        new = dict(row, turns=turns, lang=session_lang(turns))
        if new["turns"] != row.get("turns") or new["lang"] != row.get("lang"):
            mismatches += 1
            print(f"differs: {row['id']} {row['repo']} {row['path']}", file=sys.stderr)
        out.append(new)
    return out, mismatches


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("extract", help="print the user turns of one export as JSON")
    e.add_argument("file", type=Path)
    r = sub.add_parser("rebuild", help="re-derive every session of a manifest from git mirrors")
    r.add_argument("manifest", type=Path)
    r.add_argument("mirrors", type=Path)
    r.add_argument("--write", type=Path, help="write the rebuilt jsonl here")
    a = ap.parse_args(argv)
    if a.cmd == "extract":
        turns = extract(a.file.read_text(encoding="utf-8", errors="replace"))
        print(json.dumps(turns, ensure_ascii=False, indent=1))
        return 0
    rows, bad = rebuild(a.manifest, a.mirrors)
    if a.write:
        with a.write.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(jsonl_line(row))
    print(f"{len(rows)} sessions, {sum(len(r['turns']) for r in rows)} turns, {bad} differ", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
