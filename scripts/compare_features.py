"""Proof that a change to the classifier left it unchanged: the classifier of a git revision and the current one,
compared on every text of the routing data: the features, and the decisions both make with the shipped weight table
(alone and with conversation context).

    python scripts/compare_features.py [--base REV]   # default REV: the classifier as one module, before the split

Texts: every "text" field under tests/routing_data/ (messages, their `prev` turns, session turns, any other corpus
there), each also upper-cased, and long messages made by joining consecutive texts up to 2, 5 and 20 KB (they reach
the bounded head-and-tail reading and the long-prose paths). Exit status 1 and the first differences when any
text's features or decisions differ.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kimchi_plugin.routing.classifier import classify, decide_in_context, extract_features, load_weights

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "routing_data"
BASE_PATH = "kimchi_plugin/routing/classifier.py"
DEFAULT_BASE = "37ef560"  # the extractor before it became data and small modules
LONG_SIZES = (2_000, 5_000, 20_000)
SHOWN_DIFFERENCES = 5

# Conversation context a decision may add.
CONTEXTS = ({"prev:debugger"}, {"prev:coder", "prev:coding+order", "phase:failing", "phase:editing"})

Extractor = Callable[[str], set[str]]


def base_module(rev: str) -> types.ModuleType:
    """The single-module classifier at `rev`, loaded from git without touching the tree, scoring with the current
    shipped table."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:{BASE_PATH}"], capture_output=True, text=True, check=True
    ).stdout
    module = types.ModuleType("classifier_at_base")
    sys.modules[module.__name__] = module  # dataclasses look their module up while building the class
    exec(compile(source, f"{rev}:{BASE_PATH}", "exec"), module.__dict__)
    table = load_weights()
    module.set_weights(dict(table.weights), table.bias, table.temperature)
    return module


def _fields(decision: Any) -> tuple[Any, ...]:
    """A decision's fields (the two revisions' classes differ)."""
    return (decision.profile, decision.confidence, decision.signals, decision.source)


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
    texts = []
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=DEFAULT_BASE, help="git revision of the reference extractor")
    args = parser.parse_args(argv)
    old = base_module(args.base)
    texts = labelled_texts()
    cases = [*texts, *(t.upper() for t in texts), *(m for size in LONG_SIZES for m in joined(texts, size))]
    differing = decided_otherwise = 0
    for text in cases:
        before, after = old.extract_features(text), extract_features(text)
        if before != after:
            differing += 1
            if differing <= SHOWN_DIFFERENCES:
                print(f"differs: {text[:80]!r}\n  only before: {sorted(before - after)[:10]}")
                print(f"  only after: {sorted(after - before)[:10]}")
        decisions = [(_fields(old.classify(text)), _fields(classify(text)))]
        for context in CONTEXTS:
            (was, alone_was), (now, alone_now) = (
                old.decide_in_context(after, context),
                decide_in_context(after, context),
            )
            decisions.append(((_fields(was), alone_was), (_fields(now), alone_now)))
        if any(a != b for a, b in decisions):
            decided_otherwise += 1
            if decided_otherwise <= SHOWN_DIFFERENCES:
                print(f"decided otherwise: {text[:80]!r}: {next(d for d in decisions if d[0] != d[1])}")
    print(f"{len(cases)} texts ({len(texts)} labelled texts, their upper-case forms, long joins): features differ on")
    print(f"{differing}, decisions (alone and in {len(CONTEXTS)} contexts) on {decided_otherwise}")
    return 1 if differing or decided_otherwise else 0


if __name__ == "__main__":
    raise SystemExit(main())
