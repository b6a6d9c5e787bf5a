"""How far independent annotators agree with the labelled sets: tier and profile agreement on a blind sample.

    python scripts/label_agreement.py

tests/routing_data/agreement/annotator_*.jsonl hold labels given blind (text, `prev` and tools shown, labels
hidden) to a sample of dev messages (`{"id", "profile"}`) and session turns (id `<session>#<turn>`). Agreement
bounds what a router can be expected to reach: where people disagree, no router is simply right.
"""

from __future__ import annotations

import json
from itertools import combinations

from eval_routing import DATA, SETS, load_set

from kimchi_plugin.routing.tiers import PROFILE_TIER, Profile

AGREEMENT = DATA / "agreement"


def set_labels() -> dict[str, tuple[str, str]]:
    """Every labelled item by id: ("message" | "turn", profile)."""
    labels = {}
    for name in SETS:
        for message in load_set(name, "messages", "all"):
            labels[message["id"]] = ("message", message["profile"])
        for session in load_set(name, "sessions", "all"):
            for n, turn in enumerate(session["turns"]):
                labels[f"{session['id']}#{n}"] = ("turn", turn["profile"])
    return labels


def _tier(profile: str) -> str:
    return PROFILE_TIER[Profile(profile)].value


def _agreement(a: dict[str, str], b: dict[str, str], ids: list[str]) -> str:
    tier = sum(_tier(a[i]) == _tier(b[i]) for i in ids) / len(ids)
    profile = sum(a[i] == b[i] for i in ids) / len(ids)
    return f"tier {tier:.1%}  profile {profile:.1%}  (n={len(ids)})"


def main() -> int:
    labels = set_labels()
    gold = {i: profile for i, (_, profile) in labels.items()}
    annotators = {
        path.stem: {d["id"]: d["profile"] for d in map(json.loads, path.read_text().splitlines()) if d}
        for path in sorted(AGREEMENT.glob("annotator_*.jsonl"))
    }
    for kind in ("message", "turn"):
        for name, given in annotators.items():
            ids = [i for i in given if labels[i][0] == kind]
            print(f"{kind}s, {name} vs the set's label: {_agreement(given, gold, ids)}")
        for (n1, a1), (n2, a2) in combinations(annotators.items(), 2):
            ids = [i for i in a1 if i in a2 and labels[i][0] == kind]
            print(f"{kind}s, {n1} vs {n2}: {_agreement(a1, a2, ids)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
