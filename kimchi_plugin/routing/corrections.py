"""Learning from the user's corrections, bounded and explainable.

A correction is an explicit choice (a slash command, `/lock`, a tier or model pick) made right after an automatic
decision about the same request — the same words re-sent in another mode, or the choice alone — that lands in another
tier. It is kept with the corrected message's evidence: the classifier's named features (single words left out) and
the mode the classifier detected.

Once the user has corrected something, the automatic decisions they let stand are kept too (`accepted`, the newest
few hundred): they are the evidence against moving. A later automatic decision is a vote among its neighbours — kept
examples with the same detected mode, at least MIN_SHARED evidence features in common and at least MIN_SIMILARITY
overlap (Jaccard) — each voting for the tier it ended on. It moves only when at least MIN_SUPPORT corrections back
another tier and that tier has more than MAJORITY times the votes of the classifier's tier. A kind of message the
router usually gets right for this user never moves, and every move names the correction behind it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kimchi_plugin.routing import classifier
from kimchi_plugin.routing.classifier import Classification
from kimchi_plugin.routing.explanation import LEARNED_PREFIX, excerpt
from kimchi_plugin.routing.tiers import PROFILE_TIER, Profile, Tier

# How soon after an automatic decision an explicit choice counts as correcting it.
WINDOW_S = 600.0
# Evidence overlap (Jaccard) for a correction to speak about a message.
MIN_SIMILARITY = 0.2
# Evidence features a message must share with an example to be its neighbour: a message with little evidence (a
# follow-up, a greeting) is like nothing in particular and never moves.
MIN_SHARED = 2
# Corrections that must agree before a decision moves.
MIN_SUPPORT = 2
# How many times the classifier's tier's votes the corrections' tier needs: a clear majority of the neighbours.
MAJORITY = 2.0
# Whole-message overlap (features with words) for "the same request re-sent".
SAME_REQUEST = 0.5
ACCEPTED = "accepted"
# Sources of automatic decisions (the ones a correction can correct and learning can move).
AUTOMATIC = frozenset({"heuristic", "followup", "phase", "sticky", "llm", "floor", "learned"})
# Sources of explicit choices; `lock` counts only on the message that carries `/lock`.
EXPLICIT = frozenset({"command", "tier", "pick", "lock"})
_NOT_EVIDENCE = ("len:", "form:", "phase:", "prev:")


@dataclass(frozen=True, slots=True)
class Correction:
    at: float
    excerpt: str  # the corrected message's first words, for `/why` and `learn`
    features: frozenset[str]  # its evidence
    detected: Profile  # the mode the classifier detected in it
    automatic: Profile  # the mode the automatic decision gave
    target: Profile  # the mode the user chose
    kind: str  # command | lock | tier | pick, or ACCEPTED: an automatic decision the user let stand

    def words(self) -> str:
        return f'"{self.excerpt}" → {self.target.value} ({self.kind})'


# The classifier's mode for a message on its own words, and its named features other than length and form.
Evidence = tuple[Profile, frozenset[str]]


@dataclass(frozen=True, slots=True)
class AutoTurn:
    """The last automatic decision of a session, kept until the next message."""

    text: str
    profile: Profile
    at: float
    evidence: Evidence | None = None  # the text's, when `adjust` read it for this decision


def evidence(text: str) -> Evidence:
    """The classifier's mode for `text` on its own words, and its named features other than length and form."""
    features = classifier.extract_features(text)
    kept = frozenset(f for f in features if ":" in f and not f.startswith(_NOT_EVIDENCE))
    return classifier.decide_features(features).profile, kept


def _evidence_of(turn: AutoTurn) -> Evidence:
    return turn.evidence if turn.evidence is not None else evidence(turn.text)


def any_corrected(examples: Iterable[Correction]) -> bool:
    """Whether the examples hold a correction: acceptances alone never move a decision."""
    return any(e.kind != ACCEPTED for e in examples)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard overlap, 0 when fewer than MIN_SHARED features are shared."""
    shared = len(a & b)
    return shared / len(a | b) if shared >= MIN_SHARED else 0.0


def detect(
    previous: AutoTurn | None, text: str, source: str, profile: Profile, command: bool, now: float
) -> Correction | None:
    """The correction this explicit decision makes of `previous`, if it is one.

    `text` is the message without its slash command; `command` says whether the message carried one (a `lock`
    decision is a correction only on the `/lock` message itself)."""
    if previous is None or source not in EXPLICIT or (source == "lock" and not command):
        return None
    if now - previous.at > WINDOW_S or PROFILE_TIER[profile] is PROFILE_TIER[previous.profile]:
        return None
    if text.strip() and _overlap(text, previous.text) < SAME_REQUEST:
        return None  # a new request in another mode, not this one corrected
    detected, features = _evidence_of(previous)
    return Correction(now, excerpt(previous.text, 60), features, detected, previous.profile, profile, source)


def accepted(previous: AutoTurn) -> Correction:
    """An automatic decision the user let stand: a vote for its tier among similar messages."""
    detected, features = _evidence_of(previous)
    return Correction(
        previous.at, excerpt(previous.text, 60), features, detected, previous.profile, previous.profile, ACCEPTED
    )


def _overlap(a: str, b: str) -> float:
    return similarity(frozenset(classifier.extract_features(a)), frozenset(classifier.extract_features(b)))


def adjust(
    examples: Sequence[Correction], text: str, found: Classification, read: Evidence | None = None
) -> Classification | None:
    """`found` moved as the user's kept examples of similar messages say, or None when they say to leave it. `read`:
    the text's evidence, when the caller has it already."""
    if not any_corrected(examples):
        return None
    detected, features = read if read is not None else evidence(text)
    votes: dict[Tier, float] = {}
    backing: dict[Tier, list[tuple[float, Correction]]] = {}
    for example in examples:
        if example.detected is not detected:
            continue
        score = similarity(features, example.features)
        if score < MIN_SIMILARITY:
            continue
        tier = PROFILE_TIER[example.target]
        votes[tier] = votes.get(tier, 0.0) + score
        if example.kind != ACCEPTED:
            backing.setdefault(tier, []).append((score, example))
    moved = [t for t, support in backing.items() if t is not found.tier and len(support) >= MIN_SUPPORT]
    if not moved:
        return None
    tier = max(moved, key=lambda t: votes[t])
    if votes[tier] <= MAJORITY * votes.get(found.tier, 0.0):
        return None
    support = backing[tier]
    closest = max(support, key=lambda pair: (pair[0], pair[1].at))[1]
    label = f"{len(support)} like {closest.words()}"
    confidence = max(found.confidence, max(score for score, _ in support))
    return Classification(closest.target, round(confidence, 3), (LEARNED_PREFIX + label, *found.signals), "learned")
