"""Proof that a change to the classifier left it unchanged: the package at a git revision and the working tree,
compared on every text of the routing data: the features, and the decisions both make with their shipped weight
tables (alone and with conversation context).

    python scripts/compare_features.py [--base REV]   # default REV: HEAD (the last commit)

The revision's `kimchi_plugin` is unpacked from git into a temporary folder and run in a child process, so the two
never share a module. Texts: every "text" field under tests/routing_data/ (messages, their `prev` turns, session
turns, the real corpus, any other corpus there), each also upper-cased and with typographic quotes and a control
character (to reach the non-ASCII paths), and long messages made by joining consecutive texts up to 2, 5 and 20 KB
(they reach the bounded head-and-tail reading and the long-prose paths). Exit status 1 and the first differences when
any text's features or decisions differ; with `--joins-may-differ` (a change of how much of a long message is read),
only when a labelled text or its variants differ (the joins' differences are still counted).

    python scripts/compare_features.py --base REV --joins-may-differ
"""

from __future__ import annotations

import argparse
import io
import json
import pickle
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "routing_data"
PACKAGE = "kimchi_plugin"
LONG_SIZES = (2_000, 5_000, 20_000)
SHOWN_DIFFERENCES = 5
# Both sides iterate feature sets in the same order: the scorer sums floats in set order, so with different string
# hashes a near-tie can round the other way (that happens between any two processes, changed code or not).
HASH_SEED = "0"

# Conversation context a decision may add.
CONTEXTS = (["prev:debugger"], ["prev:coder", "prev:coding+order", "phase:failing", "phase:editing"])

# Run in the child (and in this process for the working tree): texts on stdin (JSON), for each text its sorted
# features and the decisions alone and in each context, pickled to stdout.
REPORT = """
import json, pickle, sys
from kimchi_plugin.routing.classifier import classify, decide_in_context, extract_features

def fields(decision):
    return (decision.profile.value, decision.confidence, decision.signals, decision.source)

rows = []
for text in json.load(sys.stdin):
    features = extract_features(text)
    decisions = [fields(classify(text))]
    for context in json.loads(sys.argv[1]):
        found, alone = decide_in_context(features, set(context))
        decisions.append((fields(found), alone.value))
    rows.append((sorted(features), decisions))
sys.stdout.buffer.write(pickle.dumps(rows))
"""


def _strings(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                yield value
            else:
                yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def labelled_texts() -> list[str]:
    """Every text of the routing data, in file order."""
    texts: list[str] = []
    for path in sorted(DATA.rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.extend(_strings(json.loads(line)))
    return texts


def joined(texts: list[str], size: int) -> Iterator[str]:
    """Consecutive texts joined until each message reaches `size` characters."""
    parts: list[str] = []
    length = 0
    for text in texts:
        parts.append(text)
        length += len(text) + 2
        if length >= size:
            yield "\n\n".join(parts)
            parts, length = [], 0


def cases(texts: list[str]) -> tuple[list[str], list[str]]:
    """The texts with their variants, and the long joins."""
    variants = [
        *(t.upper() for t in texts),
        *(t.replace("'", "\u2019").replace('"', "\u201c") for t in texts if "'" in t or '"' in t),
        *(t.replace(" ", "\x1f", 1) for t in texts),
    ]
    return [*texts, *variants], [m for size in LONG_SIZES for m in joined(texts, size)]


def report(root: Path, texts: list[str]) -> list[Any]:
    """The features and decisions of the package under `root` for each text."""
    done = subprocess.run(
        [sys.executable, "-c", REPORT, json.dumps(CONTEXTS)],
        input=json.dumps(texts).encode(),
        capture_output=True,
        cwd=root,
        env={"PYTHONPATH": str(root), "PYTHONHASHSEED": HASH_SEED},
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the classifier under {root} failed:\n{done.stderr.decode(errors='replace')}")
    rows: list[Any] = pickle.loads(done.stdout)
    return rows


def unpack(rev: str, into: Path) -> None:
    """The package as committed at `rev`, written under `into`."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, PACKAGE], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extraction_filter = getattr(tarfile, "data_filter", None)  # where this Python has one (3.10.12+, 3.11.4+)
        tar.extractall(into)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD", help="git revision of the reference classifier")
    parser.add_argument("--joins-may-differ", action="store_true", help="fail on labelled texts and variants only")
    args = parser.parse_args(argv)
    texts = labelled_texts()
    labelled, joins = cases(texts)
    messages = [*labelled, *joins]
    with tempfile.TemporaryDirectory(prefix="kimchi-base-") as folder:
        unpack(args.base, Path(folder))
        before = report(Path(folder), messages)
    after = report(ROOT, messages)
    differing = [0, 0]
    decided_otherwise = [0, 0]
    for i, (text, (was, decided_was), (now, decided_now)) in enumerate(zip(messages, before, after)):
        kind = int(i >= len(labelled))
        if was != now:
            differing[kind] += 1
            if sum(differing) <= SHOWN_DIFFERENCES:
                print(f"differs: {text[:80]!r}\n  only before: {sorted(set(was) - set(now))[:10]}")
                print(f"  only after: {sorted(set(now) - set(was))[:10]}")
        if decided_was != decided_now:
            decided_otherwise[kind] += 1
            if sum(decided_otherwise) <= SHOWN_DIFFERENCES:
                first = next(pair for pair in zip(decided_was, decided_now) if pair[0] != pair[1])
                print(f"decided otherwise: {text[:80]!r}: {first}")
    print(
        f"{len(labelled)} texts ({len(texts)} labelled texts and their variants) against {args.base}: features differ "
        f"on {differing[0]}, decisions (alone and in {len(CONTEXTS)} contexts) on {decided_otherwise[0]}; "
        f"{len(joins)} long joins: features differ on {differing[1]}, decisions on {decided_otherwise[1]}"
    )
    failed = differing[0] + decided_otherwise[0] + (0 if args.joins_may_differ else differing[1] + decided_otherwise[1])
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
