"""Build the labelled corpus of real user turns from what the collectors extracted and what the annotators labelled.

    python scripts/real_corpus/build.py agreement          # how far the annotators agree, before adjudication
    python scripts/real_corpus/build.py build [--holdout FILE]   # write tests/routing_data/real/corpus.jsonl
    python scripts/real_corpus/build.py check    # exit 1 when corpus.jsonl is not what the sources and labels give

Inputs (tests/routing_data/real/): the collectors' session files (`specstory.jsonl`, `aider.jsonl`,
`transcripts.jsonl`: ordered user turns with source repository, commit and path), two blind annotators' labels
(`labels/annotator_1/<source>.jsonl`, `labels/annotator_2/<source>.jsonl`, one line per turn, ids
`<session id>#<turn index>`) and an adjudicator's labels for the turns they disagree on (`labels/adjudicated/`). A
turn keeps a label when the annotators agree on tier and profile, or when the adjudicator picked one of the two
labels; otherwise it stays in its session as context with no label. Sessions are split by repository (a repository
is all dev or all test), so the test split measures routing on people the router has never seen. The corpus is
committed; `check` (run by the test suite) fails when it no longer matches its sources and labels.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "tests" / "routing_data" / "real"
CORPUS = REAL / "corpus.jsonl"
SOURCES = ("specstory.jsonl", "aider.jsonl", "transcripts.jsonl")
ANNOTATORS = ("annotator_1", "annotator_2")
TEST_BUCKETS = 4  # of 10: share of repositories held out for the test split
PROFILE_TIER = {
    "planner": "reasoning",
    "debugger": "reasoning",
    "reviewer": "reasoning",
    "coder": "coding",
    "refactorer": "coding",
    "assistant": "quick",
}


def split_of_repo(repo: str) -> str:
    """ "dev" or "test", fixed by the repository's name alone (case-insensitive)."""
    bucket = int(hashlib.sha1(repo.lower().encode()).hexdigest(), 16) % 10
    return "test" if bucket < TEST_BUCKETS else "dev"


def _read_jsonl(path: Path) -> Iterator[dict]:
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield json.loads(line)


def read_holdout(path: Path | None) -> frozenset[str]:
    """Repositories (owner/name, lower case) whose logs are kept for an independent check and must never be used."""
    if path is None:
        return frozenset()
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return frozenset(line.split("#")[0].lower() for line in lines if line and not line.startswith("#"))


def sessions(holdout: frozenset[str] = frozenset()) -> list[dict]:
    """Every collected session once: a session whose turns repeat an earlier one (a copied log) is dropped, and so
    is one from a held-out repository (the collectors already skip them; this is the check)."""
    seen: set[str] = set()
    out = []
    for name in SOURCES:
        for session in _read_jsonl(REAL / name):
            if session["repo"].lower() in holdout:
                raise SystemExit(f"{session['id']} comes from a held-out repository; remove it")
            key = hashlib.sha1(
                "\n".join(" ".join(t["text"].lower().split()) for t in session["turns"]).encode()
            ).hexdigest()
            if key in seen or not session["turns"]:
                continue
            seen.add(key)
            out.append(session)
    return out


def _labels(name: str) -> dict[str, dict]:
    out = {}
    rows = (row for path in sorted((REAL / "labels" / name).glob("*.jsonl")) for row in _read_jsonl(path))
    for row in rows:
        if row.get("skip"):
            out[row["id"]] = {"skip": True}
        elif row.get("profile") in PROFILE_TIER:
            out[row["id"]] = {
                "tier": PROFILE_TIER[row["profile"]],
                "profile": row["profile"],
                "sure": bool(row.get("sure", True)),
            }
    return out


def _kappa(pairs: list[tuple[str, str]]) -> float:
    """Cohen's kappa: agreement beyond what the two label distributions give by chance."""
    n = len(pairs)
    if not n:
        return 0.0
    observed = sum(a == b for a, b in pairs) / n
    left, right = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(left[k] * right[k] for k in left) / (n * n)
    return (observed - expected) / (1 - expected) if expected < 1 else 1.0


def agreement() -> dict:
    first, second = (_labels(name) for name in ANNOTATORS)
    both = [i for i in first if i in second and not first[i].get("skip") and not second[i].get("skip")]
    tiers = [(first[i]["tier"], second[i]["tier"]) for i in both]
    profiles = [(first[i]["profile"], second[i]["profile"]) for i in both]
    return {
        "labelled_by_both": len(both),
        "skipped_by_either": sum(1 for i in first if i in second and (first[i].get("skip") or second[i].get("skip"))),
        "tier_agreement": sum(a == b for a, b in tiers) / max(1, len(tiers)),
        "tier_kappa": _kappa(tiers),
        "profile_agreement": sum(a == b for a, b in profiles) / max(1, len(profiles)),
        "profile_kappa": _kappa(profiles),
        "disagreements": [i for i in both if first[i]["profile"] != second[i]["profile"]],
    }


def consensus_label(turn_id: str, first: dict, second: dict, adjudicated: dict) -> dict | None:
    """The agreed label, or the adjudicator's pick among the two; None when the turn has no trustworthy label."""
    a, b = first.get(turn_id), second.get(turn_id)
    if a is None or b is None or a.get("skip") or b.get("skip"):
        return None
    if a["profile"] == b["profile"]:
        return {**a, "sure": a["sure"] and b["sure"]}
    pick = adjudicated.get(turn_id)
    if pick and not pick.get("skip") and pick["profile"] in (a["profile"], b["profile"]):
        return {**pick, "sure": False}
    return None


def corpus(holdout: frozenset[str] = frozenset()) -> tuple[list[dict], Counter]:
    """The corpus's sessions, each turn with its consensus label or none, and the turn counts by split and kind."""
    first, second = (_labels(name) for name in ANNOTATORS)
    adjudicated = _labels("adjudicated")
    rows, counts = [], Counter()
    for session in sessions(holdout):
        split = split_of_repo(session["repo"])
        turns = []
        for index, turn in enumerate(session["turns"]):
            label = consensus_label(f"{session['id']}#{index}", first, second, adjudicated)
            turns.append({"text": turn["text"], "tools": turn.get("tools", []), **(label or {"tier": None})})
            counts[(split, "labelled" if label else "context")] += 1
        rows.append(
            {
                "id": session["id"],
                "source": session["source"],
                "repo": session["repo"],
                "commit": session.get("commit"),
                "path": session["path"],
                "lang": session.get("lang", "en"),
                "split": split,
                "turns": turns,
            }
        )
    return rows, counts


# Characters str.splitlines() breaks on that json.dumps leaves raw: escaped, so that every reader of a corpus
# file (also one splitting with splitlines) sees one row a line.
_LINE_BREAKS = ("\x85", "\u2028", "\u2029")


def jsonl_line(row: dict) -> str:
    line = json.dumps(row, ensure_ascii=False)
    for ch in _LINE_BREAKS:
        line = line.replace(ch, f"\\u{ord(ch):04x}")
    return line + "\n"


def corpus_text(rows: list[dict]) -> str:
    return "".join(jsonl_line(row) for row in rows)


def build(holdout: frozenset[str]) -> dict:
    rows, counts = corpus(holdout)
    CORPUS.write_text(corpus_text(rows), encoding="utf-8")
    return {
        "sessions": len(rows),
        "repositories": len({r["repo"].lower() for r in rows}),
        "languages": dict(Counter(r["lang"] for r in rows).most_common()),
        "turns": {f"{split} {kind}": n for (split, kind), n in sorted(counts.items())},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("agreement", "build", "check"))
    parser.add_argument("--holdout", type=Path, help="list of held-out repositories (one owner/name per line)")
    args = parser.parse_args(argv)
    if args.command == "check":
        if not CORPUS.exists() or CORPUS.read_text(encoding="utf-8") != corpus_text(corpus()[0]):
            print(f"{CORPUS.relative_to(ROOT)} differs from the sources and labels: run build", file=sys.stderr)
            return 1
        return 0
    if args.command == "agreement":
        result = agreement()
        result["disagreements"] = len(result["disagreements"])
    else:
        result = build(read_holdout(args.holdout))
    json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
