"""Routing accuracy on the labelled sets: a summary over both sets and splits, confusion matrices, mistakes.

    python scripts/eval_routing.py [--detail dev|test] [--mistakes] [--json] [--messages FILE]

Independently written sets A–U (tests/routing_data/<set>/messages.jsonl and sessions.jsonl, found by SETS),
each by another author, are each split deterministically by id (sha1(id) % 10 < 7 → dev, else test). By
default it prints one row per set, kind (messages, session turns) and split, the combined rows, and the
confusion matrices of the combined test split. Then the real corpus's test split (real users' turns from
repositories that never train, tests/routing_data/real/corpus.jsonl) as scripts/real_corpus/evaluate.py reports it:
messages and session turns, by language, confusion, reliability table and calibration error. `--mistakes` lists
misrouted dev items only: the test split is for reporting, never for tuning.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from real_corpus import evaluate as real_corpus

from kimchi_plugin.routing.classifier import Classification
from kimchi_plugin.routing.classify.table import labelled_sets
from kimchi_plugin.routing.conversation import ConversationState, decide
from kimchi_plugin.routing.tiers import TIER_ORDER, Profile, Tier

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "routing_data"
# Set name → its folder.
SETS = labelled_sets(DATA)
KINDS = ("messages", "sessions")
SPLITS = ("dev", "test")
DEV_BUCKETS = 7  # of 10
PROFILE_ORDER = (
    Profile.PLANNER,
    Profile.DEBUGGER,
    Profile.REVIEWER,
    Profile.CODER,
    Profile.REFACTORER,
    Profile.ASSISTANT,
)
LABEL_CONFIDENCE = 1.0
# Lower bounds of the confidence buckets in the calibration table.
CONFIDENCE_BUCKETS = (0.0, 0.3, 0.5, 0.7, 0.9)
# Cost of a mistake in the summary: a Reasoning message sent lower counts this much, any other miss 1.
REASONING_LOWER_COST = 2.0

DecideFn = Callable[[str, ConversationState], Classification]


def split_of(item_id: str) -> str:
    """ "dev" or "test", fixed by the id alone."""
    return "dev" if int(hashlib.sha1(item_id.encode()).hexdigest(), 16) % 10 < DEV_BUCKETS else "test"


def load(path: Path, split: str) -> list[dict]:
    """Items of a JSON Lines file in a split ("dev", "test" or "all"); a missing file has none."""
    if not path.exists():
        return []
    items = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [item for item in items if split == "all" or split_of(item["id"]) == split]


def load_set(name: str, kind: str, split: str) -> list[dict]:
    """Messages or sessions of one set in a split."""
    return load(SETS[name] / f"{kind}.jsonl", split)


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
            self.mistakes.append(
                {
                    "id": item["id"],
                    "text": item["text"][:300],
                    "label": f"{tier.value}/{profile.value}",
                    "got": f"{got.tier.value}/{got.profile.value}",
                    "conf": got.confidence,
                    "signals": list(got.signals),
                    "source": got.source,
                    "prev": item.get("prev"),
                    "tier_ok": tier_ok,
                }
            )

    def merge(self, other: Scores) -> None:
        """Add another evaluation's tallies (for combined rows); mistakes are not carried over."""
        self.total += other.total
        self.tier_ok += other.tier_ok
        self.profile_ok += other.profile_ok
        self.reasoning_total += other.reasoning_total
        self.reasoning_lower += other.reasoning_lower
        self.tier_matrix.update(other.tier_matrix)
        self.profile_matrix.update(other.profile_matrix)
        for mine, theirs in (
            (self.tags, other.tags),
            (self.confidence, other.confidence),
            (self.sources, other.sources),
        ):
            for key, (ok, n) in theirs.items():
                mine[key][0] += ok
                mine[key][1] += n

    @property
    def cost(self) -> float:
        """Mistakes per item, a Reasoning message sent lower counting REASONING_LOWER_COST."""
        misses = self.total - self.tier_ok + (REASONING_LOWER_COST - 1.0) * self.reasoning_lower
        return misses / max(self.total, 1)

    def as_dict(self) -> dict:
        n = max(self.total, 1)
        return {
            "n": self.total,
            "tier_accuracy": round(self.tier_ok / n, 4),
            "profile_accuracy": round(self.profile_ok / n, 4),
            "reasoning_routed_lower": round(self.reasoning_lower / max(self.reasoning_total, 1), 4),
            "cost": round(self.cost, 4),
            "tier_confusion": {t.value: {u.value: self.tier_matrix[t, u] for u in TIER_ORDER} for t in TIER_ORDER},
            "profile_confusion": {
                p.value: {q.value: self.profile_matrix[p, q] for q in PROFILE_ORDER} for p in PROFILE_ORDER
            },
            "per_tag": {tag: round(ok / n_tag, 4) for tag, (ok, n_tag) in sorted(self.tags.items())},
            "tier_accuracy_by_confidence": {
                f">={b}": {
                    "n": self.confidence[b][1],
                    "accuracy": round(self.confidence[b][0] / self.confidence[b][1], 4),
                }
                for b in CONFIDENCE_BUCKETS
                if self.confidence[b][1]
            },
            "tier_accuracy_by_source": {
                src: {"n": n_src, "accuracy": round(ok / n_src, 4)} for src, (ok, n_src) in sorted(self.sources.items())
            },
        }


def score_messages(items: Iterable[dict], decide_fn: DecideFn = decide) -> Scores:
    """Score single messages; a `prev` turn is noted in the state first, as its label routed it."""
    scores = Scores()
    for item in items:
        state = ConversationState()
        prev = item.get("prev")
        if prev:
            state.note_decision(prev["text"], labelled(prev["profile"]))
        scores.add(item, decide_fn(item["text"], state))
    return scores


def tools_of(turn: dict) -> Iterator[tuple[str, bool]]:
    """A turn's tool calls as (name, failed)."""
    for tool in turn.get("tools") or ():
        yield tool.rstrip("!"), tool.endswith("!")


def score_sessions(sessions: Iterable[dict], decide_fn: DecideFn = decide) -> Scores:
    """Walk each session: decide a turn, note the decision, replay its tools; score every turn."""
    scores = Scores()
    for session in sessions:
        state = ConversationState()
        for index, turn in enumerate(session["turns"]):
            got = decide_fn(turn["text"], state)
            scores.add({**turn, "id": f"{session['id']}#{index}"}, got)
            state.note_decision(turn["text"], got)
            for tool, failed in tools_of(turn):
                state.note_tool(tool, failed)
    return scores


def evaluate_messages(path: Path, decide_fn: DecideFn = decide, split: str = "all") -> Scores:
    return score_messages(load(path, split), decide_fn)


def evaluate_sessions(path: Path, decide_fn: DecideFn = decide, split: str = "all") -> Scores:
    return score_sessions(load(path, split), decide_fn)


def evaluate_all(decide_fn: DecideFn = decide) -> dict[tuple[str, str, str], Scores]:
    """Scores keyed by (set, kind, split) for A and B, plus ("all", kind, split) and ("all", "all", split)."""
    results: dict[tuple[str, str, str], Scores] = {}
    for split in SPLITS:
        for kind in KINDS:
            combined = Scores()
            for name in SETS:
                items = load_set(name, kind, split)
                scores = score_messages(items, decide_fn) if kind == "messages" else score_sessions(items, decide_fn)
                results[name, kind, split] = scores
                combined.merge(scores)
            results["all", kind, split] = combined
        everything = Scores()
        for kind in KINDS:
            everything.merge(results["all", kind, split])
        results["all", "all", split] = everything
    return results


def _matrix(title: str, rows: Iterable, counter: Counter) -> str:
    rows = tuple(rows)
    width = max(len(r.value) for r in rows) + 2
    lines = [f"{title} (rows = label, cols = predicted)", " " * width + "".join(f"{r.value[:9]:>10}" for r in rows)]
    for r in rows:
        lines.append(f"{r.value:<{width}}" + "".join(f"{counter[r, c]:>10}" for c in rows))
    return "\n".join(lines)


def summary(results: dict[tuple[str, str, str], Scores]) -> str:
    """One row per (set, kind, split): items, tier and profile accuracy, Reasoning sent lower, cost."""
    lines = [f"{'set':<5} {'kind':<9} {'split':<5} {'n':>5} {'tier':>7} {'profile':>8} {'R→lower':>8} {'cost':>6}"]
    for (name, kind, split), s in results.items():
        d = s.as_dict()
        if not d["n"]:
            continue  # a set without that kind of item
        lines.append(
            f"{name:<5} {kind:<9} {split:<5} {d['n']:>5} {d['tier_accuracy']:>7.1%} {d['profile_accuracy']:>8.1%} "
            f"{d['reasoning_routed_lower']:>8.1%} {d['cost']:>6.3f}"
        )
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
    parser.add_argument("--detail", choices=SPLITS, help="full report (tags, calibration, sources) per set and kind")
    parser.add_argument("--mistakes", action="store_true", help="list dev-split mistakes of both sets")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--messages", type=Path, help="score another messages file (same schema, all items) only")
    args = parser.parse_args(argv)

    if args.messages:
        scores = evaluate_messages(args.messages)
        print(report(f"{args.messages.name} [all]", scores))
        if args.json:
            print(json.dumps(scores.as_dict(), indent=2))
        return 0
    results = evaluate_all()
    print(summary(results))
    combined = results["all", "all", "test"]
    print(f"\ncombined test split (messages and session turns of every set): {combined.total} items")
    print(_matrix("tier confusion", TIER_ORDER, combined.tier_matrix))
    print(_matrix("profile confusion", PROFILE_ORDER, combined.profile_matrix))
    if args.detail:
        for (name, kind, split), scores in results.items():
            if split == args.detail and name in SETS:
                print("\n" + report(f"{name} {kind} [{split}]", scores))
    if args.mistakes:
        for (name, _, split), scores in results.items():
            if split == "dev" and name in SETS:
                for m in scores.mistakes:
                    print(json.dumps({"set": name, **m}, ensure_ascii=False))
    real = {split: real_corpus.evaluate(real_corpus.sessions(split))[0] for split in SPLITS}
    print("\nreal users' turns (tests/routing_data/real), test split: repositories that never train")
    print(real_corpus.report(real["test"]))
    if args.json:
        figures = {"/".join(key): s.as_dict() for key, s in results.items()}
        figures.update({f"real/{row}/{split}": t.row() for split, rows in real.items() for row, t in rows.items()})
        print(json.dumps(figures, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
