"""Train the classifier's weight table on the dev splits and write kimchi_plugin/data/classifier_weights.bin.

    python scripts/train_classifier.py [--cv [--grid R,W,C;R,W,C…]] [--sets A,B]
                                       [--word-sigma S] [--rule-sigma S] [--context-sigma S]
    python scripts/train_classifier.py --cross-author     # each author scored by a table trained without them

Needs tests/routing_data/real/corpus.jsonl (scripts/real_corpus/build.py makes it).

Multinomial logistic regression over the classifier's own features (rule features, words, word stems,
and the conversation stage's context features), fitted by MAP: a Gaussian prior centred on the hand-set
rule weights of scripts/classifier_prior.py (words centred on 0) keeps the rules as the starting belief and
lets the labelled dev data move them. Examples are the dev messages and every dev session turn that is not a
recognised short follow-up, each session turn carrying the context features of the turns before it (previous
label, tool activity), so that how far a weak message sticks to the previous tier is learnt too. The labelled turns of
the real corpus's dev split (real users' words, tests/routing_data/real/) train beside them, each counting REAL_WEIGHT.

`--cv` runs a cross-validation inside dev over a grid of prior widths (the full 3×3×3 grid, or the settings
given by `--grid`), scoring held-out folds with the real routing walk; a fold holds whole authors of the written
sets and whole repositories of the real corpus, so a held-out fold is people the table has not seen. The widths with
the lowest cost over both are chosen, and the temperature that calibrates the shipped probabilities is fitted on the
out-of-fold real turns (confidence has to mean what it says for real users), as far as the written sets' held-out
routing loses nothing by it. The test splits are never read.
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
from eval_routing import (
    DATA,
    REASONING_LOWER_COST,
    ROOT,
    SETS,
    Scores,
    labelled,
    load_set,
    score_messages,
    score_sessions,
    tools_of,
)
from real_corpus.evaluate import Tally, with_table
from real_corpus.evaluate import evaluate as evaluate_real
from real_corpus.evaluate import sessions as real_sessions

from kimchi_plugin.routing.classifier import (
    PREV_PREFIX,
    WeightTable,
    extract_features,
    load_weights,
    probabilities,
)
from kimchi_plugin.routing.classifier import score as table_score
from kimchi_plugin.routing.classify.table import WEIGHTS_FILE, data_fingerprint, encode
from kimchi_plugin.routing.conversation import ConversationState, followup_intent
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
# How much a labelled real turn counts against a written one: chosen by the grouped cross-validation (1, 2, 3, 6,
# 10 tried: 2 does best on held-out real repositories without costing the written sets).
REAL_WEIGHT = 2.0

Example = tuple[set[str], int, float]
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
        data.append((features, PROFILES.index(Profile(item["profile"])), 1.0))
    return data


def session_examples(sessions: Iterable[dict], weight: float = 1.0) -> list[Example]:
    """Every labelled turn with the context of the labelled turns and tool calls before it (follow-ups left out).
    A real session's turn without a consensus label (`"tier": null`) trains nothing and leaves the previous label
    as the context; its tool calls still count."""
    data = []
    for session in sessions:
        state = ConversationState()
        for turn in session["turns"]:
            text = turn["text"]
            profile = turn.get("profile")
            if profile is not None:
                if state.last_decision is None or followup_intent(text) is None:
                    features = extract_features(text)
                    features |= state.context_features(features)
                    data.append((features, PROFILES.index(Profile(profile)), weight))
                state.note_decision(text, labelled(profile))
            for tool, failed in tools_of(turn):
                state.note_tool(tool, failed)
    return data


Items = tuple[list[dict], list[dict], list[dict]]  # written messages, written sessions, real sessions


def dev_items(sets: Iterable[str], by_author: bool = False) -> Items:
    """Dev messages and sessions of the sets and the real corpus's dev sessions; `by_author` tags each written item
    with its set, whose author is then its fold (a real session's fold is its repository's)."""
    tag = (lambda name: {"set": name}) if by_author else (lambda name: {})
    messages = [{**m, **tag(name)} for name in sets for m in load_set(name, "messages", "dev")]
    sessions = [
        {**s, **tag(name)}
        for name in sets
        if name not in MEASURE_ONLY_SESSIONS
        for s in load_set(name, "sessions", "dev")
    ]
    return messages, sessions, real_sessions("dev")


def examples(items: Items) -> list[Example]:
    messages, sessions, real = items
    return message_examples(messages) + session_examples(sessions) + session_examples(real, REAL_WEIGHT)


def _is_rule(feature: str) -> bool:
    return feature in RULE_WEIGHTS


def vocabulary(data: list[Example]) -> list[str]:
    counts: dict[str, int] = {}
    for features, _, _ in data:
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
    """MAP logistic regression by full-batch gradient descent with Adam steps; each example's log-loss counts its
    weight."""
    vocab = vocabulary(data)
    index = {f: i for i, f in enumerate(vocab)}
    k = len(PROFILES)
    prior = [[RULE_WEIGHTS.get(f, {}).get(p, 0.0) for p in PROFILES] for f in vocab]
    precision = [1.0 / _sigma(f, sigmas) ** 2 for f in vocab]
    w = [row[:] for row in prior]
    bias = [0.0] * k
    rows = [([index[f] for f in features if f in index], y, weight) for features, y, weight in data]
    n = sum(weight for _, _, weight in rows)
    m = [[0.0] * k for _ in vocab]
    v = [[0.0] * k for _ in vocab]
    mb, vb = [0.0] * k, [0.0] * k
    b1, b2 = 0.9, 0.999
    for step in range(1, EPOCHS + 1):
        grad = [[(wc - pc) * prec for wc, pc in zip(wi, pi)] for wi, pi, prec in zip(w, prior, precision)]
        gb = [0.0] * k
        for idx, y, weight in rows:
            s = [sum(col) for col in zip(bias, *(w[i] for i in idx))]
            peak = max(s)
            e = [math.exp(x - peak) for x in s]
            z = weight / sum(e)
            g = [x * z for x in e]
            g[y] -= weight
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
    decide_with = with_table(weight_table(table, temperature))
    scores = score_messages(messages, decide_with)
    scores.merge(score_sessions(sessions, decide_with))
    return scores


def real_scores(table: Table, real: list[dict], temperature: float = 1.0) -> dict[str, Tally]:
    """The real corpus's report rows (messages, session turns, by language) for these sessions, with this table."""
    return evaluate_real(real, with_table(weight_table(table, temperature)))[0]


def fold_of(item: dict, folds: int) -> int:
    """The fold of a message or session: its author's set when the folds are the authors, a real session's
    repository, else a hash of its id."""
    if item.get("set") is not None:
        return list(SETS).index(item["set"]) % folds
    key = item["repo"].lower() if "repo" in item else item["id"]
    return int(hashlib.sha1(f"fold:{key}".encode()).hexdigest(), 16) % folds


def held_out(items: Items, fold: int, folds: int, keep: bool) -> Items:
    """The items of a fold (`keep`), or every item but those."""
    messages, sessions, real = ([x for x in part if (fold_of(x, folds) == fold) is keep] for part in items)
    return messages, sessions, real


def _fold_task(task: tuple[tuple[float, float, float], int, Items, int]) -> Table:
    sigmas, fold, items, folds = task
    return train(examples(held_out(items, fold, folds, keep=False)), sigmas)


def cross_validate(
    grid: list[tuple[float, float, float]], items: Items, folds: int
) -> dict[tuple[float, float, float], list[Table]]:
    """Fold tables for every setting of the grid (two worker processes)."""
    tasks = [(sigmas, fold, items, folds) for sigmas in grid for fold in range(folds)]
    with Pool(2) as pool:
        tables = pool.map(_fold_task, tasks)
    return {sigmas: tables[i * folds : (i + 1) * folds] for i, sigmas in enumerate(grid)}


def held_out_scores(tables: list[Table], items: Items, temperature: float = 1.0) -> tuple[Scores, Tally]:
    """Every fold scored by the table trained without it: the written sets, and the real corpus's messages."""
    total, real = Scores(), Tally()
    for fold, table in enumerate(tables):
        messages, sessions, real_fold = held_out(items, fold, len(tables), keep=True)
        total.merge(route_scores(table, messages, sessions, temperature))
        real.merge(real_scores(table, real_fold, temperature)["messages"])
    return total, real


def fit_temperature(tables: list[Table], items: Items) -> float:
    """The temperature that minimises the tier log-loss of the out-of-fold real turns (written turns are near
    separable and alone would leave real users' confidence too high), lowered until the written sets' held-out folds
    are routed as accurately as without calibration: the temperature also sways near ties through the Reasoning
    weighting."""
    raw: list[tuple[list[float], Tier]] = []
    for fold, table in enumerate(tables):
        held = session_examples(held_out(items, fold, len(tables), keep=True)[2])
        candidate = weight_table(table)
        raw.extend((table_score(features, candidate), PROFILE_TIER[PROFILES[y]]) for features, y, _ in held)

    def loss(t: float) -> float:
        total = 0.0
        for scores, tier in raw:
            probs = probabilities([s / t for s in scores])
            total -= math.log(max(1e-12, sum(p for p, q in zip(probs, PROFILES) if PROFILE_TIER[q] is tier)))
        return total

    def written_accuracy(t: float) -> float:
        return held_out_scores(tables, items, t)[0].as_dict()["tier_accuracy"]

    best = min(TEMPERATURES, key=loss)
    uncalibrated = written_accuracy(1.0)
    for t in sorted((t for t in TEMPERATURES if 1.0 < t <= best), reverse=True):
        if written_accuracy(t) >= uncalibrated:
            return t
    return min(best, 1.0)


def _line(label: str, s: Scores) -> str:
    d = s.as_dict()
    return (
        f"{label}: tier {d['tier_accuracy']:.1%}  profile {d['profile_accuracy']:.1%}  "
        f"reasoning→lower {d['reasoning_routed_lower']:.1%}  cost {d['cost']:.3f}  (n={d['n']})"
    )


def _real_line(label: str, tally: Tally) -> str:
    r = tally.row()
    return (
        f"{label}: tier {r['tier_accuracy']:.1%}  profile {r['profile_accuracy']:.1%}  "
        f"reasoning→lower {r['reasoning_sent_lower']:.1%}  conf≥0.8 wrong {r['wrong_with_confidence_ge_0.8']:.1%}  "
        f"ECE {r['ece']:.3f}  cost {tally.cost(REASONING_LOWER_COST):.3f}  (n={r['n']})"
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
        tables = cross_validate([sigmas], dev_items(list(SETS), by_author=True), len(SETS))[sigmas]
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
    items = dev_items(sets)
    if args.cv:
        # A fold holds whole authors and whole repositories: the widths that carry what one person's messages
        # teach over to another's are the ones a new user's messages need.
        cv_items = dev_items(sets, by_author=len(sets) > 1)
        print(f"cross-validation: {FOLDS} folds (authors and repositories)", flush=True)
        grid = (
            [tuple(float(x) for x in setting.split(",")) for setting in args.grid.split(";")]
            if args.grid
            else [(r, w, c) for r in CV_RULE_SIGMAS for w in CV_WORD_SIGMAS for c in CV_CONTEXT_SIGMAS]
        )
        results = cross_validate(grid, cv_items, FOLDS)
        held = {setting: held_out_scores(tables, cv_items) for setting, tables in results.items()}
        for setting, (written, real) in held.items():
            name = f"rule={setting[0]} word={setting[1]} context={setting[2]}"
            print(_line(f"{name} written", written))
            print(_real_line(f"{name} real", real))
        sigmas = min(held, key=lambda k: held[k][0].cost + held[k][1].cost(REASONING_LOWER_COST))
        temperature = fit_temperature(results[sigmas], cv_items)
        print(f"chosen: rule={sigmas[0]} word={sigmas[1]} context={sigmas[2]}, temperature {temperature}")
        written, real = held_out_scores(results[sigmas], cv_items, temperature)
        print(_line("held out with that temperature, written", written))
        print(_real_line("held out with that temperature, real", real))
    data = examples(items)
    messages, sessions, real_dev = items
    print(
        f"training examples: {len(data)} ({len(messages)} dev messages, {len(sessions)} dev sessions, "
        f"{len(real_dev)} real dev sessions)"
    )
    table = train(data, sigmas)
    print(_line("train (routing walk)", route_scores(table, messages, sessions, temperature)))
    print(_real_line("train (real dev messages)", real_scores(table, real_dev, temperature)["messages"]))
    write_model(table, sigmas, temperature)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
