#!/usr/bin/env python3
"""Extract real user turns from aider chat logs (``.aider.chat.history.md``).

Why: the router is evaluated on messages people really typed into coding
assistants.  Aider writes every session to a markdown log that many people
commit by accident; user turns there are lines starting with ``#### ``.
This script turns one such log into ordered user turns (with the tools the
assistant then used), applying the corpus rules: aider commands are
skipped (``/ask``, ``/code``, ``/architect`` keep their text and note the
mode), architect->editor hand-offs written by a model are skipped, long
pastes are trimmed and personal data / secrets are redacted.

``main`` re-derives every entry of a manifest (``aider.jsonl``) from
(repo, commit, path, started) using local mirrors, so the corpus can be
rebuilt and audited:

    python scripts/real_corpus/aider.py verify tests/routing_data/real/aider.jsonl \
        --mirrors /work/.mirror
    python scripts/real_corpus/aider.py pick --exclude exclude.txt > picks.tsv
    python scripts/real_corpus/aider.py build picks.tsv --mirrors /work/.mirror \
        --out tests/routing_data/real/aider.jsonl

A mirror root holds either ``<owner>+<name>/repo`` (a bare git dir, read
with ``git show <commit>:<path>``) or a checkout ``<owner>/<name>/<path>``.
Stdlib only (Python 3.10+).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from build import jsonl_line  # this folder: run as a script
from text_rules import (
    BEARER_RE,
    EMAIL_RE,
    MAX_TURNS,
    PROMPT_RE,
    redact_home,
    redact_names,
    redact_tokens,
    trim,
)

MAX_SESSIONS = 8  # sessions per repository (3 for rs-aider-0001..0131)

SESSION_RE = re.compile(r"^# aider chat started at (.+?)\s*$")
MODE_CMDS = {"/ask": "ask", "/code": "code", "/architect": "architect"}
# Some aider versions log confirmation answers as user lines too.
CONFIRM_RE = re.compile(r"\(Y\)es/\(N\)o.*\[[^\]]*\]:")

# --- redaction ---------------------------------------------------------------
KV_SECRET_RE = re.compile(
    r"(?i)\b((?:api[_-]?key|secret(?:[_-]?key)?|password|passwd|pwd|token|access[_-]?key)"
    r"[\"']?\s*[:=]\s*[\"']?)([^\s\"',;]{6,})"
)
PHONE_RE = re.compile(
    r"(?<![\w.])\+\d{1,3}[ \-]?\(?\d{1,4}\)?(?:[ \-]?\d{2,4}){2,4}(?![\w.])"
    r"|(?<![\w.])\(\d{3}\) ?\d{3}-\d{4}(?![\w.])"
)
# Full names of private people met while reviewing the corpus (manual list).
PRIVATE_NAMES: list[str] = ["Antoine Estarellas"]


LONE_PASSWORD_RE = re.compile(r"(?=\S*[a-z])(?=\S*[A-Z0-9])(?=\S*\d)(?=\S*[!@#$%^&*?+=~])(?:(?![/\\.:])[!-~]){8,64}")


def redact(text: str) -> str:
    if LONE_PASSWORD_RE.fullmatch(text.strip()):
        return "<secret>"  # a password typed at the prompt
    text = redact_tokens(text)
    text = BEARER_RE.sub("<secret>", text)
    text = KV_SECRET_RE.sub(lambda m: m.group(1) + "<secret>", text)
    text = EMAIL_RE.sub("<email>", text)
    text = PHONE_RE.sub("<phone>", text)
    text = redact_home(text)
    text = PROMPT_RE.sub("<name>@<host>", text)
    return redact_names(text, PRIVATE_NAMES)


# --- tools -------------------------------------------------------------------
FAIL_RE = re.compile(
    r"\bFAILED\b|\bFAIL\b|Traceback \(most recent call last\)|\b[1-9]\d* (?:failed|errors?)\b"
    r"|command not found|npm ERR!|\bERR_|(?:exit|return) (?:code|status):? [1-9]"
    r"|ModuleNotFoundError|SyntaxError|No such file or directory|is not recognized as"
    r"|\berror(?:\[\w+\])?:|\bError:|Exception:|cannot find|not found:"
)
YES = re.compile(r"\[[^\]]*\]:?\s*(y|yes|a|all)\s*$", re.I)
# aider's own lint/test runs: it offers a fix only when the command failed
FAILED_CHECK_RE = re.compile(r"> (?:Fix lint errors in|Attempt to fix (?:lint|test) errors)")


def tools_of(block: list[str]) -> list[str]:
    """Normalised tool names for the assistant output following one user turn."""
    tools: list[str] = []

    def add(name: str) -> None:
        if name not in tools:
            tools.append(name)

    i = 0
    while i < len(block):
        line = block[i].rstrip()
        if line.startswith("<<<<<<< SEARCH") or line.startswith("<<<<<<< ORIGINAL"):
            nxt = block[i + 1].rstrip() if i + 1 < len(block) else ""
            add("write" if nxt.startswith("=======") else "edit")
        elif line.startswith("> Creating empty file") or line.startswith("> Create new file?"):
            add("write")
        elif line.startswith("> Applied edit to"):
            add("edit")
        elif re.match(r"> Add .+ to the chat\?", line) and YES.search(line):
            add("read")
        elif FAILED_CHECK_RE.match(line):
            if "bash" in tools:
                tools[tools.index("bash")] = "bash!"
            else:
                add("bash!")
        elif re.match(r"> Run shell commands?\?", line) and YES.search(line):
            # output follows as "> " lines until the next prompt/turn
            out = []
            j = i + 1
            while (
                j < len(block)
                and block[j].startswith(">")
                and not re.match(r"> (Run shell|Add command output)", block[j])
            ):
                if not block[j].startswith("> Running "):
                    out.append(block[j])  # output lines, not the command itself
                j += 1
            failed = bool(FAIL_RE.search("\n".join(out)))
            name = "bash!" if failed else "bash"
            if name == "bash!" and "bash" in tools:
                tools[tools.index("bash")] = "bash!"
            elif not ("bash!" in tools and name == "bash"):
                add(name)
        i += 1
    return tools


# --- parsing -----------------------------------------------------------------
def _turn_text(lines: list[str]) -> str:
    out = []
    for ln in lines:
        ln = ln[5:] if ln.startswith("#### ") else ln[4:]
        ln = ln.rstrip()  # aider adds two trailing spaces
        out.append("" if ln == "<blank>" else ln)
    return "\n".join(out).strip("\n")


def _is_hash(line: str) -> bool:
    return line.startswith("#### ") or line == "####"


def _is_editor_handoff(prev: list[str], text: str) -> bool:
    """Architect mode: the architect's answer is fed back as a '####' turn."""
    before = [line for line in prev if line.strip()]
    if before and before[-1].startswith("> Edit the files?"):
        return True

    def squash(t: str) -> str:
        return re.sub(r"\s+", " ", t).strip()

    answer = squash(" ".join(line for line in prev if not line.startswith(">")))
    head = squash(text)[:150]
    return len(head) > 60 and head in answer


def _split_sessions(markdown: str) -> list[tuple[str, list[str]]]:
    sessions: list[tuple[str, list[str]]] = []
    cur: list[str] | None = None
    for line in markdown.splitlines():
        m = SESSION_RE.match(line)
        if m:
            cur = []
            sessions.append((m.group(1), cur))
        elif cur is not None:
            cur.append(line)
    return sessions


def _user_blocks(lines: list[str]) -> list[tuple[list[str], list[str], list[str]]]:
    """Split a session into (user lines, text before, text after) triples.

    Aider logs user input as '#### ' lines (recent versions end them with two
    spaces). The model's own markdown headings also start with '#### ', so a
    line opens a user turn only if it carries aider's trailing spaces (when the
    session's user lines do) or, for older logs, if it follows aider's '> '
    status lines / the session header rather than model prose. Consecutive
    '#### ' lines, even split by blank lines, form one message.
    """
    hashes = [line for line in lines if _is_hash(line)]
    strict = bool(hashes) and sum(line.endswith("  ") for line in hashes) >= 0.6 * len(hashes)

    def opens(i: int) -> bool:
        if strict:
            return lines[i].endswith("  ")
        j = i - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        return j < 0 or lines[j].startswith(">")

    raw: list[tuple[list[str], list[str], list[str]]] = []
    before: list[str] = []
    i = 0
    while i < len(lines):
        if not (_is_hash(lines[i]) and opens(i)):
            (raw[-1][2] if raw else before).append(lines[i])
            i += 1
            continue
        user = []
        while i < len(lines):
            if _is_hash(lines[i]) and (not strict or lines[i].endswith("  ")):
                user.append(lines[i])
                i += 1
            elif not strict and not lines[i].strip() and not _turn_text(user).startswith("/"):
                # old logs put a blank line between the lines of one pasted message
                j = i
                while j < len(lines) and not lines[j].strip():
                    j += 1
                if j < len(lines) and _is_hash(lines[j]) and (not strict or lines[j].endswith("  ")):
                    user.append("####")  # keep the paragraph break
                    i = j
                else:
                    break
            else:
                break
        prev = raw[-1][2] if raw else before
        if CONFIRM_RE.search(_turn_text(user)) and raw:
            # an answered prompt logged as input, not a message
            raw[-1][2].append("> " + _turn_text(user))
        else:
            raw.append((user, prev, []))
    return raw


def _turns(lines: list[str]) -> list[dict]:
    out: list[dict] = []
    for user, prev, after in _user_blocks(lines):
        text = _turn_text(user)
        mode = None
        stripped = text.lstrip()
        if stripped.startswith("/"):
            word = stripped.split(None, 1)[0].lower()
            if word in MODE_CMDS:
                mode = MODE_CMDS[word]
                text = stripped[len(word) :].strip()
                if text.startswith("/"):
                    continue  # '/ask /drop ...': a command after all
            else:
                continue  # /add, /run, /undo, ... (and unknown /cmds)
        if not text.strip():
            continue
        if _is_editor_handoff(prev, text):
            if out:  # the editor's edits serve the previous request
                out[-1]["tools"] += [x for x in tools_of(after) if x not in out[-1]["tools"]]
            continue
        turn = {"text": trim(redact(text)), "tools": tools_of(after)}
        if not mode and out and out[-1]["text"].strip() == turn["text"].strip() and not out[-1]["tools"]:
            # '/ask X' is logged, then X again as the message actually sent; aider
            # also re-logs a message it re-sends (e.g. after adding files)
            out[-1]["tools"] = turn["tools"]
            continue
        if mode:
            turn["mode"] = mode
        out.append(turn)
    return out


def looks_scripted(turns: list[dict]) -> bool:
    """Templated / benchmark sessions: most turns share one opening."""
    if len(turns) < 4:
        return False
    heads = Counter(t["text"][:40] for t in turns)
    return heads.most_common(1)[0][1] / len(turns) > 0.5


def extract(markdown: str) -> list[dict]:
    """Sessions of one history file: [{'started', 'turns': [...]}, ...]."""
    sessions, seen = [], set()
    for started, lines in _split_sessions(markdown):
        turns = _turns(lines)
        key = tuple(t["text"] for t in turns)
        if not turns or looks_scripted(turns) or key in seen:
            continue  # empty, templated, or a re-run of the same inputs
        seen.add(key)
        sessions.append({"started": started, "turns": turns[:MAX_TURNS]})
    return sessions


# --- language (rough, stdlib only) --------------------------------------------
_STOP = {
    "en": "the and to is it this that of in for with you can be not what how please add make",
    "ca": "amb els això vull està tinc fes aquest aquesta també perquè mateix però teva llegit per comprovar atura "
    "dades correctament executa aquí fitxer",
    "es": "el la de que en los las por para con una un es del se no lo pero haz agrega",
    "pt": "de que do da em um uma para com não os as no na por isso você faça",
    "fr": "le la les de des et est un une pour que dans pas sur avec il ce qui ajoute",
    "de": "der die das und ist nicht ich mit ein eine zu den von auf für bitte es dass",
    "it": "il di che la è per un una non con del della sono questo anche gli",
    "nl": "de het een en van is dat niet op te voor met zijn maar ook deze",
    "id": "yang dan di ini itu dengan untuk tidak ada dari ke saya bisa buat tolong",
    "tr": "bir ve bu için ile da de ne çok daha gibi olarak ama yap ekle",
    "cs": "je se na že do ale jak co pro jsou aby ted jsem mi to",
    "pl": "na nie że się do jest jak co ale dla",
    "vi": "và của là có không cho một những được các này trong",
    "da": "og er det at en til på med ikke for den som jeg har",
}
_STOP_SETS = {k: set(v.split()) for k, v in _STOP.items()}
_HINTS = {
    "cs": "řěůťď",
    "pl": "łąęśźż",
    "tr": "ğış",
    "de": "äöüß",
    "es": "ñ¿¡",
    "pt": "ãõ",
    "fr": "èêëœ",
    "vi": "ơưđạảấầậệ",
    "da": "øæå",
}


def lang_of(text: str) -> str:
    counts = Counter()
    for ch in text:
        o = ord(ch)
        if 0x3040 <= o <= 0x30FF:
            counts["ja"] += 3
        elif 0x4E00 <= o <= 0x9FFF:
            counts["zh"] += 1
        elif 0xAC00 <= o <= 0xD7AF:
            counts["ko"] += 1
        elif 0x0400 <= o <= 0x04FF:
            counts["cyr"] += 1
        elif 0x0600 <= o <= 0x06FF:
            counts["ar"] += 1
        elif 0x0E00 <= o <= 0x0E7F:
            counts["th"] += 1
    if counts:
        best, n = counts.most_common(1)[0]
        if n >= 3:
            if best == "cyr":
                return "uk" if re.search(r"[іїєґ]", text.lower()) else "ru"
            if best == "zh" and counts["ja"]:
                return "ja"
            return best
    words = re.findall(r"[a-zà-ÿğışčřžěůąęłńśźżőű]+", text.lower())
    uniq = set(words)
    score = {k: len(uniq & s) for k, s in _STOP_SETS.items()}  # ties go to the earlier list
    low = text.lower()
    for k, chars in _HINTS.items():
        score[k] += 2 * min(3, sum(low.count(c) for c in chars))
    best = max(score, key=score.get)
    return best if score[best] > 0 else "en"


def session_lang(turns: list[dict]) -> str:
    """Majority language of the turns (very short turns only break ties)."""
    votes: Counter = Counter()
    for t in turns:
        votes[lang_of(t["text"])] += 1.0 if len(t["text"]) >= 15 else 0.1
    return votes.most_common(1)[0][0]


# --- mirrors -----------------------------------------------------------------
def read_blob(mirrors: Path, repo: str, commit: str, path: str) -> str:
    owner, name = repo.split("/", 1)
    gitdir = mirrors / f"{owner}+{name}" / "repo"
    if gitdir.is_dir():
        return subprocess.run(
            ["git", "--git-dir", str(gitdir), "show", f"{commit}:{path}"], check=True, capture_output=True
        ).stdout.decode("utf-8", "replace")
    return (mirrors / owner / name / path).read_text("utf-8", errors="replace")


def entry(repo: str, commit: str, path: str, session: dict) -> dict:
    return {
        "source": "aider",
        "repo": repo,
        "commit": commit,
        "path": path,
        "started": session["started"],
        "lang": session_lang(session["turns"]),
        "turns": session["turns"],
    }


def rebuild(mirrors: Path, repo: str, commit: str, path: str, started: str) -> dict | None:
    for s in extract(read_blob(mirrors, repo, commit, path)):
        if s["started"] == started:
            return entry(repo, commit, path, s)
    return None


_SAMPLE = """
# aider chat started at 2025-01-01 10:00:00

> Aider v0.80.0|

#### /add app.py|
> Added app.py to the chat|

#### /ask why does the login fail?|

#### why does the login fail?|

Because the token expires.

#### fix it, my key is sk-abcdefghijklmnopqrstuvwx|
#### and run the tests|

#### Fixes

app.py
<<<<<<< SEARCH
a
=======
b
>>>>>>> REPLACE

> Applied edit to app.py|
> pytest|
> Run shell command? (Y)es/(N)o [Yes]: y|
> Running pytest|
> FAILED test_app.py::test_login|
""".replace("|\n", "  \n")  # aider ends user and status lines with two spaces


def selftest() -> None:
    [s] = extract(_SAMPLE)
    assert s["started"] == "2025-01-01 10:00:00"
    t = s["turns"]
    assert [x["text"] for x in t] == ["why does the login fail?", "fix it, my key is <secret>\nand run the tests"], t
    assert t[0]["mode"] == "ask" and t[0]["tools"] == []
    assert t[1]["tools"] == ["edit", "bash!"], t[1]
    assert trim("x" * 2000).count("[…700 chars cut…]") == 1
    print("selftest ok")


def history_files(gitdir: Path) -> dict[str, str]:
    """{path: newest commit} for every aider history file ever added or changed."""
    log = subprocess.run(
        [
            "git",
            "--git-dir",
            str(gitdir),
            "log",
            "--all",
            "--no-renames",
            "--diff-filter=AM",
            "--format=C %H",
            "--name-only",
        ],
        capture_output=True,
        text=True,
        errors="replace",
    ).stdout
    found: dict[str, str] = {}
    commit = ""
    for line in log.splitlines():
        if line.startswith("C "):
            commit = line[2:]
        elif "aider.chat.history" in line and line not in found:
            found[line] = commit  # log is newest first
    return found


def pick(mirrors: Path, holdout: set[str], exclude: set[str]) -> list[tuple[str, str, str, str]]:
    """Per repository the MAX_SESSIONS sessions with most turns (ties: file order)."""
    picks = []
    for d in sorted(mirrors.iterdir()):
        repo = d.name.replace("+", "/", 1)
        owner, name = repo.split("/", 1) if "/" in repo else (repo, "")
        if (
            not (d / "repo").is_dir()
            or repo in exclude
            or repo.lower() in holdout
            or owner.lower() in {h.split("/")[0] for h in holdout}
            or name.lower() in {h.split("/")[-1] for h in holdout}
        ):
            continue  # hold-out repos, their owners' and namesakes
        cands, starts = [], set()
        for path, commit in history_files(d / "repo").items():
            try:
                markdown = read_blob(mirrors, repo, commit, path)
            except subprocess.CalledProcessError:
                continue  # blob missing from the snapshot
            for s in extract(markdown):
                if s["started"] in starts or f"{repo}\t{s['started']}" in exclude:
                    continue  # a backup copy repeats sessions
                starts.add(s["started"])
                cands.append((len(s["turns"]), repo, commit, path, s["started"]))
        cands.sort(key=lambda c: -c[0])
        picks += [c[1:] for c in sorted(cands[:MAX_SESSIONS], key=lambda c: c[4])]
    return picks


def _lines(path: str) -> list[str]:
    return Path(path).read_text(encoding="utf-8").splitlines()


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:2] == ["selftest"]:
        selftest()
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verify", help="re-derive every manifest entry and compare")
    v.add_argument("manifest")
    b = sub.add_parser("build", help="picks TSV (repo commit path started) -> jsonl")
    b.add_argument("picks")
    b.add_argument("--out", required=True)
    b.add_argument("--prefix", default="rs-aider-")
    b.add_argument("--append", action="store_true", help="keep the sessions already in --out")
    k = sub.add_parser("pick", help="choose sessions from every mirror -> picks TSV on stdout")
    k.add_argument("--holdout", default="/work/shared/data/routing-holdout-repos.txt")
    k.add_argument("--exclude", help="lines 'owner/name' or 'owner/name<TAB>started' to leave out")
    for p in (v, b, k):
        p.add_argument("--mirrors", default="/work/.mirror", type=Path)
    a = ap.parse_args(argv)

    if a.cmd == "pick":
        hold = {line.split("#")[0].strip().lower() for line in _lines(a.holdout)}
        excl = set(_lines(a.exclude)) if a.exclude else set()
        for row in pick(a.mirrors, {h for h in hold if "/" in h}, excl):
            print("\t".join(row))
        return 0

    if a.cmd == "verify":
        bad = 0
        for line in _lines(a.manifest):
            e = json.loads(line)
            got = rebuild(a.mirrors, e["repo"], e["commit"], e["path"], e["started"])
            want = {k: v for k, v in e.items() if k != "id"}
            if got != want:
                bad += 1
                print("MISMATCH", e["id"], e["repo"], e["started"], file=sys.stderr)
        print(f"verify: {bad} mismatches")
        return 1 if bad else 0

    # --append keeps the manifest's sessions as they are; new ones take the next ids
    rows = [json.loads(x) for x in _lines(a.out)] if a.append else []
    have = {(r["repo"], r["path"], r["started"]) for r in rows}
    n = len(rows)
    for line in _lines(a.picks):
        if not line.strip() or line.startswith("#"):
            continue
        repo, commit, path, started = line.split("\t")
        if (repo, path, started) in have:
            continue
        e = rebuild(a.mirrors, repo, commit, path, started)
        if e is None:
            print("missing session", repo, started, file=sys.stderr)
            continue
        n += 1
        rows.append({"id": f"{a.prefix}{n:04d}", **e})
    with open(a.out, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(jsonl_line(r))
    print(f"wrote {len(rows)} sessions ({n - len(have)} new), {sum(len(r['turns']) for r in rows)} turns")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
