"""Cost simulator: replay the labelled sessions (tests/routing_data/<set>/sessions.jsonl) under four policies and print
what each would cost, counting prompt caching honestly, and how often a turn is served on the tier its label asks
for (and how often below it).

Policies: always the top Reasoning model; always the top Coding model; routing (the router's tier for each turn, on
that tier's top model); routing with cache-aware switching (the same decisions through routing.switch_cost, which
keeps a warm cache when leaving it costs more than the cheaper tier saves, and never blocks a move up).

Token model of a turn (constants below): the session starts with the system prompt and tool definitions; the user's
text joins the context; the agent makes one request, then one more after each tool call, each tool result and each
answer joining the context. A request on the model that served the previous one reads that request's prompt from
its cache; everything else in the prompt is uncached (billed as cache writes where the model prices them). A switch
starts cold. Prices are the registry's (data/models.json families), applied by usage.prices as the stats apply them;
the cache is the product's own routing.cache_policy.CacheState, fed each request's usage as OpenCode reports it, and
the cache-aware policy asks cache_policy.weigh, as the brain does.

    .venv/bin/python scripts/simulate_costs.py                 # every set, both model line-ups
    .venv/bin/python scripts/simulate_costs.py --sets A --limit 10 --lineup frontier
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import count
from pathlib import Path
from typing import Any

from kimchi_plugin.routing.cache_policy import CacheState, weigh
from kimchi_plugin.routing.classify.table import labelled_sets
from kimchi_plugin.routing.conversation import ConversationState, decide
from kimchi_plugin.routing.registry import ModelSpec, Registry
from kimchi_plugin.routing.tiers import PROFILE_TIER, TIER_ORDER, Tier
from kimchi_plugin.usage.prices import Prices, Usage, prices_from

ROOT = Path(__file__).resolve().parent.parent

DATA = ROOT / "tests" / "routing_data"
# Model line-ups: the models available and the tier pins (as the `models` option sets them).
LINEUPS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    # Frontier models with discounted cache reads (and billed cache writes): where switching costs the most.
    "frontier": (("claude-opus-4-6", "claude-sonnet-4-6", "claude-haiku-4-5"), {}),
    # Open models as Kimchi serves them (models.json knows no cache discount for them); unpinned, kimi-k2.5 tops
    # every tier, so the cheaper tiers are pinned to minimax-m2.7.
    "kimchi": (("kimi-k2.5", "minimax-m2.7"), {"coding": "minimax-m2.7", "quick": "minimax-m2.7"}),
}
BASE_PROMPT_TOKENS = 14_000  # system prompt, agent instructions and tool definitions
CHARS_PER_TOKEN = 4
TOOL_RESULT_TOKENS = {"read": 1_800, "grep": 700, "glob": 300, "bash": 900, "edit": 250, "write": 200, "task": 1_500,
                      "webfetch": 3_000, "todowrite": 150}  # fmt: skip
OTHER_TOOL_TOKENS = 500
FAILED_TOOL_EXTRA_TOKENS = 400  # an error output is longer than a success
TOOL_CALL_OUTPUT_TOKENS = 150  # a request that ends in a tool call
# The turn's final answer, by what the work needs (its label): plans and diagnoses run longer than confirmations.
ANSWER_OUTPUT_TOKENS = {Tier.REASONING: 1_200, Tier.CODING: 600, Tier.QUICK: 250}
POLICIES = ("always Reasoning", "always Coding", "routing", "routing, cache-aware")


def load_sessions(sets: Iterable[str]) -> list[dict[str, Any]]:
    """The sessions of the named sets, in the order given (a set without a sessions file has none)."""
    folders = labelled_sets(DATA)
    sessions = []
    for name in sets:
        path = folders[name] / "sessions.jsonl"
        if path.exists():
            sessions += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return sessions


def registry_of(lineup: str) -> Registry:
    model_ids, pins = LINEUPS[lineup]
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)  # fixed, so lifecycle dates never change the figures
    return Registry.build(
        provider_models={mid: {} for mid in model_ids}, api_models=None, pins=pins, priorities=None, now=now
    )


@dataclass(slots=True)
class Tally:
    """Cost and tier agreement of one policy over the replayed turns."""

    usd: float = 0.0
    turns: int = 0
    on_tier: int = 0
    below_tier: int = 0
    switches: int = 0
    kept_warm: int = 0


@dataclass(slots=True)
class Session:
    """The session's context, and its prompt cache as the brain tracks it."""

    prices: Prices
    context: int = BASE_PROMPT_TOKENS
    cache: CacheState = field(default_factory=CacheState)
    ids: count[int] = field(default_factory=count)


def _request(session: Session, spec: ModelSpec, tier: Tier, added: int, output: int, tally: Tally) -> None:
    """One request of `added` new context tokens on `spec`; bills it and leaves its prompt in that model's cache."""
    session.context += added
    cache, price = session.cache, session.prices.get(spec.id)
    assert price is not None, f"{spec.id} has no price"
    read = cache.prefix_tokens if cache.warm_model == spec.id else 0
    uncached = session.context - read
    written = uncached if price.cache_write > 0 else 0  # where the model bills cache writes, a cold prompt is one
    usage = Usage(input=uncached - written, output=output, cache_read=read, cache_write=written)
    tally.usd += price.cost(usage)
    message_id = f"m{next(session.ids)}"
    cache.observe(
        message_id, spec.id, tier, input_tokens=usage.input, cache_read=usage.cache_read, cache_write=usage.cache_write
    )
    session.context += output


Choose = Callable[[Tier, CacheState, Tally], tuple[ModelSpec, Tier]]


def replay(
    sessions: Sequence[dict[str, Any]],
    registry: Registry,
    choose_tier: Callable[[str, ConversationState], Tier],
    choose: Choose,
) -> Tally:
    tally = Tally()
    prices = prices_from(registry.models(), None, None)
    for session in sessions:
        state, sim = ConversationState(), Session(prices)
        for turn in session["turns"]:
            wanted = choose_tier(turn["text"], state)
            spec, tier = choose(wanted, sim.cache, tally)
            label = Tier(turn["tier"])
            tally.turns += 1
            tally.on_tier += tier is label
            tally.below_tier += TIER_ORDER.index(tier) > TIER_ORDER.index(label)
            tools = [(t.rstrip("!"), t.endswith("!")) for t in turn.get("tools") or ()]
            added = max(len(turn["text"]) // CHARS_PER_TOKEN, 1)
            for tool, failed in tools:
                _request(sim, spec, tier, added, TOOL_CALL_OUTPUT_TOKENS, tally)
                added = TOOL_RESULT_TOKENS.get(tool, OTHER_TOOL_TOKENS) + FAILED_TOOL_EXTRA_TOKENS * failed
            _request(sim, spec, tier, added, ANSWER_OUTPUT_TOKENS[label], tally)
            state.note_decision(turn["text"], decide(turn["text"], state))
            for tool, failed in tools:
                state.note_tool(tool, failed)
        tally.switches += sim.cache.switches
    return tally


def simulate(sessions: Sequence[dict[str, Any]], lineup: str) -> dict[str, Tally]:
    registry = registry_of(lineup)
    top = {tier: registry.best(tier) for tier in Tier}

    def fixed(tier: Tier) -> Choose:
        spec = top[tier]
        assert spec is not None, f"no {tier.value} model in the {lineup} line-up"
        return lambda wanted, cache, tally: (spec, tier)

    def routed(wanted: Tier, cache: CacheState, tally: Tally) -> tuple[ModelSpec, Tier]:
        spec = top[wanted]
        assert spec is not None
        return spec, wanted

    def cache_aware(wanted: Tier, cache: CacheState, tally: Tally) -> tuple[ModelSpec, Tier]:
        spec, tier = routed(wanted, cache, tally)
        warm = registry.get(cache.warm_model) if cache.warm_model else None
        if weigh(cache, warm, spec, tier).switch or warm is None or cache.warm_tier is None:
            return spec, tier
        tally.kept_warm += 1
        return warm, cache.warm_tier

    def router_tier(text: str, state: ConversationState) -> Tier:
        return PROFILE_TIER[decide(text, state).profile]

    def label_free(tier: Tier) -> Callable[[str, ConversationState], Tier]:
        return lambda text, state: tier

    return {
        POLICIES[0]: replay(sessions, registry, label_free(Tier.REASONING), fixed(Tier.REASONING)),
        POLICIES[1]: replay(sessions, registry, label_free(Tier.CODING), fixed(Tier.CODING)),
        POLICIES[2]: replay(sessions, registry, router_tier, routed),
        POLICIES[3]: replay(sessions, registry, router_tier, cache_aware),
    }


def table(results: dict[str, Tally], lineup: str, sessions: int) -> str:
    registry = registry_of(lineup)
    tops = ", ".join(f"{tier.value} {spec.id}" for tier in Tier if (spec := registry.best(tier)) is not None)
    turns = next(iter(results.values())).turns
    lines = [
        f"{sessions} sessions, {turns} turns; top models: {tops}",
        f"  {'policy':<22}{'cost':>11}{'vs Reasoning':>14}{'on tier':>9}{'below':>8}{'switches':>10}{'kept warm':>11}",
    ]
    reference = results[POLICIES[0]].usd
    for name, t in results.items():
        share = f"{t.usd / reference - 1:+.0%}" if reference else "-"
        lines.append(
            f"  {name:<22}{'$' + format(t.usd, ',.2f'):>11}{share:>14}{t.on_tier / t.turns:>9.0%}"
            f"{t.below_tier / t.turns:>8.0%}{t.switches:>10}{t.kept_warm:>11}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default="".join(labelled_sets(DATA)), help="sets to replay (letters), default all")
    parser.add_argument("--limit", type=int, help="replay only the first N sessions")
    parser.add_argument("--lineup", choices=(*LINEUPS, "all"), default="all")
    args = parser.parse_args(argv)
    sessions = load_sessions(args.sets.upper())[: args.limit]
    for name in LINEUPS if args.lineup == "all" else (args.lineup,):
        print(f"[{name}] " + table(simulate(sessions, name), name, len(sessions)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
