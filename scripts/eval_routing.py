"""Routing accuracy on the labelled set: tier/profile accuracy, confusion matrices, costly mistakes.

    python scripts/eval_routing.py [--split dev|test|all] [--sessions] [--json] [--mistakes]

Messages and sessions are split deterministically by id (sha1(id) % 10 < 7 → dev, else test).
`--mistakes` lists misrouted dev items only: the test split is for reporting, never for tuning.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kimchi_plugin.brain.classifier import Classification  # noqa: E402
from kimchi_plugin.brain.conversation import ConversationState, decide  # noqa: E402
from kimchi_plugin.brain.tiers import TIER_ORDER, Profile, Tier  # noqa: E402

DATA = ROOT / "tests" / "routing_data"
DEV_BUCKETS = 7  # of 10
PROFILE_ORDER = (
    Profile.PLANNER, Profile.DEBUGGER, Profile.REVIEWER, Profile.CODER, Profile.REFACTORER, Profile.ASSISTANT,
)
LABEL_CONFIDENCE = 1.0
# Lower bounds of the confidence buckets in the calibration table.
CONFIDENCE_BUCKETS = (0.0, 0.3, 0.5, 0.7, 0.9)

DecideFn = Callable[[str, ConversationState], Classification]


def split_of(item_id: str) -> str:
    """"dev" or "test", fixed by the id alone."""
    return "dev" if int(hashlib.sha1(item_id.encode()).hexdigest(), 16) % 10 < DEV_BUCKETS else "test"


def load(path: Path, split: str) -> list[dict]:
    if not path.exists():
        return []
    items = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [item for item in items if split == "all" or split_of(item["id"]) == split]


def labelled(profile: str) -> Classification:
    """A previous turn as its label says it was routed."""
    return Classification(Profile(profile), LABEL_CONFIDENCE, ("label",), "label")


@dataclass
class Scores:
    """Running tallies of one evaluation."""

    total: int = 0
    tier_ok: int = 0
    profile_ok: int = 0
    reasoning_total: int = 0
    reasoning_lower: int = 0
    tier_matrix: Counter = field(default_factory=Counter)
    profile_matrix: Counter = field(default_factory=Counter)
    tags: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    confidence: dict[float, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    sources: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    mistakes: list[dict] = field(default_factory=list)

    def add(self, item: dict, got: Classification) -> None:
        tier, profile = Tier(item["tier"]), Profile(item["profile"])
        self.total += 1
        tier_ok = got.tier is tier
        self.tier_ok += tier_ok
        self.profile_ok += got.profile is profile
        self.tier_matrix[tier, got.tier] += 1
        self.profile_matrix[profile, got.profile] += 1
        if tier is Tier.REASONING:
            self.reasoning_total += 1
            self.reasoning_lower += got.tier is not Tier.REASONING
        for tag in item.get("tags") or ["(none)"]:
            self.tags[tag][0] += tier_ok
            self.tags[tag][1] += 1
        bucket = max(b for b in CONFIDENCE_BUCKETS if b <= got.confidence)
        for tally in (self.confidence[bucket], self.sources[got.source]):
            tally[0] += tier_ok
            tally[1] += 1
        if not tier_ok or got.profile is not profile:
            self.mistakes.append({
                "id": item["id"], "text": item["text"][:300], "label": f"{tier.value}/{profile.value}",
                "got": f"{got.tier.value}/{got.profile.value}", "conf": got.confidence,
                "signals": list(got.signals), "source": got.source, "prev": item.get("prev"),
                "tier_ok": tier_ok,
            })

    def as_dict(self) -> dict:
        n = max(self.total, 1)
        return {
            "n": self.total,
            "tier_accuracy": round(self.tier_ok / n, 4),
            "profile_accuracy": round(self.profile_ok / n, 4),
            "reasoning_routed_lower": round(self.reasoning_lower / max(self.reasoning_total, 1), 4),
            "tier_confusion": {
                t.value: {u.value: self.tier_matrix[t, u] for u in TIER_ORDER} for t in TIER_ORDER
            },
            "profile_confusion": {
                p.value: {q.value: self.profile_matrix[p, q] for q in PROFILE_ORDER} for p in PROFILE_ORDER
            },
            "per_tag": {tag: round(ok / n_tag, 4) for tag, (ok, n_tag) in sorted(self.tags.items())},
            "tier_accuracy_by_confidence": {
                f">={b}": {"n": self.confidence[b][1], "accuracy": round(self.confidence[b][0] / self.confidence[b][1], 4)}
                for b in CONFIDENCE_BUCKETS if self.confidence[b][1]
            },
            "tier_accuracy_by_source": {
                src: {"n": n_src, "accuracy": round(ok / n_src, 4)} for src, (ok, n_src) in sorted(self.sources.items())
            },
        }


def evaluate_messages(path: Path, decide_fn: DecideFn = decide, split: str = "all") -> Scores:
    """Score single messages; a `prev` turn is noted in the state first, as its label routed it."""
    scores = Scores()
    for item in load(path, split):
        state = ConversationState()
        prev = item.get("prev")
        if prev:
            state.note_decision(prev["text"], labelled(prev["profile"]))
        scores.add(item, decide_fn(item["text"], state))
    return scores


def _tools(turn: dict) -> Iterator[tuple[str, bool]]:
    for tool in turn.get("tools") or ():
        yield tool.rstrip("!"), tool.endswith("!")


def evaluate_sessions(path: Path, decide_fn: DecideFn = decide, split: str = "all") -> Scores:
    """Walk each session: decide a turn, note the decision, replay its tools; score every turn."""
    scores = Scores()
    for session in load(path, split):
        state = ConversationState()
        for index, turn in enumerate(session["turns"]):
            got = decide_fn(turn["text"], state)
            scores.add({**turn, "id": f"{session['id']}#{index}"}, got)
            state.note_decision(turn["text"], got)
            for tool, failed in _tools(turn):
                state.note_tool(tool, failed)
    return scores


def _matrix(title: str, rows: Iterable, counter: Counter) -> str:
    rows = tuple(rows)
    width = max(len(r.value) for r in rows) + 2
    lines = [f"{title} (rows = label, cols = predicted)", " " * width + "".join(f"{r.value[:9]:>10}" for r in rows)]
    for r in rows:
        lines.append(f"{r.value:<{width}}" + "".join(f"{counter[r, c]:>10}" for c in rows))
    return "\n".join(lines)


def report(name: str, scores: Scores) -> str:
    d = scores.as_dict()
    lines = [
        f"== {name}: {d['n']} items",
        f"tier accuracy      {d['tier_accuracy']:.1%}",
        f"profile accuracy   {d['profile_accuracy']:.1%}",
        f"reasoning → lower  {d['reasoning_routed_lower']:.1%} ({scores.reasoning_lower}/{scores.reasoning_total})",
        _matrix("tier confusion", TIER_ORDER, scores.tier_matrix),
        _matrix("profile confusion", PROFILE_ORDER, scores.profile_matrix),
        "per-tag tier accuracy: "
        + ", ".join(f"{tag} {acc:.0%} (n={scores.tags[tag][1]})" for tag, acc in d["per_tag"].items()),
        "tier accuracy by confidence: "
        + ", ".join(f"{k} {v['accuracy']:.0%} (n={v['n']})" for k, v in d["tier_accuracy_by_confidence"].items()),
        "tier accuracy by source: "
        + ", ".join(f"{k} {v['accuracy']:.0%} (n={v['n']})" for k, v in d["tier_accuracy_by_source"].items()),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "test", "all"), default="dev")
    parser.add_argument("--sessions", action="store_true", help="also walk sessions.jsonl")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--mistakes", action="store_true", help="list dev-split mistakes (dev only)")
    parser.add_argument("--data", type=Path, default=DATA, help="folder holding messages.jsonl and sessions.jsonl")
    parser.add_argument("--messages", type=Path, help="another messages file (same schema) instead")
    args = parser.parse_args(argv)

    results = {"messages": evaluate_messages(args.messages or args.data / "messages.jsonl", decide, args.split)}
    if args.sessions:
        results["sessions"] = evaluate_sessions(args.data / "sessions.jsonl", decide, args.split)
    for name, scores in results.items():
        print(report(f"{name} [{args.split}]", scores))
        if args.mistakes and args.split == "dev":
            for m in scores.mistakes:
                print(json.dumps(m, ensure_ascii=False))
    if args.mistakes and args.split != "dev":
        print("--mistakes lists the dev split only", file=sys.stderr)
    if args.json:
        print(json.dumps({name: s.as_dict() for name, s in results.items()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
