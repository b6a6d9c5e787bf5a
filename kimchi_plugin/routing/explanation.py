"""Why a message went where it did, in words: the deciding step, the evidence, and what the other tiers would have
cost. The router attaches an `Explanation` to each decision; `/why` and `kimchi-plugin explain` render it with
`render`, so both say the same thing about the same decision."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from kimchi_plugin.routing.tiers import Profile, Tier

# Notes the router adds when the model itself was changed after the tier was decided.
CONTEXT_NOTE = "conversation ~"  # a larger window serves: "conversation ~120K tokens: a (128K) → b (200K)"
# Signal naming the correction that moved a decision: "learned:<correction in words>".
LEARNED_PREFIX = "learned:"
# Output tokens assumed for a turn whose reply is not known yet (the cost comparison's estimate).
ASSUMED_OUTPUT_TOKENS = 800
WHY_WORD = "why"
_SPACES = re.compile(r"\s*")
# An excerpt is looked for in the first EXCERPT_HEAD_TIMES × its limit characters.
EXCERPT_HEAD_TIMES = 4
# Signals an explanation keeps in words (the strongest first).
SIGNALS_KEPT = 4
# Distinct signals whose words are remembered: the classifier's vocabulary repeats, a message's words are unbounded.
WORDS_REMEMBERED = 4096

# The deciding step of each router source, in words.
STEPS: Mapping[str, str] = {
    "pick": "your choice: a model picked",
    "tier": "your choice: a tier picked",
    "command": "your choice: a slash command",
    "lock": "your lock (/lock)",
    "suggestion": "the model's suggestion (suggest_*_mode tool)",
    "agent": "the subagent's tier",
    "heuristic": "the classifier",
    "followup": "the classifier, reading a follow-up",
    "phase": "the classifier, from the conversation's phase",
    "sticky": "the classifier, continuing the conversation's mode",
    "llm": "the LLM second opinion",
    "floor": "the primary-agent floor (automatic decisions start at Coding)",
    "learned": "your earlier correction",
    "stall": "stall escalation: the last turn was stuck",
    "budget": "the budget rule: a spend limit was reached, one tier down",
    "cache": "the cache rule: stayed on the model holding the session's warm prompt cache",
    "why": "answering /why",
}
FALLBACK_STEP = "fallback: a failing or retired model was replaced"
CONTEXT_STEP = "context: the conversation needed a larger window"

_FAMILIES: Mapping[str, str] = {
    "refactor": "refactoring",
    "debug": "debugging",
    "plan": "planning",
    "review": "review",
    "code": "coding",
    "assist": "quick question",
    "reason": "reasoning",
    "paste": "pasted",
}
_KINDS: Mapping[str, str] = {
    "verb": "verb",
    "structure": "structural change",
    "fail": "something fails",
    "error_name": "names an error",
    "why": "asks why",
    "name": "names code (paths, identifiers)",
    "object": "names a code object",
    "traceback": "a traceback",
    "log": "a log",
    "diff": "a diff",
}
_WHOLE: Mapping[str, str] = {
    "len:short": "a short message",
    "len:long": "a long message",
    "form:question": "phrased as a question",
    "form:correction": "corrects the previous answer",
    "default:short": "short, no strong signal",
    "default:unspecific": "no strong signal",
    "label": "labelled by hand",
    "empty": "an empty message",
}


@dataclass(frozen=True, slots=True)
class Explanation:
    """The structured reason of one decision: which step decided it, and its evidence in words."""

    step: str  # the router source that decided the tier, or "fallback" / "context" when the model was replaced
    words: str  # that step in words
    signals: tuple[str, ...]  # the top signals in words
    correction: str | None = None  # the correction that moved the decision, in words


@lru_cache(maxsize=WORDS_REMEMBERED)
def signal_words(signal: str) -> str:
    """One router signal ("refactor:verb", "w:module", "llm:reasoning") in words; remembered, since every routed
    message's explanation is written in the decision's log line and the same signals recur."""
    if signal in _WHOLE:
        return _WHOLE[signal]
    family, _, kind = signal.partition(":")
    if not kind:
        return signal
    if family == "w":
        return f'the word "{kind}"'
    if family == "lead":
        return f"opens with a {kind} request"
    if family == "llm":
        return f"the LLM judged it {kind} work"
    if family in ("detected", "prev"):
        return f"{'the classifier saw' if family == 'detected' else 'the previous turn was'} {kind.replace('+', ', ')}"
    if family == "phase":
        return f"the conversation is {kind}"
    if family == "followup":
        return f"a follow-up ({kind.replace('_', ' ')})"
    if family == "learned":
        return f"your correction: {kind}"
    name = _FAMILIES.get(family, family)
    return f"{name}: {_KINDS.get(kind, kind.replace('_', ' '))}"


def explain(source: str, signals: Sequence[str], notes: Sequence[str] = ()) -> Explanation:
    """The explanation of a decision from its source, signals and the model substitution notes: the first learned
    signal is the correction, the first SIGNALS_KEPT others are put in words (only those)."""
    correction: str | None = None
    kept: list[str] = []
    for signal in signals:
        if signal.startswith(LEARNED_PREFIX):
            if correction is None:
                correction = signal[len(LEARNED_PREFIX) :]
        elif len(kept) < SIGNALS_KEPT:
            kept.append(signal_words(signal))
    words = tuple(kept)
    if notes:
        if any(note.startswith(CONTEXT_NOTE) for note in notes):
            return Explanation("context", CONTEXT_STEP, words, correction)
        return Explanation("fallback", FALLBACK_STEP, words, correction)
    return Explanation(source, STEPS.get(source) or f"the {source} rule", words, correction)


def revised(before: Explanation | None, source: str, added_notes: Sequence[str]) -> Explanation:
    """The explanation of a decision a rule after the router changed (stall, budget, cache): that rule decided."""
    signals = before.signals if before is not None else ()
    correction = before.correction if before is not None else None
    if source == "stall":
        step = "stall"
    elif any("budget" in note for note in added_notes):
        step = "budget"
    else:
        step = "cache"
    return Explanation(step, STEPS[step], signals, correction)


def is_why(text: str) -> bool:
    """`/why` (with nothing or anything after it): a question about the last decision, not a message to route. Reads
    the message's start only: a giant paste costs nothing here."""
    leading = _SPACES.match(text)
    start = leading.end() if leading is not None else 0
    end = start + len(WHY_WORD) + 1
    if text[start:end].lower() != "/" + WHY_WORD:
        return False
    return text[end : end + 1] in ("", " ") or _SPACES.fullmatch(text, end) is not None


@dataclass(frozen=True, slots=True)
class TierCost:
    tier: Tier
    model_id: str
    usd: float


@dataclass(frozen=True, slots=True)
class Account:
    """What `render` prints: one decision and its context."""

    tier: Tier
    profile: Profile
    mode: str  # the profile in words
    model_id: str | None
    confidence: float
    why: Explanation
    reason: str
    costs: tuple[TierCost, ...]  # one per tier with a model, the decided one included
    input_tokens: int
    output_tokens: int
    output_known: bool
    excerpt: str = ""
    notes: tuple[str, ...] = ()


def render(account: Account) -> str:
    """The answer to `/why` and the output of `kimchi-plugin explain`, line by line."""
    lines = []
    if account.excerpt:
        lines.append(f'Message: "{account.excerpt}"')
    model = account.model_id or "OpenCode's own choice (nothing serves this tier)"
    lines.append(f"Routed to: {account.tier.value} tier, {account.mode} mode, model {model}")
    lines.append(f"Deciding step: {account.why.words}")
    if account.why.correction:
        lines.append(f"Moved by your correction: {account.why.correction}")
    lines.append(f"Confidence: {account.confidence:.0%}")
    lines.append(f"Signals: {'; '.join(account.why.signals) or 'none'}")
    lines.extend(f"Note: {note}" for note in account.notes)
    if account.costs:
        output = "" if account.output_known else " assumed"
        lines.append(
            f"Cost of this turn by tier (~{account.input_tokens:,} input,{output} ~{account.output_tokens:,} output "
            "tokens):"
        )
        for cost in account.costs:
            mark = "  ← routed" if cost.tier is account.tier and cost.model_id == account.model_id else ""
            lines.append(f"  {cost.tier.value:<9} {cost.model_id:<28} ${cost.usd:.4f}{mark}")
    return "\n".join(lines)


def excerpt(text: str, limit: int = 80) -> str:
    """The message's first words on one line, cut at `limit` characters. Its head is read first (a giant paste is not
    split whole): when the head's complete words already run past the limit, the rest cannot change the excerpt."""
    head = text[: limit * EXCERPT_HEAD_TIMES]
    words = head.split()
    if len(head) < len(text):
        words = words[:-1]  # the last may be cut short
        flat = " ".join(words)
        if len(flat) <= limit:
            flat = " ".join(text.split())
    else:
        flat = " ".join(words)
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
