"""Learning from the user's corrections, bounded and explainable.

A correction is an explicit choice (a slash command, `/lock`, a tier or model pick) made right after an automatic
decision about the same request — the same words re-sent in another mode, or the choice alone — that lands in another
tier. It is kept with the corrected message's evidence: the classifier's named features (single words left out) and
the mode the classifier detected.

A later automatic decision moves only when it looks like the corrected messages: same detected mode and at least
MIN_SIMILARITY overlap (Jaccard) of evidence with at least MIN_SUPPORT corrections that agree, outvoting any that
disagree. Nothing else moves, and every move names the correction behind it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kimchi_plugin.routing import classifier
from kimchi_plugin.routing.classifier import Classification
from kimchi_plugin.routing.explanation import LEARNED_PREFIX, excerpt
from kimchi_plugin.routing.tiers import PROFILE_TIER, Profile

# How soon after an automatic decision an explicit choice counts as correcting it.
WINDOW_S = 600.0
# Evidence overlap (Jaccard) for a correction to speak about a message.
MIN_SIMILARITY = 0.25
# Corrections that must agree before a decision moves.
MIN_SUPPORT = 2
# Whole-message overlap (features with words) for "the same request re-sent".
SAME_REQUEST = 0.5
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
    kind: str  # command | lock | tier | pick

    def words(self) -> str:
        return f'"{self.excerpt}" → {self.target.value} ({self.kind})'


@dataclass(frozen=True, slots=True)
class AutoTurn:
    """The last automatic decision of a session, kept until the next message."""

    text: str
    profile: Profile
    at: float


def evidence(text: str) -> tuple[Profile, frozenset[str]]:
    """The classifier's mode for `text` on its own words, and its named features other than length and form."""
    features = classifier.extract_features(text)
    kept = frozenset(f for f in features if ":" in f and not f.startswith(_NOT_EVIDENCE))
    return classifier.decide_features(features).profile, kept


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


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
    detected, features = evidence(previous.text)
    return Correction(now, excerpt(previous.text, 60), features, detected, previous.profile, profile, source)


def _overlap(a: str, b: str) -> float:
    return similarity(frozenset(classifier.extract_features(a)), frozenset(classifier.extract_features(b)))


def adjust(corrections: Sequence[Correction], text: str, found: Classification) -> Classification | None:
    """`found` moved as the user's corrections of similar messages say, or None when they say nothing."""
    if not corrections:
        return None
    detected, features = evidence(text)
    votes: dict[Profile, list[tuple[float, Correction]]] = {}
    for correction in corrections:
        if correction.detected is not detected:
            continue
        score = similarity(features, correction.features)
        if score >= MIN_SIMILARITY:
            votes.setdefault(correction.target, []).append((score, correction))
    if not votes:
        return None
    target, support = max(votes.items(), key=lambda item: (sum(s for s, _ in item[1]), max(c.at for _, c in item[1])))
    if len(support) < MIN_SUPPORT or PROFILE_TIER[target] is found.tier:
        return None
    closest = max(support, key=lambda pair: (pair[0], pair[1].at))[1]
    label = f"{len(support)} like {closest.words()}"
    confidence = max(found.confidence, max(s for s, _ in support))
    return Classification(target, round(confidence, 3), (LEARNED_PREFIX + label, *found.signals), "learned")


def newest(corrections: Iterable[Correction], limit: int) -> list[Correction]:
    return sorted(corrections, key=lambda c: c.at)[-limit:]
