"""Train the classifier's weight table on the dev splits and write kimchi_plugin/data/classifier_weights.bin.

    python scripts/train_classifier.py [--cv [--grid R,W,C;R,W,C…]] [--sets A,B]
                                       [--word-sigma S] [--rule-sigma S] [--context-sigma S]
    python scripts/train_classifier.py --cross-author     # each author scored by a table trained without them

Multinomial logistic regression over the classifier's own features (rule features, words, word stems,
and the conversation stage's context features), fitted by MAP: a Gaussian prior centred on the hand-set
rule weights of scripts/classifier_prior.py (words centred on 0) keeps the rules as the starting belief and
lets the labelled dev data move them. Examples are the dev messages and every dev session turn that is not a
recognised short follow-up, each session turn carrying the context features of the turns before it (previous
label, tool activity), so that how far a weak message sticks to the previous tier is learnt too.

`--cv` runs a cross-validation inside dev over a grid of prior widths (the full 3×3×3 grid, or the settings
given by `--grid`), scoring held-out folds with the real routing walk; the folds are the authors when several
sets train (5 folds by id for one set); the temperature that calibrates the shipped
probabilities is fitted on the out-of-fold scores of the chosen widths. The test splits are never read.
Pure Python, deterministic: the same data gives the same file, which records a fingerprint of the data it was
trained on.
"""

from __future__ import annotations

import argparse
import hashlib
import math
from collections.abc import Iterable
from multiprocessing import Pool

from classifier_prior import RULE_WEIGHTS, evidence_features
from eval_routing import DATA, ROOT, SETS, Scores, labelled, load_set, score_messages, score_sessions, tools_of

from kimchi_plugin.routing.classifier import (
    PREV_PREFIX,
    Classification,
    WeightTable,
    extract_features,
    load_weights,
    probabilities,
)
from kimchi_plugin.routing.classifier import score as table_score
from kimchi_plugin.routing.classify.table import WEIGHTS_FILE, data_fingerprint, encode
from kimchi_plugin.routing.conversation import ConversationState, decide, followup_intent
from kimchi_plugin.routing.tiers import PROFILE_TIER, Profile, Tier

OUT = ROOT / "kimchi_plugin" / "data" / WEIGHTS_FILE
PROFILES = tuple(Profile)
MIN_WORD_COUNT = 2  # a word or stem seen in fewer training examples gets no weight
EPOCHS = 150
LEARNING_RATE = 0.1
FOLDS = 5
CV_RULE_SIGMAS = (0.5, 1.0, 2.0)
CV_WORD_SIGMAS = (0.5, 1.0, 2.0)
CV_CONTEXT_SIGMAS = (0.5, 1.0, 2.0)
DEFAULT_SIGMAS = (0.5, 1.0, 1.0)  # rule, word, context; chosen by --cv
TEMPERATURES = tuple(round(0.5 + 0.05 * i, 2) for i in range(51))  # 0.5 … 3.0
KEEP_WEIGHT = 0.01  # smaller weights are dropped from the shipped table
CONTEXT_PREFIXES = ("phase:", PREV_PREFIX)
# Sets whose sessions never train: set C's conversations stay a measure of an author the model has not seen.
MEASURE_ONLY_SESSIONS = frozenset({"C"})

Example = tuple[set[str], int]
Table = tuple[dict[str, dict[str, float]], list[float]]


def message_examples(items: Iterable[dict]) -> list[Example]:
    """A message alone, or after its labelled previous turn with that turn's context; a recognised
    short follow-up is resolved by rule, not by the table, so it is left out."""
    data = []
    for item in items:
        features = extract_features(item["text"])
        prev = item.get("prev")
        if prev:
            if followup_intent(item["text"]) is not None:
                continue
            state = ConversationState()
            state.note_decision(prev["text"], labelled(prev["profile"]))
            features |= state.context_features(features)
        data.append((features, PROFILES.index(Profile(item["profile"]))))
    return data


def session_examples(sessions: Iterable[dict]) -> list[Example]:
    """Every turn with the context of the labelled turns and tool calls before it (follow-ups left out)."""
    data = []
    for session in sessions:
        state = ConversationState()
        for turn in session["turns"]:
            text = turn["text"]
            if state.last_decision is None or followup_intent(text) is None:
                features = extract_features(text)
                features |= state.context_features(features)
                data.append((features, PROFILES.index(Profile(turn["profile"]))))
            state.note_decision(text, labelled(turn["profile"]))
            for tool, failed in tools_of(turn):
                state.note_tool(tool, failed)
    return data


def dev_items(sets: Iterable[str], by_author: bool = False) -> tuple[list[dict], list[dict]]:
    """Dev messages and sessions of the sets; `by_author` tags each with its set, which is then its fold."""
    tag = (lambda name: {"set": name}) if by_author else (lambda name: {})
    messages = [{**m, **tag(name)} for name in sets for m in load_set(name, "messages", "dev")]
    sessions = [
        {**s, **tag(name)}
        for name in sets
        if name not in MEASURE_ONLY_SESSIONS
        for s in load_set(name, "sessions", "dev")
    ]
    return messages, sessions


def examples(messages: list[dict], sessions: list[dict]) -> list[Example]:
    return message_examples(messages) + session_examples(sessions)


def _is_rule(feature: str) -> bool:
    return feature in RULE_WEIGHTS


def vocabulary(data: list[Example]) -> list[str]:
    counts: dict[str, int] = {}
    for features, _ in data:
        for f in features:
            counts[f] = counts.get(f, 0) + 1
    # Every rule feature stays in the table, at its prior when the data never shows it.
    words = (f for f, n in counts.items() if not _is_rule(f) and n >= MIN_WORD_COUNT)
    return sorted({*RULE_WEIGHTS, *words})


def _sigma(feature: str, sigmas: tuple[float, float, float]) -> float:
    rule_sigma, word_sigma, context_sigma = sigmas
    if feature.startswith(CONTEXT_PREFIXES):
        return context_sigma
    return rule_sigma if _is_rule(feature) else word_sigma


def train(data: list[Example], sigmas: tuple[float, float, float]) -> Table:
    """MAP logistic regression by full-batch gradient descent with Adam steps."""
    vocab = vocabulary(data)
    index = {f: i for i, f in enumerate(vocab)}
    k = len(PROFILES)
    prior = [[RULE_WEIGHTS.get(f, {}).get(p, 0.0) for p in PROFILES] for f in vocab]
    precision = [1.0 / _sigma(f, sigmas) ** 2 for f in vocab]
    w = [row[:] for row in prior]
    bias = [0.0] * k
    rows = [([index[f] for f in features if f in index], y) for features, y in data]
    n = len(rows)
    m = [[0.0] * k for _ in vocab]
    v = [[0.0] * k for _ in vocab]
    mb, vb = [0.0] * k, [0.0] * k
    b1, b2 = 0.9, 0.999
    for step in range(1, EPOCHS + 1):
        grad = [[(wc - pc) * prec for wc, pc in zip(wi, pi)] for wi, pi, prec in zip(w, prior, precision)]
        gb = [0.0] * k
        for idx, y in rows:
            s = [sum(col) for col in zip(bias, *(w[i] for i in idx))]
            peak = max(s)
            e = [math.exp(x - peak) for x in s]
            z = sum(e)
            g = [x / z for x in e]
            g[y] -= 1.0
            gb = [a + b for a, b in zip(gb, g)]
            for i in idx:
                grad[i] = [a + b for a, b in zip(grad[i], g)]
        lr = LEARNING_RATE / (1 - b1**step)
        c2 = 1 / (1 - b2**step)
        for i in range(len(vocab)):
            gi = [x / n for x in grad[i]]
            m[i] = [b1 * a + (1 - b1) * g for a, g in zip(m[i], gi)]
            v[i] = [b2 * a + (1 - b2) * g * g for a, g in zip(v[i], gi)]
            w[i] = [wc - lr * a / (math.sqrt(bb * c2) + 1e-8) for wc, a, bb in zip(w[i], m[i], v[i])]
        gbn = [x / n for x in gb]
        mb = [b1 * a + (1 - b1) * g for a, g in zip(mb, gbn)]
        vb = [b2 * a + (1 - b2) * g * g for a, g in zip(vb, gbn)]
        bias = [bc - lr * a / (math.sqrt(bb * c2) + 1e-8) for bc, a, bb in zip(bias, mb, vb)]
    weights = {
        f: {p.value: round(w[i][c], 3) for c, p in enumerate(PROFILES) if abs(w[i][c]) >= KEEP_WEIGHT}
        for f, i in index.items()
    }
    return {f: ws for f, ws in weights.items() if ws}, bias


def weight_table(table: Table, temperature: float = 1.0) -> WeightTable:
    """The table as the classifier reads it; the prior says which features are evidence."""
    weights, bias = table
    rows = {f: tuple(ws.get(p.value, 0.0) for p in PROFILES) for f, ws in weights.items()}
    return WeightTable(rows, tuple(bias), temperature, evidence_features())


def route_scores(table: Table, messages: list[dict], sessions: list[dict], temperature: float = 1.0) -> Scores:
    """The real routing (conversation stage included) over messages and session walks, with this table."""
    candidate = weight_table(table, temperature)

    def decide_with(text: str, state: ConversationState) -> Classification:
        return decide(text, state, candidate)

    scores = score_messages(messages, decide_with)
    scores.merge(score_sessions(sessions, decide_with))
    return scores


def fold_of(item: dict) -> int:
    """The fold of a message or session: its set when the folds are the authors, else a hash
    of its id."""
    if item.get("set") is not None:
        return list(SETS).index(item["set"])
    return int(hashlib.sha1(f"fold:{item['id']}".encode()).hexdigest(), 16) % FOLDS


def _fold_task(task: tuple[tuple[float, float, float], int, list[dict], list[dict]]) -> Table:
    sigmas, fold, messages, sessions = task
    train_m = [m for m in messages if fold_of(m) != fold]
    train_s = [s for s in sessions if fold_of(s) != fold]
    return train(examples(train_m, train_s), sigmas)


def cross_validate(
    grid: list[tuple[float, float, float]], messages: list[dict], sessions: list[dict], folds: int
) -> dict[tuple[float, float, float], list[Table]]:
    """Fold tables for every setting of the grid (two worker processes)."""
    tasks = [(sigmas, fold, messages, sessions) for sigmas in grid for fold in range(folds)]
    with Pool(2) as pool:
        tables = pool.map(_fold_task, tasks)
    return {sigmas: tables[i * folds : (i + 1) * folds] for i, sigmas in enumerate(grid)}


def held_out_scores(
    tables: list[Table], messages: list[dict], sessions: list[dict], temperature: float = 1.0
) -> Scores:
    total = Scores()
    for fold, table in enumerate(tables):
        total.merge(
            route_scores(
                table,
                [m for m in messages if fold_of(m) == fold],
                [s for s in sessions if fold_of(s) == fold],
                temperature,
            )
        )
    return total


def fit_temperature(tables: list[Table], messages: list[dict], sessions: list[dict]) -> float:
    """The temperature that minimises the tier log-loss of the out-of-fold examples."""
    raw: list[tuple[list[float], Tier]] = []
    for fold, table in enumerate(tables):
        held = examples([m for m in messages if fold_of(m) == fold], [s for s in sessions if fold_of(s) == fold])
        candidate = weight_table(table)
        raw.extend((table_score(features, candidate), PROFILE_TIER[PROFILES[y]]) for features, y in held)

    def loss(t: float) -> float:
        total = 0.0
        for scores, tier in raw:
            probs = probabilities([s / t for s in scores])
            total -= math.log(max(1e-12, sum(p for p, q in zip(probs, PROFILES) if PROFILE_TIER[q] is tier)))
        return total

    return min(TEMPERATURES, key=loss)


def _line(label: str, s: Scores) -> str:
    d = s.as_dict()
    return (
        f"{label}: tier {d['tier_accuracy']:.1%}  profile {d['profile_accuracy']:.1%}  "
        f"reasoning→lower {d['reasoning_routed_lower']:.1%}  cost {d['cost']:.3f}  (n={d['n']})"
    )


def write_model(table: Table, sigmas: tuple[float, float, float], temperature: float) -> None:
    weights, bias = table
    header = {
        "about": (
            "Feature weights per profile for kimchi_plugin.routing.classifier; made by scripts/train_classifier.py"
        ),
        "rule_sigma": sigmas[0],
        "word_sigma": sigmas[1],
        "context_sigma": sigmas[2],
        "data_fingerprint": data_fingerprint(DATA),
    }
    OUT.write_bytes(encode(weight_table((weights, [round(b, 3) for b in bias]), temperature), header))
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size // 1024} KiB, {len(weights)} features)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cv", action="store_true", help="cross-validate the prior widths, fit the temperature")
    parser.add_argument(
        "--grid", default=None, help="with --cv: the settings to try, as rule,word,context;… (default: 3x3x3)"
    )
    parser.add_argument(
        "--cross-author", action="store_true", help="score each set with a table trained without it (no write)"
    )
    parser.add_argument("--sets", default=",".join(SETS), help="labelled sets whose dev splits train the table")
    parser.add_argument("--rule-sigma", type=float, default=DEFAULT_SIGMAS[0])
    parser.add_argument("--word-sigma", type=float, default=DEFAULT_SIGMAS[1])
    parser.add_argument("--context-sigma", type=float, default=DEFAULT_SIGMAS[2])
    parser.add_argument("--temperature", type=float, default=None, help="default: the shipped table's")
    args = parser.parse_args(argv)
    sigmas = (args.rule_sigma, args.word_sigma, args.context_sigma)
    temperature = args.temperature if args.temperature is not None else load_weights().temperature

    if args.cross_author:
        # Leave one author out: how the router does on a writer it has never seen, as a new user would be.
        # The author folds of the cross-validation: fold k is trained on every set but the k-th.
        tables = cross_validate([sigmas], *dev_items(list(SETS), by_author=True), len(SETS))[sigmas]
        unseen = Scores()
        for held, table in zip(SETS, tables):
            scores = route_scores(
                table, load_set(held, "messages", "all"), load_set(held, "sessions", "all"), temperature
            )
            print(_line(f"set {held}, trained without it", scores), flush=True)
            unseen.merge(scores)
        print(_line("every set, each unseen", unseen))
        return 0

    sets = args.sets.split(",")
    messages, sessions = dev_items(sets)
    if args.cv:
        # Folds are the authors when there are several sets: the widths that carry what one author's
        # messages teach over to another author's are the ones a new user's messages need.
        by_author = len(sets) > 1
        cv_m, cv_s = dev_items(sets, by_author)
        folds = len(sets) if by_author else FOLDS
        print(f"cross-validation: {folds} folds ({'one per set' if by_author else 'by id'})", flush=True)
        grid = (
            [tuple(float(x) for x in setting.split(",")) for setting in args.grid.split(";")]
            if args.grid
            else [(r, w, c) for r in CV_RULE_SIGMAS for w in CV_WORD_SIGMAS for c in CV_CONTEXT_SIGMAS]
        )
        results = cross_validate(grid, cv_m, cv_s, folds)
        held = {setting: held_out_scores(tables, cv_m, cv_s) for setting, tables in results.items()}
        for setting, scores in held.items():
            print(_line(f"rule={setting[0]} word={setting[1]} context={setting[2]}", scores))
        sigmas = min(held, key=lambda setting: held[setting].cost)
        temperature = fit_temperature(results[sigmas], cv_m, cv_s)
        print(f"chosen: rule={sigmas[0]} word={sigmas[1]} context={sigmas[2]}, temperature {temperature}")
        print(_line("held out with that temperature", held_out_scores(results[sigmas], cv_m, cv_s, temperature)))
    data = examples(messages, sessions)
    print(f"training examples: {len(data)} ({len(messages)} dev messages, {len(sessions)} dev sessions)")
    table = train(data, sigmas)
    print(_line("train (routing walk)", route_scores(table, messages, sessions, temperature)))
    write_model(table, sigmas, temperature)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
