"""Routing accuracy on real users' turns (tests/routing_data/real/corpus.jsonl), by split, kind and language.

    python scripts/real_corpus/evaluate.py [--split dev|test|all] [--json] [--mistakes N]

Two kinds, both from the same labelled sessions:
- messages: every labelled turn decided on its own words, with the previous turn (as its label routed it) noted
  first, as a router sees a message whose session it knows nothing else of;
- session turns: each session replayed in order with the router's own decisions and the tools the log shows, as the
  plugin sees it under a primary agent (`build`): Quick work is floored to Coding there, so labels and decisions
  are floored alike, and only turns both annotators were sure of count.

Reports tier and profile accuracy, Reasoning work sent to a lower tier, the tier confusion matrix, wrong answers
given with confidence >= 0.8, calibration (reliability table and expected calibration error of the tier
confidence), and the share of messages below the LLM second opinion's default threshold with the accuracy above it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kimchi_plugin.routing.classifier import Classification, WeightTable
from kimchi_plugin.routing.conversation import ConversationState, decide
from kimchi_plugin.routing.tiers import TIER_ORDER, Profile, Tier

CORPUS = Path(__file__).resolve().parents[2] / "tests" / "routing_data" / "real" / "corpus.jsonl"
CONFIDENT = 0.8
LLM_THRESHOLD = 0.5  # the default of the `llmClassifierThreshold` option
BINS = (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
DecideFn = Callable[[str, ConversationState], Classification]


def floored(tier: Tier) -> Tier:
    """What a primary agent is served: Quick work goes to Coding."""
    return Tier.CODING if tier is Tier.QUICK else tier


@dataclass
class Tally:
    """Running scores of one row of the report."""

    n: int = 0
    tier_ok: int = 0
    profile_ok: int = 0
    profiled: int = 0  # items scored on their profile too (session turns are scored on the floored tier alone)
    reasoning: int = 0
    reasoning_lower: int = 0
    confident_wrong: int = 0
    below_threshold: int = 0
    above_ok: int = 0
    matrix: Counter = field(default_factory=Counter)
    bins: dict[float, list[float]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0.0]))

    def add(self, label: Tier, profile: Profile | None, got: Classification, got_tier: Tier) -> None:
        ok = got_tier is label
        self.n += 1
        self.tier_ok += ok
        self.profiled += profile is not None
        self.profile_ok += profile is not None and got.profile is profile
        self.matrix[label, got_tier] += 1
        if label is Tier.REASONING:
            self.reasoning += 1
            self.reasoning_lower += got_tier is not Tier.REASONING
        self.confident_wrong += not ok and got.confidence >= CONFIDENT
        if got.confidence < LLM_THRESHOLD:
            self.below_threshold += 1
        else:
            self.above_ok += ok
        bucket = self.bins[max(b for b in BINS if b <= got.confidence)]
        bucket[0] += 1
        bucket[1] += ok
        bucket[2] += got.confidence

    def merge(self, other: Tally) -> None:
        """Add another tally's counts (the folds of a cross-validation)."""
        for name in ("n", "tier_ok", "profile_ok", "profiled", "reasoning", "reasoning_lower", "confident_wrong"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.below_threshold += other.below_threshold
        self.above_ok += other.above_ok
        self.matrix.update(other.matrix)
        for key, (n, ok, conf) in other.bins.items():
            mine = self.bins[key]
            mine[0] += n
            mine[1] += ok
            mine[2] += conf

    def cost(self, reasoning_lower_cost: float) -> float:
        """Mistakes per item, a Reasoning turn sent lower counting `reasoning_lower_cost`."""
        misses = self.n - self.tier_ok + (reasoning_lower_cost - 1.0) * self.reasoning_lower
        return misses / max(self.n, 1)

    def ece(self) -> float:
        """Expected calibration error: the gap between confidence and accuracy, weighted by bin size."""
        return sum(abs(ok - conf) for n, ok, conf in self.bins.values() if n) / max(self.n, 1)

    def row(self) -> dict:
        n, above = max(self.n, 1), self.n - self.below_threshold
        return {
            "n": self.n,
            "tier_accuracy": round(self.tier_ok / n, 4),
            "profile_accuracy": round(self.profile_ok / self.profiled, 4) if self.profiled else None,
            "reasoning_sent_lower": round(self.reasoning_lower / max(self.reasoning, 1), 4),
            "wrong_with_confidence_ge_0.8": round(self.confident_wrong / n, 4),
            "below_llm_threshold": round(self.below_threshold / n, 4),
            "accuracy_above_threshold": round(self.above_ok / max(above, 1), 4),
            "ece": round(self.ece(), 4),
        }


def sessions(split: str) -> list[dict]:
    """The corpus's sessions in a split ("dev", "test" or "all")."""
    rows = (json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip())
    return [session for session in rows if split in ("all", session["split"])]


def with_table(table: WeightTable) -> DecideFn:
    """`decide` scoring with this weight table instead of the shipped one."""

    def decide_with(text: str, state: ConversationState) -> Classification:
        return decide(text, state, table)

    return decide_with


def _labelled(profile: str) -> Classification:
    return Classification(Profile(profile), 1.0, ("label",), "label")


def message_decision(turns: list[dict], index: int, decide_fn: DecideFn) -> Classification:
    """A labelled turn decided as a message: on its own words, the previous turn (as its label routed it) noted
    first."""
    alone = ConversationState()
    previous = turns[index - 1] if index else None
    if previous is not None and previous.get("profile"):
        alone.note_decision(previous["text"], _labelled(previous["profile"]))
    return decide_fn(turns[index]["text"], alone)


def evaluate(chosen: list[dict], decide_fn: DecideFn = decide) -> tuple[dict[str, Tally], list[dict]]:
    """Tallies of these sessions keyed by row name ("messages", "session turns (build, sure)", "messages · <lang>"),
    and the message mistakes."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    mistakes = []
    for session in chosen:
        replay = ConversationState()
        for index, turn in enumerate(session["turns"]):
            if turn.get("tier"):
                got = message_decision(session["turns"], index, decide_fn)
                label, profile = Tier(turn["tier"]), Profile(turn["profile"])
                for row in ("messages", f"messages · {session['lang']}"):
                    tallies[row].add(label, profile, got, got.tier)
                if got.tier is not label:
                    mistakes.append(
                        {
                            "id": f"{session['id']}#{index}",
                            "label": turn["profile"],
                            "got": got.profile.value,
                            "conf": round(got.confidence, 2),
                            "text": turn["text"][:200],
                        }
                    )
            decision = decide_fn(turn["text"], replay)
            if turn.get("tier") and turn.get("sure"):
                label = floored(Tier(turn["tier"]))
                tallies["session turns (build, sure)"].add(label, None, decision, floored(decision.tier))
            replay.note_decision(turn["text"], decision)
            for tool in turn.get("tools") or ():
                replay.note_tool(tool.rstrip("!"), tool.endswith("!"))
    return tallies, mistakes


def report(tallies: dict[str, Tally]) -> str:
    head = f"{'kind':<30} {'n':>5} {'tier':>7} {'profile':>8} {'R→lower':>8} {'conf≥.8✗':>9} {'<0.5':>6} {'ECE':>6}"
    lines = [head]
    order = sorted(tallies, key=lambda k: (k.startswith("messages ·"), -tallies[k].n))
    for name in order:
        r = tallies[name].row()
        profile = f"{r['profile_accuracy']:>8.1%}" if r["profile_accuracy"] is not None else f"{'—':>8}"
        lines.append(
            f"{name:<30} {r['n']:>5} {r['tier_accuracy']:>7.1%} {profile} "
            f"{r['reasoning_sent_lower']:>8.1%} {r['wrong_with_confidence_ge_0.8']:>9.1%} "
            f"{r['below_llm_threshold']:>6.1%} {r['ece']:>6.3f}"
        )
    for name in ("messages", "session turns (build, sure)"):
        t = tallies.get(name)
        if t is None:
            continue
        lines.append(f"\n{name}: tier confusion (rows = label, cols = predicted)")
        lines.append(" " * 11 + "".join(f"{c.value:>11}" for c in TIER_ORDER))
        lines.extend(f"{r.value:<11}" + "".join(f"{t.matrix[r, c]:>11}" for c in TIER_ORDER) for r in TIER_ORDER)
        lines.append(f"{name}: reliability (confidence bin: n, accuracy, mean confidence)")
        for b in BINS:
            n, ok, conf = t.bins.get(b, (0, 0, 0.0))
            if n:
                lines.append(f"  >={b:.1f}: {n:>5} {ok / n:>7.1%} {conf / n:>6.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("dev", "test", "all"), default="test")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--mistakes", type=int, default=0, help="list this many misrouted messages (dev only)")
    args = parser.parse_args(argv)
    tallies, mistakes = evaluate(sessions(args.split))
    if args.json:
        json.dump({name: t.row() for name, t in tallies.items()}, sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        print(f"real corpus, split {args.split}")
        print(report(tallies))
    if args.mistakes and args.split == "dev":
        for m in mistakes[: args.mistakes]:
            print(json.dumps(m, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
