"""Text → named features: pasted structure, word families, leading intent, intent phrasings, the words themselves,
their stems and word pairs, character pairs of Chinese and Japanese.

Pure and bounded: a giant paste is read by its head and tail only, and every distinct chunk of text between spaces is
tokenised once (each token's spelling repaired, its word's families and stem found) and remembered, so a long message
costs a small constant.
"""

from __future__ import annotations

from collections.abc import KeysView
from itertools import chain, compress, count
from operator import add, itemgetter

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
    PHRASE_HEADS,
    PHRASES,
    STATEMENT_FOLLOWERS,
    families,
    spelled,
)

# A message over BOUND_OVER characters is read by its first HEAD_CHARS and last TAIL_CHARS only, so its cost stays
# that of a typical message (the ask sits at the start or the end; the middle is mostly context and pastes). The real
# corpus keeps more of a long turn (scripts/real_corpus/text_rules.py), so a trimmed turn is read as the whole one.
BOUND_OVER = 700
HEAD_CHARS = 450
TAIL_CHARS = 150
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
# Words that may start a word pair or a phrase.
HEADS = frozenset(PAIR_HEADS) | PHRASE_HEADS
# Distinct chunks, tokens and words remembered (cleared when full), and the longest chunk or token worth remembering.
TOKEN_CACHE_SIZE = 16384
TOKEN_CACHE_MAX_CHARS = 64

# Whitespace-separated chunk of the lower-cased prose → the words of its tokens ("" for a name such as "plan.md" or
# "user_id"): no token spans whitespace, so a chunk's tokens are the same wherever it stands, and a message is read by
# one lookup per chunk. Token → its word, and word → (the word itself and its stem; those and the word's lexicon
# families; the families alone). Clearing the tokens and words clears the chunks too, so a remembered chunk's words
# always have entries.
WordInfo = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]
_CHUNKS: dict[str, tuple[str, ...]] = {}
_SPELLED: dict[str, str] = {}
_WORDS: dict[str, WordInfo] = {}
_own_of = itemgetter(0)
_all_of = itemgetter(1)
_families_of = itemgetter(2)


def _word_info(word: str) -> WordInfo:
    stem = (word[:STEM_CHARS] + STEM_MARK,) if STEM_CHARS < len(word) <= STEM_MAX_WORD_CHARS else ()
    word_families = families(word)
    return (word, *stem), (word, *stem, *word_families), word_families


def _word(token: str) -> str:
    """A token's word, its spelling repaired ("" for a name); a word seen for the first time has its families and stem
    found."""
    word = _SPELLED.get(token)
    if word is None:
        word = "" if "." in token or "/" in token or "_" in token else spelled(token)
        if word and word not in _WORDS:
            _WORDS[word] = _word_info(word)
        if len(token) <= TOKEN_CACHE_MAX_CHARS:
            _SPELLED[token] = word
    return word


def _words(lower: str, plain: bool) -> list[str]:
    """The word of each token of the lower-cased prose ("" for a name): one lookup per chunk; a chunk seen for the
    first time is tokenised once."""
    chunks = lower.split()
    known = _CHUNKS
    try:
        return list(chain.from_iterable(map(known.__getitem__, chunks)))
    except KeyError:
        pass
    if len(_SPELLED) >= TOKEN_CACHE_SIZE or len(_WORDS) >= TOKEN_CACHE_SIZE:
        _SPELLED.clear()
        _WORDS.clear()
        known.clear()
    elif len(known) >= TOKEN_CACHE_SIZE:
        known.clear()
    tokens_of = rx.TOKEN[plain].findall
    local = {}
    for chunk in set(chunks):
        words = known.get(chunk)
        if words is None:
            # Letters alone are one token (the pattern's word characters include every letter).
            words = (_word(chunk),) if chunk.isalpha() else tuple(map(_word, tokens_of(chunk)))
            if len(chunk) <= TOKEN_CACHE_MAX_CHARS:
                known[chunk] = words
        local[chunk] = words
    return list(chain.from_iterable(map(local.__getitem__, chunks)))


def _bounded(text: str) -> str:
    if len(text) <= BOUND_OVER:
        return text
    return text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]


def _split_paste(text: str, plain: bool) -> tuple[str, set[str]]:
    """Separate the user's prose from pasted code, traces, logs and diffs; report what was pasted."""
    pasted: set[str] = set()
    if "```" in text:
        parts = text.split("```")
        fenced = "\n".join(parts[1::2])
        text = "\n".join(parts[0::2])
        if fenced.strip():
            pasted.add("paste:code")
            pasted.update(rx.block_kinds(fenced, plain))
    if "\n" not in text:
        return text, pasted
    lines = text.splitlines()
    prose_lines = []
    for line, found in zip(lines, map(rx.paste_line(text, plain).match, lines)):
        if found is not None:
            pasted.add(rx.PASTE_KINDS[found.lastgroup or ""])
        elif line.rstrip().endswith((";", "{")):
            pasted.add("paste:code")
        else:
            prose_lines.append(line)
    return "\n".join(prose_lines), pasted


def _lead_feature(tokens: list[str]) -> str | None:
    """The intent of one sentence: its first word after openers such as "please" or "can you".

    An order word that is the subject of a statement ("build is green", "test keeps failing") or follows
    a bare "I"/"we" ("we keep getting paged", "I think there's a race") states something instead.
    """
    for i, token in enumerate(tokens[: rx.OPENING_WORDS - 1]):
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


def _regex_features(lower: str, words: KeysView[str], features: set[str], plain: bool) -> None:
    if len(lower) > rx.INTENT_HEAD_CHARS + rx.INTENT_TAIL_CHARS:
        lower = lower[: rx.INTENT_HEAD_CHARS] + "\n" + lower[-rx.INTENT_TAIL_CHARS :]
    for intent in rx.INTENTS:
        # The view tests each of the few needed words (a set would test each of the message's words).
        if not words.isdisjoint(intent.needs) and rx.matches(intent, lower, plain):
            features.add(intent.feature)
    if "why" in words and "debug:fail" in features and rx.matches(rx.WHY_FAILS, lower, plain):
        features.add(rx.WHY_FAILS.feature)
    if rx.has_measure(lower, plain):
        features.add("form:measure")


def _pairs(words: list[str], heads: list[int]) -> tuple[list[str], list[int]]:
    """Word pairs whose meaning differs from their head word ("error handling" is a coding object): their features
    and the positions of the words they replace, read left to right (a pair's second word starts no pair). `heads`:
    the positions of pair and phrase heads but the last."""
    found: list[str] = []
    replaced: list[int] = []
    for i in heads:
        pair = PAIR_HEADS.get(words[i])
        if pair is None or (replaced and replaced[-1] == i):
            continue
        followers, feature = pair
        if words[i + 1] in followers:
            found.append(feature)
            replaced += (i, i + 1)
    return found, replaced


def _phrases(words: list[str], heads: list[int], replaced: list[int]) -> list[str]:
    """Features of the two-word phrases ("stack trace") among the words, but for words a pair replaced."""
    found = []
    for i in heads:
        feature = PHRASES.get(words[i] + " " + words[i + 1])
        if feature is not None and i not in replaced:
            found.append(feature)
    return found


def _word_features(prose: str, features: set[str], plain: bool) -> KeysView[str]:
    """Features of the words of the prose (inline code and names such as paths, files and identifiers are left
    out and noted as `code:name`); returns the distinct words."""
    if "`" in prose:
        parts = prose.split("`")
        if len(parts) > 2:
            features.add("code:name")
            prose = " ".join(parts[0::2])
    words = _words(prose.lower(), plain)
    distinct = dict.fromkeys(words)
    if "" in distinct:  # a name: looked up among the distinct words, not along the message
        features.add("code:name")
        del distinct[""]
        words = list(filter(None, words))
    if not words:
        return distinct.keys()
    # Word pairs ("commit message", "is it", "write the") carry what single words lose; the first
    # BIGRAM_TOKENS words hold the ask in most messages and keep the count bounded.
    features.update(map(" ".join, zip(words[:BIGRAM_TOKENS], words[1:BIGRAM_TOKENS])))
    heads = [] if HEADS.isdisjoint(distinct) else list(compress(count(), map(HEADS.__contains__, words[:-1])))
    found, replaced = _pairs(words, heads)
    if found:
        # A pair replaces its two words' families and phrases.
        features.update(found, *map(_own_of, map(_WORDS.__getitem__, distinct)))
        left = words.copy()
        for i in replaced:
            left[i] = ""
        features.update(*map(_families_of, map(_WORDS.__getitem__, filter(None, dict.fromkeys(left)))))
    else:
        features.update(*map(_all_of, map(_WORDS.__getitem__, distinct)))
    features.update(_phrases(words, heads, replaced))
    return distinct.keys()


def extract_features(text: str) -> set[str]:
    """The named features of a message (rule features and bare words); the trained table scores them."""
    bounded = _bounded(text)
    plain = rx.is_plain(bounded)
    prose, features = _split_paste(bounded, plain)
    pasted = bool(features)
    correction = rx.correction_end(prose, plain)
    if 0 < correction < len(prose):
        prose = prose[correction:]
        features.add("form:correction")
    if rx.names_an_error(prose, plain):
        features.add("debug:error_name")
    words = _word_features(prose, features, plain)
    if not words:
        return features
    if "why" in words:
        features.add("reason:why")
    lower = prose.lower()
    # The head alone may be plain where the whole message is not.
    head = lower[: rx.INTENT_HEAD_CHARS]
    head_plain = plain or rx.is_plain(head)
    for sentence in rx.SENTENCE_SPLIT[head_plain].split(head):
        lead = _lead_feature(rx.opening(sentence, head_plain))
        if lead is not None:
            features.add(lead)
    _regex_features(lower, words, features, plain)
    stripped = prose.strip()
    # Scripts without spaces pack a word into a character or two: such a character counts as several.
    length = len(stripped)
    if not stripped.isascii():
        wide = len(rx.WIDE_CHAR.findall(stripped))
        if wide:
            _wide_features(stripped, features)
            length += (rx.WIDE_CHAR_WEIGHT - 1) * wide
    if length < SHORT_PROSE_CHARS and not pasted:
        features.add("len:short")
    elif length > LONG_PROSE_CHARS:
        features.add("len:long")
    if stripped.endswith("?"):
        features.add("form:question")
    return features


def _wide_features(stripped: str, features: set[str]) -> None:
    """Chinese, Japanese and Korean terms, polite request forms, and the character pairs of each run (for text that
    holds a character of those scripts: every term and form does)."""
    for term, feature in CJK_TERMS:
        if term in stripped:
            features.add(feature)
    if "code:verb" in features and any(marker in stripped for marker in CJK_REQUESTS):
        features.add("lead:code")
    for run in rx.WIDE_RUN.findall(stripped):
        features.update(map(add, run, run[1:]))
