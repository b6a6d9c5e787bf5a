"""`kimchi-plugin learn`: the routing corrections the plugin has learned (per project, or global), and `--reset` to
forget them. A running plugin notices a reset before its next decision."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from kimchi_plugin.brain.corrections_store import GLOBAL_SCOPE, CorrectionStore, default_corrections_path
from kimchi_plugin.brain.learning import scope_of
from kimchi_plugin.routing.corrections import ACCEPTED


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reset", action="store_true", help="forget the corrections of the scope")
    parser.add_argument("--project", default=os.getcwd(), help="the project (default: here)")
    parser.add_argument("--global", dest="global_scope", action="store_true", help="the corrections kept for all")
    parser.add_argument("--all", action="store_true", help="with --reset: every project and the global ones")


def run(args: argparse.Namespace) -> int:
    store = CorrectionStore(default_corrections_path(os.environ), create=False)
    scope = scope_of(str(Path(args.project).resolve()), GLOBAL_SCOPE if args.global_scope else "project")
    if args.reset:
        forgotten = store.reset(None if args.all else scope)
        print(f"forgot {forgotten} learned example(s) ({'every scope' if args.all else scope})")
        return 0
    examples = store.load(scope)
    known = [c for c in examples if c.kind != ACCEPTED]
    kept = len(examples) - len(known)
    print(
        f"{len(known)} correction(s) for {scope}" + (f", {kept} accepted decision(s) kept as evidence" if kept else "")
    )
    for correction in known:
        print(f"  {correction.words()} — was {correction.automatic.value}, detected {correction.detected.value}")
    others = {name: count for name, count in store.scopes().items() if name != scope}
    if others:
        print("other scopes: " + ", ".join(f"{name} ({count})" for name, count in sorted(others.items())))
    return 0
