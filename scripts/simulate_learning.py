"""Learning from corrections, simulated on the labelled sets: a user with a systematic preference corrects the router
whenever it disagrees, and we watch (1) how soon the preference is followed on messages the user has not corrected
yet and (2) whether anything else moves.

    python scripts/simulate_learning.py [--sets AB] [--preference refactorer=reasoning] [--seed 17]

The user sends the labelled messages in a shuffled order. They want every message of the preferred mode on the
preferred tier, and every other message on its labelled tier. A message the router sends elsewhere is corrected the
way users do it (the same words re-sent with `/plan`, `/code` or `/quick`), which `routing.corrections.detect` turns
into a correction, exactly as the plugin does. Messages of the preferred mode are split in two by id: the first half
is the stream the user corrects, the second half is held out and only measured.

Printed: after the user's first few corrections of the preferred mode (and at the end), the share of held-out
preferred-mode messages routed as the user wants, and tier accuracy on all other messages (against their labels).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kimchi_plugin.brain.corrections_store import MAX_PER_SCOPE
from kimchi_plugin.routing import corrections
from kimchi_plugin.routing.classifier import Classification, classify
from kimchi_plugin.routing.classify.table import labelled_sets
from kimchi_plugin.routing.corrections import AutoTurn, Correction
from kimchi_plugin.routing.tiers import TIER_DEFAULT_PROFILE, Profile, Tier

DATA = Path(__file__).resolve().parent.parent / "tests" / "routing_data"
COMMAND_PROFILE = {tier: TIER_DEFAULT_PROFILE[tier] for tier in Tier}  # /plan, /code, /quick
# Numbers of preference corrections after which the curve is measured (and at the end).
CHECKPOINTS = frozenset({1, 2, 3, 4, 5, 8, 12, 20})
STEP_S = 30.0  # seconds between messages: a correction follows its automatic decision within the window


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    text: str
    tier: Tier
    profile: Profile


@dataclass
class Result:
    curve: list[tuple[int, float, float]] = field(default_factory=list)  # (preference corrections, followed, others)
    others_before: float = 0.0
    moved_others: int = 0  # other messages whose tier learning changed
    moved_wrong: int = 0  # ... away from their label
    held_out: int = 0
    others: int = 0
    corrections: int = 0
    taught: int = 0  # corrections of preferred-mode messages


def load(sets: str) -> list[Item]:
    items = []
    for name, folder in labelled_sets(DATA).items():
        if name not in sets:
            continue
        for line in (folder / "messages.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                items.append(Item(f"{name}:{row['id']}", row["text"], Tier(row["tier"]), Profile(row["profile"])))
    return items


def _half(item_id: str) -> int:
    return int(hashlib.sha1(item_id.encode()).hexdigest(), 16) % 2


def route(known: Sequence[Correction], text: str) -> Classification:
    found = classify(text)
    return corrections.adjust(known, text, found) or found


def _bounded(known: list[Correction]) -> list[Correction]:
    """The newest MAX_PER_SCOPE of each kind, as the store keeps them."""
    kept = [k for k in known if k.kind == corrections.ACCEPTED][-MAX_PER_SCOPE:]
    fixed = [k for k in known if k.kind != corrections.ACCEPTED][-MAX_PER_SCOPE:]
    return sorted([*kept, *fixed], key=lambda k: k.at)


def _share(known: Sequence[Correction], items: Sequence[Item], wanted: dict[str, Tier]) -> float:
    if not items:
        return 0.0
    return sum(route(known, i.text).tier is wanted[i.id] for i in items) / len(items)


def simulate(items: Sequence[Item], preferred: Profile, tier: Tier, seed: int = 17) -> Result:
    """Run the correcting user over `items`; see the module docstring."""
    wanted = {i.id: (tier if i.profile is preferred else i.tier) for i in items}
    stream = [i for i in items if i.profile is not preferred or _half(i.id) == 0]
    held_out = [i for i in items if i.profile is preferred and _half(i.id) == 1]
    others = [i for i in items if i.profile is not preferred]
    random.Random(seed).shuffle(stream)
    known: list[Correction] = []
    result = Result(held_out=len(held_out), others=len(others))
    result.others_before = _share(known, others, wanted)
    result.curve.append((0, _share(known, held_out, wanted), result.others_before))
    now = 0.0
    taught = 0
    for item in stream:
        now += STEP_S
        found = route(known, item.text)
        auto = AutoTurn(item.text, found.profile, now)
        if found.tier is wanted[item.id]:
            if any(k.kind != corrections.ACCEPTED for k in known):  # as the plugin keeps it: evidence against moving
                known.append(corrections.accepted(auto))
                known = _bounded(known)
            continue
        target = COMMAND_PROFILE[wanted[item.id]]
        correction = corrections.detect(auto, item.text, "command", target, True, now + STEP_S)
        if correction is None:
            continue
        known = _bounded([*known, correction])
        if item.profile is preferred:  # the curve is drawn at the preference's corrections
            taught += 1
            if taught in CHECKPOINTS:
                result.curve.append((taught, _share(known, held_out, wanted), _share(known, others, wanted)))
    result.corrections = sum(k.kind != corrections.ACCEPTED for k in known)
    result.taught = taught
    result.curve.append((taught, _share(known, held_out, wanted), _share(known, others, wanted)))
    before = {i.id: classify(i.text).tier for i in others}
    after = {i.id: route(known, i.text).tier for i in others}
    moved = [i for i in others if before[i.id] is not after[i.id]]
    result.moved_others = len(moved)
    result.moved_wrong = sum(after[i.id] is not i.tier for i in moved)
    return result


def table(result: Result, preferred: Profile, tier: Tier) -> str:
    lines = [
        f"preference: every {preferred.value} message on the {tier.value} tier; "
        f"{result.held_out} held-out {preferred.value} messages, {result.others} other messages",
        f"{'corrections':>11}  {'held-out followed':>17}  {'others on their label':>21}",
    ]
    for count, followed, others in result.curve:
        lines.append(f"{count:>11}  {followed:>16.1%}  {others:>20.1%}")
    lines.append(
        f"corrections of {preferred.value} messages: {result.taught}, of others: {result.corrections - result.taught}; "
        f"other messages moved by learning: {result.moved_others} "
        f"({result.moved_wrong} away from their label); others before learning: {result.others_before:.1%}"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default="".join(labelled_sets(DATA)), help="labelled sets to use, e.g. AB")
    parser.add_argument("--preference", default="refactorer=reasoning", help="mode=tier the user always wants")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    mode, _, tier = args.preference.partition("=")
    result = simulate(load(args.sets), Profile(mode), Tier(tier), args.seed)
    print(table(result, Profile(mode), Tier(tier)))


if __name__ == "__main__":
    main()
