"""Train the classifier's weight table on the dev split and write kimchi_plugin/data/classifier_model.json.

    python scripts/train_classifier.py [--cv] [--word-sigma S] [--rule-sigma S]

Multinomial logistic regression over the classifier's own features (rule features and words), fitted by
MAP: a Gaussian prior centred on the hand-set rule weights (words centred on 0) keeps the rules as the
starting belief and lets the labelled dev data move them. Pure Python, deterministic. `--cv` runs a
5-fold cross-validation inside dev to pick the prior widths; the test split is never read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval_routing import DATA, load  # noqa: E402

from kimchi_plugin.brain import classifier  # noqa: E402
from kimchi_plugin.brain.tiers import PROFILE_TIER, Profile  # noqa: E402

OUT = ROOT / "kimchi_plugin" / "data" / classifier.MODEL_FILE
PROFILES = tuple(Profile)
MIN_WORD_COUNT = 2
SELF_CONTAINED_WORDS = 8  # a session turn this long is read as a message in its own right  # a word seen in fewer dev messages gets no weight
EPOCHS = 400
LEARNING_RATE = 0.5
FOLDS = 5
CV_RULE_SIGMAS = (0.5, 1.0, 2.0)
CV_WORD_SIGMAS = (0.25, 0.5, 1.0)
KEEP_WEIGHT = 0.01  # smaller weights are dropped from the shipped table


def examples(split: str = "dev") -> list[tuple[set[str], int]]:
    """(features, profile index) for single messages, plus session turns long enough to stand on their
    own; follow-ups need their context, so they are left out."""
    items = [item for item in load(DATA / "messages.jsonl", split) if not item.get("prev")]
    for session in load(DATA / "sessions.jsonl", split):
        items.extend(turn for turn in session["turns"] if len(turn["text"].split()) >= SELF_CONTAINED_WORDS)
    return [(classifier.extract_features(item["text"]), PROFILES.index(Profile(item["profile"]))) for item in items]


def vocabulary(data: list[tuple[set[str], int]]) -> list[str]:
    counts: dict[str, int] = {}
    for features, _ in data:
        for f in features:
            counts[f] = counts.get(f, 0) + 1
    # Every rule feature stays in the table, at its prior when the data never shows it (e.g. phase:*).
    words = (f for f, n in counts.items() if f not in classifier._RULE_WEIGHTS and n >= MIN_WORD_COUNT)
    return sorted({*classifier._RULE_WEIGHTS, *words})


def train(data: list[tuple[set[str], int]], word_sigma: float, rule_sigma: float) -> tuple[dict, list[float]]:
    """MAP logistic regression by full-batch gradient descent with Adam steps."""
    vocab = vocabulary(data)
    index = {f: i for i, f in enumerate(vocab)}
    k = len(PROFILES)
    prior = [[classifier._RULE_WEIGHTS.get(f, {}).get(p, 0.0) for p in PROFILES] for f in vocab]
    precision = [1.0 / (rule_sigma**2 if f in classifier._RULE_WEIGHTS else word_sigma**2) for f in vocab]
    w = [row[:] for row in prior]
    bias = [0.0] * k
    rows = [([index[f] for f in features if f in index], y) for features, y in data]
    m = [[0.0] * k for _ in vocab]
    v = [[0.0] * k for _ in vocab]
    mb, vb = [0.0] * k, [0.0] * k
    n = len(rows)
    for step in range(1, EPOCHS + 1):
        grad = [[(w[i][c] - prior[i][c]) * precision[i] for c in range(k)] for i in range(len(vocab))]
        gb = [0.0] * k
        for idx, y in rows:
            s = bias[:]
            for i in idx:
                wi = w[i]
                for c in range(k):
                    s[c] += wi[c]
            peak = max(s)
            e = [math.exp(x - peak) for x in s]
            z = sum(e)
            for c in range(k):
                g = e[c] / z - (c == y)
                gb[c] += g
                for i in idx:
                    grad[i][c] += g
        for i in range(len(vocab)):
            for c in range(k):
                g = grad[i][c] / n
                m[i][c] = 0.9 * m[i][c] + 0.1 * g
                v[i][c] = 0.999 * v[i][c] + 0.001 * g * g
                w[i][c] -= LEARNING_RATE * 0.1 * (m[i][c] / (1 - 0.9**step)) / (
                    math.sqrt(v[i][c] / (1 - 0.999**step)) + 1e-8
                )
        for c in range(k):
            g = gb[c] / n
            mb[c] = 0.9 * mb[c] + 0.1 * g
            vb[c] = 0.999 * vb[c] + 0.001 * g * g
            bias[c] -= LEARNING_RATE * 0.1 * (mb[c] / (1 - 0.9**step)) / (math.sqrt(vb[c] / (1 - 0.999**step)) + 1e-8)
    weights = {
        _stored_name(f): {p.value: round(w[i][c], 3) for c, p in enumerate(PROFILES) if abs(w[i][c]) >= KEEP_WEIGHT}
        for f, i in index.items()
    }
    return {f: ws for f, ws in weights.items() if ws}, bias


def _stored_name(feature: str) -> str:
    """Words are stored as "w:word" so that the table reads as what each weight stands for."""
    return feature if feature in classifier._RULE_WEIGHTS else classifier.WORD_PREFIX + feature


def tier_accuracy(weights: dict, bias: list[float], data: list[tuple[set[str], int]]) -> float:
    """Accuracy of the same decision rule the classifier applies, with these weights."""
    table = {f.removeprefix(classifier.WORD_PREFIX): tuple(ws.get(p.value, 0.0) for p in PROFILES)
             for f, ws in weights.items()}
    saved = classifier.set_weights(table, tuple(bias))
    try:
        ok = sum(PROFILE_TIER[classifier.decide_features(set(f)).profile] is PROFILE_TIER[PROFILES[y]] for f, y in data)
    finally:
        classifier.set_weights(*saved)
    return ok / max(len(data), 1)


def fold_of(features_and_label: tuple[set[str], int], position: int) -> int:
    return int(hashlib.sha1(str(position).encode()).hexdigest(), 16) % FOLDS


def cross_validate(data: list[tuple[set[str], int]], word_sigma: float, rule_sigma: float) -> float:
    folds = [fold_of(d, i) for i, d in enumerate(data)]
    total = 0.0
    for k in range(FOLDS):
        train_part = [d for d, f in zip(data, folds) if f != k]
        held = [d for d, f in zip(data, folds) if f == k]
        weights, bias = train(train_part, word_sigma, rule_sigma)
        total += tier_accuracy(weights, bias, held) * len(held)
    return total / len(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cv", action="store_true", help="5-fold cross-validation over a grid of prior widths")
    parser.add_argument("--word-sigma", type=float, default=0.5)
    parser.add_argument("--rule-sigma", type=float, default=1.0)
    args = parser.parse_args(argv)
    data = examples("dev")
    print(f"dev training messages: {len(data)}")
    if args.cv:
        for rule_sigma in CV_RULE_SIGMAS:
            for word_sigma in CV_WORD_SIGMAS:
                acc = cross_validate(data, word_sigma, rule_sigma)
                print(f"rule_sigma={rule_sigma} word_sigma={word_sigma}: cv tier accuracy {acc:.1%}")
        return 0
    weights, bias = train(data, args.word_sigma, args.rule_sigma)
    print(f"train tier accuracy {tier_accuracy(weights, bias, data):.1%}, {len(weights)} features kept")
    model = {
        "about": "Feature weights per profile for kimchi_plugin.brain.classifier; made by scripts/train_classifier.py",
        "word_sigma": args.word_sigma,
        "rule_sigma": args.rule_sigma,
        "bias": {p.value: round(b, 3) for p, b in zip(PROFILES, bias)},
        "weights": dict(sorted(weights.items())),
    }
    OUT.write_text(json.dumps(model, ensure_ascii=False, indent=0, sort_keys=False) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
