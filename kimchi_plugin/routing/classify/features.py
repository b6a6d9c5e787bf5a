"""Text → named features: pasted structure, word families, leading intent, intent phrasings, the words themselves,
their stems and word pairs, character pairs of Chinese and Japanese.

Pure and bounded: a giant paste is read by its head and tail only, and every distinct token is looked up once
(its spelling repaired, its families and stem found) and remembered, so a long message costs a small constant.
"""

from __future__ import annotations

from itertools import compress, count
from operator import itemgetter

from kimchi_plugin.routing.classify import patterns as rx
from kimchi_plugin.routing.classify.lexicon import (
    CJK_REQUESTS,
    CJK_TERMS,
    LEAD_PAIRS,
    LEAD_WORDS,
    MODAL_OPENERS,
    OPENERS,
    ORDER_LEADS,
    PAIR_HEADS,
    PHRASES,
    STATEMENT_FOLLOWERS,
    families,
    spelled,
)

# Giant pastes: only a bounded head and tail are read, so the cost stays flat.
HEAD_CHARS = 1500
TAIL_CHARS = 700
# Prose shorter than this with no evidence reads as chit-chat; longer as an unspecific work request.
SHORT_PROSE_CHARS = 40
LONG_PROSE_CHARS = 500
# Word pairs are read from this many leading words of the prose.
BIGRAM_TOKENS = 60
# Words longer than this also count by their first STEM_CHARS letters ("migrat*" for migrate, migrating,
# migration), so that inflections and typos late in a word share the weight learnt for the family.
STEM_CHARS = 6
STEM_MAX_WORD_CHARS = 24
STEM_MARK = "*"
# Context features the conversation stage adds: "prev:coder", and the previous tier crossed with the
# message's form ("prev:coding+question").
PREV_PREFIX = "prev:"
CONTEXT_FORMS = ("question", "order")
# Distinct tokens remembered (cleared when full), and the longest token worth remembering.
TOKEN_CACHE_SIZE = 16384
TOKEN_CACHE_MAX_CHARS = 64

# Token → (its word, or "" for a name such as "plan.md" or "user_id"; the word itself and its stem; those and the
# word's lexicon families; the families alone).
TokenInfo = tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]
_TOKENS: dict[str, TokenInfo] = {}
_word_of = itemgetter(0)
_own_of = itemgetter(1)
_all_of = itemgetter(2)
_families_of = itemgetter(3)


def _token_info(token: str) -> TokenInfo:
    if "." in token or "/" in token or "_" in token:
        return "", (), (), ()
    word = spelled(token)
    stem = (word[:STEM_CHARS] + STEM_MARK,) if STEM_CHARS < len(word) <= STEM_MAX_WORD_CHARS else ()
    word_families = families(word)
    return word, (word, *stem), (word, *stem, *word_families), word_families


def _infos(tokens: list[str]) -> list[TokenInfo]:
    """One lookup per token; a token seen for the first time is worked out once."""
    known = _TOKENS
    try:
        return list(map(known.__getitem__, tokens))
    except KeyError:
        pass
    if len(known) >= TOKEN_CACHE_SIZE:
        known.clear()
    local = {}
    for token in set(tokens):
        info = known.get(token)
        if info is None:
            info = _token_info(token)
            if len(token) <= TOKEN_CACHE_MAX_CHARS:
                known[token] = info
        local[token] = info
    return list(map(local.__getitem__, tokens))


def _bounded(text: str) -> str:
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]


def _split_paste(text: str) -> tuple[str, set[str]]:
    """Separate the user's prose from pasted code, traces, logs and diffs; report what was pasted."""
    pasted: set[str] = set()
    if "```" in text:
        parts = text.split("```")
        fenced = "\n".join(parts[1::2])
        text = "\n".join(parts[0::2])
        if fenced.strip():
            pasted.add("paste:code")
            _scan_paste(fenced, pasted)
    if "\n" not in text:
        return text, pasted
    prose_lines = []
    for line in text.splitlines():
        found = rx.paste_line(line)
        if found is not None:
            pasted.add(rx.PASTE_KINDS[found.lastgroup or ""])
        elif line.rstrip().endswith((";", "{")):
            pasted.add("paste:code")
        else:
            prose_lines.append(line)
    return "\n".join(prose_lines), pasted


def _scan_paste(block: str, pasted: set[str]) -> None:
    if rx.TRACEBACK_LINE.search(block):
        pasted.add("paste:traceback")
    if rx.LOG_LINE.search(block):
        pasted.add("paste:log")
    if rx.DIFF_LINE.search(block):
        pasted.add("paste:diff")


def _lead_feature(tokens: list[str]) -> str | None:
    """The intent of one sentence: its first word after openers such as "please" or "can you".

    An order word that is the subject of a statement ("build is green", "test keeps failing") or follows
    a bare "I"/"we" ("we keep getting paged", "I think there's a race") states something instead.
    """
    for i, token in enumerate(tokens[:6]):
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if token in MODAL_OPENERS and following in ("you", "u", "we", "i"):
            continue
        if token in OPENERS and not (token in LEAD_WORDS and following and following not in OPENERS):
            continue
        paired = LEAD_PAIRS.get((token, following), "")
        if paired != "":
            return paired
        lead = LEAD_WORDS.get(token)
        if lead in ORDER_LEADS and (
            following in STATEMENT_FOLLOWERS
            or (i > 0 and tokens[i - 1] in ("i", "we") and (i < 2 or tokens[i - 2] not in MODAL_OPENERS))
        ):
            return None
        return lead
    return None


def _regex_features(lower: str, tokens: set[str], features: set[str]) -> None:
    if len(lower) > rx.INTENT_HEAD_CHARS + rx.INTENT_TAIL_CHARS:
        lower = lower[: rx.INTENT_HEAD_CHARS] + "\n" + lower[-rx.INTENT_TAIL_CHARS :]
    for intent in rx.INTENTS:
        if not intent.needs.isdisjoint(tokens) and rx.matches(intent, lower):
            features.add(intent.feature)
    if "why" in tokens and "debug:fail" in features and rx.WHY_BROKEN.search(lower):
        features.add("debug:why")
    if rx.has_measure(lower):
        features.add("form:measure")


def _pairs(words: list[str]) -> tuple[list[str], list[int]]:
    """Word pairs whose meaning differs from their head word ("error handling" is a coding object): their features
    and the positions of the words they replace, read left to right (a pair's second word starts no pair)."""
    if PAIR_HEADS.keys().isdisjoint(words):
        return [], []
    found: list[str] = []
    replaced: list[int] = []
    last = len(words) - 1
    for i in compress(count(), map(PAIR_HEADS.__contains__, words)):
        if i == last or (replaced and replaced[-1] == i):
            continue
        followers, feature = PAIR_HEADS[words[i]]
        if words[i + 1] in followers:
            found.append(feature)
            replaced += (i, i + 1)
    return found, replaced


def _word_features(prose: str, features: set[str]) -> set[str]:
    """Features of the words of the prose (inline code and names such as paths, files and identifiers are left
    out and noted as `code:name`); returns the distinct words."""
    if "`" in prose:
        parts = prose.split("`")
        if len(parts) > 2:
            features.add("code:name")
            prose = " ".join(parts[0::2])
    infos = _infos(rx.TOKEN.findall(prose.lower()))
    known = list(filter(_word_of, infos))
    if len(known) < len(infos):
        features.add("code:name")
    words = list(map(_word_of, known))
    if not words:
        return set()
    # Word pairs ("commit message", "is it", "write the") carry what single words lose; the first
    # BIGRAM_TOKENS words hold the ask in most messages and keep the count bounded.
    pairs = list(map(" ".join, zip(words, words[1:])))
    features.update(pairs[: BIGRAM_TOKENS - 1])
    found, replaced = _pairs(words)
    if found:
        # A pair replaces its two words' families and phrases.
        features.update(found, *map(_own_of, known))
        word_families = list(map(_families_of, known))
        for i in replaced:
            word_families[i] = ()
            if i < len(pairs):
                pairs[i] = ""
        features.update(*word_families)
    else:
        features.update(*map(_all_of, known))
    features.update(map(PHRASES.__getitem__, PHRASES.keys() & pairs))
    return set(words)


def extract_features(text: str) -> set[str]:
    """The named features of a message (rule features and bare words); the trained table scores them."""
    prose, features = _split_paste(_bounded(text))
    pasted = bool(features)
    correction = rx.CORRECTION.match(prose, 0, rx.CORRECTION_SCAN_CHARS)
    if correction is not None and correction.end() < len(prose):
        prose = prose[correction.end() :]
        features.add("form:correction")
    if rx.names_an_error(prose):
        features.add("debug:error_name")
    words = _word_features(prose, features)
    if not words:
        return features
    if "why" in words:
        features.add("reason:why")
    lower = prose.lower()
    for sentence in rx.SENTENCE_SPLIT.split(lower[: rx.INTENT_HEAD_CHARS]):
        lead = _lead_feature(rx.WORD.findall(sentence))
        if lead is not None:
            features.add(lead)
    _regex_features(lower, words, features)
    stripped = prose.strip()
    # Scripts without spaces pack a word into a character or two: such a character counts as several.
    length = len(stripped)
    if not stripped.isascii():
        _wide_features(stripped, features)
        length += (rx.WIDE_CHAR_WEIGHT - 1) * len(rx.WIDE_CHAR.findall(stripped))
    if length < SHORT_PROSE_CHARS and not pasted:
        features.add("len:short")
    elif length > LONG_PROSE_CHARS:
        features.add("len:long")
    if stripped.endswith("?"):
        features.add("form:question")
    return features


def _wide_features(stripped: str, features: set[str]) -> None:
    """Chinese, Japanese and Korean terms, polite request forms, and the character pairs of each run."""
    for term, feature in CJK_TERMS:
        if term in stripped:
            features.add(feature)
    if "code:verb" in features and any(marker in stripped for marker in CJK_REQUESTS):
        features.add("lead:code")
    for run in rx.WIDE_RUN.findall(stripped):
        features.update(run[i : i + 2] for i in range(len(run) - 1))
