"""The lexicon (`data/lexicon.json`), read once at import into the lookups the feature extractor needs.

Each word family, phrase and lead word names the feature it gives; a feature counts once per message whatever
number of its words occur. Misspelt words of known length are repaired through a deletion index.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kimchi_plugin.routing.classify.table import DATA_DIR

LEXICON_FILE = "lexicon.json"
# In `lead_words`, "@family" stands for every word of that word family.
FAMILY_REFERENCE = "@"
# Word beginnings are looked up by their first STEM_LENGTHS characters (the data holds them at most this long).
STEM_LENGTHS = (4, 5, 6, 7)
# Typo tolerance for words of at least this length: one missing, extra or swapped letter.
TYPO_MIN_CHARS = 5


def _read() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA_DIR / LEXICON_FILE).read_text(encoding="utf-8"))
    return data


def _by_word(groups: Mapping[str, list[str]]) -> dict[str, tuple[str, ...]]:
    """word → the features of every group it belongs to."""
    index: dict[str, tuple[str, ...]] = {}
    for feature, words in groups.items():
        for word in words:
            if feature not in index.get(word, ()):
                index[word] = (*index.get(word, ()), feature)
    return index


def _lead_words(groups: Mapping[str, list[str]], families: Mapping[str, list[str]]) -> dict[str, str]:
    """word → its lead feature; a word listed under several leads keeps the first."""
    leads: dict[str, str] = {}
    for feature, entries in groups.items():
        for entry in entries:
            words = families[entry[1:]] if entry.startswith(FAMILY_REFERENCE) else [entry]
            for word in words:
                leads.setdefault(word, feature)
    return leads


def _deletions(known: frozenset[str]) -> dict[str, str | None]:
    """Each known word with one letter deleted → that word (None where two words share the result)."""
    index: dict[str, str | None] = {}
    for word in known:
        if len(word) >= TYPO_MIN_CHARS and word.isascii():
            for i in range(len(word)):
                short = word[:i] + word[i + 1 :]
                index[short] = word if index.get(short, word) == word else None
    return index


_DATA = _read()
WORD_FAMILIES: Mapping[str, tuple[str, ...]] = {
    feature: tuple(words) for feature, words in _DATA["word_families"].items()
}
# word → its features.
WORDS: Mapping[str, tuple[str, ...]] = _by_word(_DATA["word_families"])
# Multi-word evidence on adjacent tokens ("stack trace" → debug:error), and the words such pairs start with.
PHRASES: Mapping[str, str] = dict(_DATA["phrases"])
PHRASE_HEADS = frozenset(phrase.split()[0] for phrase in PHRASES)
# Word pairs whose meaning differs from their head word ("error handling" is a coding object): head →
# (followers, feature); the pair's feature replaces both words' families.
PAIR_HEADS: Mapping[str, tuple[frozenset[str], str]] = {
    head: (frozenset(pair["followers"]), pair["feature"]) for head, pair in _DATA["pair_heads"].items()
}
# The first words of a sentence that state its intent ("add …", "why does …", "where is …").
LEAD_WORDS: Mapping[str, str] = _lead_words(_DATA["lead_words"], _DATA["word_families"])
# Two-word openings whose intent differs from their first word's ("show me" asks; "write up" is prose).
LEAD_PAIRS: Mapping[tuple[str, str], str | None] = {
    (first, second): feature for first, second, feature in _DATA["lead_pairs"]
}
# Openers skipped before the intent word ("please", "can you", "hey, could you quickly" …).
OPENERS = frozenset(_DATA["openers"])
# Openers that would otherwise be read as lead words ("can you …", "could you …").
MODAL_OPENERS = frozenset(_DATA["modal_openers"])
# Leads that give an order, and words after one that make it the subject of a statement instead.
ORDER_LEADS = frozenset(_DATA["order_leads"])
STATEMENT_FOLLOWERS = frozenset(_DATA["statement_followers"])
# Word beginnings in other languages (and English stems) → feature, for tokens the lexicon lacks.
STEMS: Mapping[str, str] = {prefix: feature for feature, prefixes in _DATA["stems"].items() for prefix in prefixes}
# Substrings for scripts written without spaces (Chinese, Japanese) and for Korean's attached particles.
CJK_TERMS: tuple[tuple[str, str], ...] = tuple(
    (term, feature) for feature, terms in _DATA["cjk_terms"].items() for term in terms
)
# Polite request forms ("请…", "…してください"): with a code verb they make an order, as "add …" does.
CJK_REQUESTS: tuple[str, ...] = tuple(_DATA["cjk_requests"])
del _DATA

KNOWN_WORDS = frozenset(WORDS) | frozenset(LEAD_WORDS)
_BY_DELETION = _deletions(KNOWN_WORDS)
# The length and first (last) END_CHARS letters of every known word. A token of at least ENDS_KEPT_FROM letters with one
# letter deleted or two adjacent ones swapped keeps its first or its last END_CHARS letters, so a token whose ends and
# length (or length - 1) match no known word's is no typo of one.
END_CHARS = 3
ENDS_KEPT_FROM = 7
_HEADS = frozenset((len(word), word[:END_CHARS]) for word in KNOWN_WORDS)
_TAILS = frozenset((len(word), word[-END_CHARS:]) for word in KNOWN_WORDS)


def _may_be_a_typo(token: str) -> bool:
    length = len(token)
    if length < ENDS_KEPT_FROM:
        return True
    head, tail = token[:END_CHARS], token[-END_CHARS:]
    return (
        (length, head) in _HEADS
        or (length, tail) in _TAILS
        or (length - 1, head) in _HEADS
        or (length - 1, tail) in _TAILS
    )


def spelled(token: str) -> str:
    """The known word a misspelt token stands for ("eror" → "error"), else the token itself."""
    if len(token) < TYPO_MIN_CHARS or token in KNOWN_WORDS or not token.isascii():
        return token
    missing = _BY_DELETION.get(token)
    if missing is not None:
        return missing
    if not _may_be_a_typo(token):
        return token
    for i in range(len(token)):
        candidate = token[:i] + token[i + 1 :]
        if candidate in KNOWN_WORDS and len(candidate) >= TYPO_MIN_CHARS:
            return candidate
        if i + 1 < len(token):
            swapped = token[:i] + token[i + 1] + token[i] + token[i + 2 :]
            if swapped in KNOWN_WORDS:
                return swapped
    return token


def families(word: str) -> tuple[str, ...]:
    """The features of a word, or the feature of its shortest known beginning."""
    hit = WORDS.get(word)
    if hit is not None:
        return hit
    for length in STEM_LENGTHS:
        if len(word) < length:
            break
        feature = STEMS.get(word[:length])
        if feature is not None:
            return (feature,)
    return ()
