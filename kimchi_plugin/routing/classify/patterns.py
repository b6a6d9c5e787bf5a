"""The classifier's patterns: pasted structure (tracebacks, logs, diffs, code), tokens, sentences, and the intent
phrasings that single words miss ("is this correct", "how should we", "fix the failing test").

Every pattern reads a bounded window, so its cost stays flat however long the message. The patterns the extractor
runs are compiled twice (`Twin`): plain text (ASCII and common punctuation that no class counts as a word character
or a space, without the separators \x1c-\x1f that Unicode classes count as spaces) matches the same under `re.ASCII`,
whose classes test faster; index a twin by `is_plain(text)`. A new pattern the extractor runs belongs in a twin too.
Each pattern of a twin is compiled when first used: a message reads a few of them, and most messages are plain.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple, cast

# A pattern for any text and the same pattern for plain text: `twin[is_plain(text)]`.
Twin = list[re.Pattern[str]]
# ASCII characters that Unicode classes count as spaces (`re.ASCII` does not).
_SEPARATORS = ("\x1c", "\x1d", "\x1e", "\x1f")
# Punctuation common in typed text (curly quotes, dashes, ellipsis, bullet, arrow) that neither form counts as a word
# character or a space: beyond ASCII, a plain text holds only these.
PLAIN_MARKS = ("\u2019", "\u2018", "\u201c", "\u201d", "\u2014", "\u2013", "\u2026", "\u2022", "\u2192")


def twin(source: str, flags: int = 0) -> Twin:
    pair: Twin = []
    for place, place_flags in enumerate((flags, flags | re.ASCII)):
        pair.append(cast(re.Pattern[str], _CompiledOnFirstUse(pair, place, source, place_flags)))
    return pair


class _CompiledOnFirstUse:
    """Holds a pattern's place in its twin until a method of it is first asked for: then the pattern is compiled and
    takes that place (two threads may both compile it: either copy serves)."""

    __slots__ = ("_flags", "_pair", "_place", "_source")

    def __init__(self, pair: Twin, place: int, source: str, flags: int) -> None:
        self._pair, self._place, self._source, self._flags = pair, place, source, flags

    def __getattr__(self, name: str) -> Any:
        pattern = self._pair[self._place] = re.compile(self._source, self._flags)
        return getattr(pattern, name)


def is_plain(text: str) -> bool:
    """Whether the plain-text twin of every pattern reads `text` as the general one does (string scans only: a
    character-class search would cost what the twins save)."""
    if not text.isascii():
        for mark in PLAIN_MARKS:
            if mark in text:
                text = text.replace(mark, "")
        if not text.isascii():
            return False
    return not any(separator in text for separator in _SEPARATORS)


# Pasted structure: a bounded line-wise scan, each pattern anchored at a line start.
TRACEBACK_LINE = (
    r"^\s*(?:Traceback \(most recent call last\)|File \"[^\"\n]{1,300}\", line \d|at [\w$.<>\[\]/]{1,200}"
    r" ?\(|at [^\s()]{1,300}:\d+:\d+|goroutine \d+ \[|thread '[^'\n]{1,100}' panicked|panic: |Caused by: |"
    r"Exception in thread |[\w.$]{0,200}(?:Error|Exception)(?::|\s*$)|E\s{2,}\w|error\[E\d{4}\])"
)
_LOG_MARKS = (
    r"^\s*(?:\[?(?:ERROR|FATAL|CRITICAL|WARN(?:ING)?)\b|npm ERR!|FAILED\b|FAIL\b|fatal:|error:|"
    r"Segmentation fault|Killed\b|Aborted\b"
)
# Two log alternatives scan up to 200 characters; a line without their literal parts skips them.
_LOG_SCANS = r"|\S{0,200}: command not found|.{0,200}\bexit (?:code|status) [1-9]"
_LOG_SCAN_LITERALS = (": command not found", "exit ")
LOG_LINE = _LOG_MARKS + _LOG_SCANS + ")"
DIFF_LINE = r"^(?:diff --git |@@ -\d|\+\+\+ [ab/]|--- [ab]/|index [0-9a-f]{6,}\.\.)"
CODE_LINE = (
    r"^(?:\s{2,}|\t)\S|^\s*(?:def |class |import |from [\w.]+ import|function |const |let |var |return\b|"
    r"if \(|for \(|#include|public |private |func |fn |package |@\w+|[}\])];?\s*$)"
)


def _paste_line(log: str) -> Twin:
    return twin(
        f"(?P<traceback>{TRACEBACK_LINE})|(?P<log>{log})|(?P<diff>{DIFF_LINE})|(?P<code>{CODE_LINE})", re.MULTILINE
    )


def _after_line_break(line_pattern: str) -> Twin:
    """A line pattern (`^` first, no other line-start anchor) that starts with the line break instead, for searching
    "\n" + text: the search jumps from line break to line break instead of trying every position."""
    return twin("\n" + line_pattern.removeprefix("^"), re.MULTILINE)


# What a fenced block holds: a line of each kind anywhere in it.
_BLOCK_KINDS = (
    ("paste:traceback", _after_line_break(TRACEBACK_LINE)),
    ("paste:log", _after_line_break(LOG_LINE)),
    ("paste:diff", _after_line_break(DIFF_LINE)),
)


def block_kinds(block: str, plain: bool) -> list[str]:
    """The kinds of pasted material (traceback, log, diff) that lines of a fenced block show."""
    lines = "\n" + block
    return [kind for kind, pattern in _BLOCK_KINDS if pattern[plain].search(lines)]


# A pasted line of any kind, tried in this order (a traceback line is not also a log line); the group that matched
# names the kind.
_PASTE_LINE = _paste_line(_LOG_MARKS + _LOG_SCANS + ")")
_PASTE_LINE_SHORT = _paste_line(_LOG_MARKS + ")")


def paste_line(text: str, plain: bool) -> re.Pattern[str]:
    """The pattern whose match of a line of `text` (its group names the kind) tells a pasted line from prose: the short
    form when no line can hold a literal of the long log alternatives."""
    if any(literal in text for literal in _LOG_SCAN_LITERALS):
        return _PASTE_LINE[plain]
    return _PASTE_LINE_SHORT[plain]


PASTE_KINDS = {"traceback": "paste:traceback", "log": "paste:log", "diff": "paste:diff", "code": "paste:code"}
# Words: r"[^\W\d_][\w']*|\d+". Tokens, with their dots and slashes ("plan.md", "src/db", "user_id" are names, not
# words): r"[^\W\d][\w']*(?:[./][\w']+)*|\d+(?:\.\d+)*". Both are written as one word character first and the
# alternative it starts checked behind it, so that the search skips to word characters instead of trying every position.
WORD = twin(r"\w(?:(?<=[^\W\d_])[\w']*|(?<=\d)\d*)")
TOKEN = twin(r"\w(?:(?<=[^\W\d])[\w']*(?:[./][\w']+)*|(?<=\d)\d*(?:\.\d+)*)")
# Sentence ends: "[.!?\n;:]+\s*", a dash between spaces ("\s[—–-]+\s"), a comma before a new clause (",\s+(?=and|…)").
# Written with the first character as one class so that the search skips to candidates instead of trying every position;
# a dash end starts at the dash (the space before it stays with the sentence, which is read by its words), so that a
# space is no candidate.
SENTENCE_SPLIT = twin(
    r"[.!?\n;:,—–-](?:(?<=[.!?\n;:])[.!?\n;:]*\s*|(?<=\s[—–-])[—–-]*\s|"
    r"(?<=,)\s+(?=(?:and|then|also|but|just|so|now|please)\b))"
)
# A sentence's lead is one of its first six words, read with the word after it: OPENING_WORDS words, found in the
# first OPENING_FIRST_CHARS characters (most sentences) or the first OPENING_SCAN_CHARS when those hold more (the last
# word found there may be cut short).
OPENING_WORDS = 7
OPENING_FIRST_CHARS = 60
OPENING_SCAN_CHARS = 120


def opening(sentence: str, plain: bool) -> list[str]:
    """The words of a sentence, or at least its first OPENING_WORDS. A window of ASCII letters and spaces alone (most
    sentence openings) is split at its spaces: its words are its runs of letters, as WORD finds them."""
    find = WORD[plain].findall
    for end in (OPENING_FIRST_CHARS, OPENING_SCAN_CHARS):
        window = sentence[:end]
        simple = window.isascii() and window.replace(" ", "").isalpha()
        words: list[str] = window.split() if simple else find(sentence, 0, end)
        if len(words) > OPENING_WORDS or len(sentence) <= end:
            return words
    return find(sentence)


# An identifier naming an error: TypeError, OOMKilled, EXC_BAD_ACCESS, CERTIFICATE_VERIFY_FAILED.
ERROR_WORDS = ("Error", "Exception", "Killed", "Fault", "Panic")
# Each alternative runs only when the text holds its literal part.
_ERROR_CODES: tuple[tuple[str, Twin], ...] = (
    ("_", twin(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]*(?:FAILED|ERROR|ACCESS|DENIED|REFUSED|TIMEOUT|NOT_FOUND)\b")),
    ("E", twin(r"E(?<!\wE)[A-Z]{4,}\b")),  # \bE…: the literal first lets the search skip ahead
    ("0x", twin(r"\b0x[0-9a-fA-F]{4,}")),
    ("exit ", twin(r"\bexit (?:code|status) [1-9]")),
)


def names_an_error(text: str, plain: bool) -> bool:
    """Whether the text names an error: TypeError, OOMKilled, EXC_BAD_ACCESS, ECONNRESET, 0xdeadbeef, exit code 1."""
    if any(word[0] in text and word in text for word in ERROR_WORDS):  # a letter is found faster than a word
        return True
    return any(literal in text and pattern[plain].search(text) for literal, pattern in _ERROR_CODES)


# A self-correction ("plan the sprint? no, sorry — add …") voids what came before it; it sits near the start.
CORRECTION_SCAN_CHARS = 200
# Its question mark or phrase starts within CORRECTION_REACH characters of the start.
CORRECTION_REACH = 120
CORRECTION = twin(
    rf"^.{{0,{CORRECTION_REACH}}}?(?:\?\s*(?:no|nope|nah|not|actually|i don'?t)\b[^\w]*(?:wait|sorry|actually)?|"
    r"\b(?:no wait|scratch that|never ?mind|on second thought)\b)[\s,.!—–-]*",
    re.IGNORECASE,
)
# A question mark in the first CORRECTION_REACH + 1 characters or one of these phrases is in the lower-cased head of
# every text CORRECTION matches (for plain text, where lower() and IGNORECASE agree).
_CORRECTION_PHRASES = ("no wait", "scratch that", "never", "on second thought")


def correction_end(prose: str, plain: bool) -> int:
    """Where a self-correction at the start of the prose ends (0: none)."""
    head = prose[:CORRECTION_SCAN_CHARS]
    plain = plain or is_plain(head)  # the head alone may be plain where the whole message is not
    if plain:
        lowered = head.lower()
        if "?" not in lowered[: CORRECTION_REACH + 1] and not any(phrase in lowered for phrase in _CORRECTION_PHRASES):
            return 0
    found = CORRECTION[plain].match(head)
    return 0 if found is None else found.end()


IS_THIS_OK = twin(
    r"\b(?:is|are|does|do) (?:this|that|it|my|the|our|these|those)\b[^.?!\n]{0,50}?\b(?:correct(?:ly)?|right|ok|"
    r"okay|safe|good|fine|idiomatic|reasonable|sound|secure|solid|acceptable|properly)\b|\bany (?:issues|problems|"
    r"bugs|concerns|gotchas|red flags)\b|\bhow (?:bad|serious|risky|dangerous|exploitable) is\b|\bwhat do you think\b|"
    r"\bwhat would you (?:change|improve)\b|\b(?:you'?d|you would) do differently\b|"
    r"\banything (?:wrong|off|missing)\b|\bdid i miss\b"
)
REVIEW_CHECK = twin(
    r"\b(?:check|verify|confirm|make sure|go over|go through|look over|look through|look for|scan|audit|"
    r"double[- ]check|tell me if|take a (?:critical |"
    r"close |hard |careful |second )?look)\b[^.?!\n]{0,90}?\b(?:correct(?:ly)?|secure|safe|permissive|vulnerab\w*|"
    r"risk\w*|break|leak\w*|sound|can|could|anything|properly|race|edge cases?|missing|bugs|issues|problems)\b"
)
PLAN_QUESTION = twin(
    r"\bwhat(?:'s| is| are| would be)? (?:the |a )?(?:best|better|right|cleanest|simplest|proper|recommended|ideal|"
    r"sensible|idiomatic|preferred|correct) (?:way|approach|pattern|strategy|design|architecture|granularity|"
    r"structure|setup|stack)|\bhow (?:should|would|could|do|can|might) (?:we|i|you) (?:best )?(?:design|"
    r"structure|approach|architect|organi[sz]e|model|handle|scale|migrate|split|roll|tackle|get this|"
    r"go about|plan|evolve|rethink)|\bhow to (?:structure|design|approach|architect|organi[sz]e|model|scale|"
    r"migrate)|\bwhat (?:should|would|could) [^.?!\n]{0,60}\blook like|\bwhat stack\b|\bwhere should\b|"
    r"\bhow (?:do|can|should|would|could) we\b|\b(?:which|what) would you (?:pick|choose|use|recommend|do)\b|"
    r"\bwhere would you (?:look|start|begin)\b|\bhow (?:invasive|risky|hard|much work|big a change)\b|"
    r"\b(?:worth it|or overkill|or not)\b|\bwhat would it take\b|"
    r"\bwhere (?:do|should|would) (?:we|i) (?:start|begin)\b|"
    r"\bis there a (?:cleaner|better|simpler|nicer|smarter|generic|more \w+) (?:way|approach|design|pattern)\b|"
    r"\bwhich (?:database|db|stack|framework|library|approach|option|"
    r"queue|broker|orm|pattern|one should)\b"
)
ALTERNATIVES = twin(r", \w+,? or \w+\??| or \w+\?\s*(?:\w+ )?(?:query|we|our|it|the)\b")
HOWTO = twin(
    r"\bhow (?:do|can|would) (?:i|you|one)\b|\bhow to\b|\bwhat'?s the (?:command|syntax|flag)\b|"
    r"\bis there a (?:way|command|flag|shortcut)\b"
)
# r"\b\d+…", written with the digit first so that the search skips to digits instead of trying every position.
MEASURE = twin(r"\d(?<!\w\d)\d*(?:\.\d+)?\s?(?:ms|s|sec|secs|seconds|minutes|mins|mb|gb|tb|kb|mi|gi|%|x|rps|qps)(?!\w)")


def has_measure(text: str, plain: bool) -> bool:
    """Whether the text gives a measurement ("300ms", "2 GB", "40%")."""
    return MEASURE[plain].search(text) is not None


# A general concept question ("what's a stack trace?", "what does idempotent mean?") asks for an
# explanation, whatever failure or design word it names.
CONCEPT = twin(
    r"^(?:\W*(?:so|ok|quick question|q)\W+)?(?:what(?:'s| is| are) (?:a|an)\b|what(?:'s| is) the difference|"
    r"what(?:'s| is| are) [\w -]{1,30}\?$|what does [\w -]{1,30} (?:mean|stand for)\b|"
    r"(?:what's|what is) the meaning|difference between|is [\w -]{1,30} the same as|"
    r"why is it called|why do (?:people|folks|devs|developers|teams|most|many|so many)\b|"
    r"how does [\w -]{1,30} work in general|explain (?:what|the difference))"
)
# Reviewing failure output is diagnosis, not code review: "review this stack trace".
INSPECT_FAILURE = twin(
    r"\b(?:review|look at|check|go over|read|inspect|analy[sz]e)\b[^.?!\n]{0,30}?\b(?:stack ?traces?|tracebacks?|"
    r"logs?|errors?|crash(?:es)?|dumps?|exceptions?|core ?dumps?|panics?)\b"
)
# A thing that does not do what it should: "switching language doesn't update the page".
INACTION = twin(
    r"\b(?:doesn'?t|does not|isn'?t|won'?t|didn'?t|don'?t|aren'?t|can'?t|cannot|never|no longer) (?:\w+ ){0,2}?"
    r"(?:work|update|load|render|show|fire|trigger|run|start|save|persist|apply|match|change|refresh|redirect|"
    r"connect|compile|build|return|get|respond|close|stop|finish|exit|happen|appear|reach|send|receive|"
    r"pick|clear|reset|release|resolve|find|read|write|sync|propagate)\w*\b"
)
# "Fix" of a failure whose cause the message does not give ("fix the red test in ci") is a diagnosis.
FIX_FAILURE = twin(r"\bfix (?:the |this |that |our |my |all )?(?:failing|red|broken|flaky|crashing|failed|hanging)\b")
KNOWN_CAUSE = twin(r"\b(?:is|was|are|were) (?:because|caused by|due to)\b|\bthe (?:fix|cause) is\b")
WHY_BROKEN = twin(r"\bwhy (?:is|does|do|did|are|am|would|won't|doesn't|isn't|can't|it|the|this|my|our|we|i)\b")

# Chinese, Japanese (kana included) and Korean characters, each worth about a short word.
WIDE = r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]"
WIDE_CHAR: re.Pattern[str]
WIDE_CHAR_WEIGHT = 4
# Runs of those scripts. Chinese and Japanese have no spaces, so a run is a whole clause; its character
# pairs ("原因", "設計", "리뷰") stand in for words in the trained table.
WIDE_RUN: re.Pattern[str]
# Compiled when first read (module `__getattr__`): only text beyond ASCII is searched with them, and their character
# class alone costs ~5 ms to compile.
_ON_FIRST_USE = {"WIDE_CHAR": WIDE, "WIDE_RUN": WIDE + "{2,}"}


def __getattr__(name: str) -> re.Pattern[str]:
    source = _ON_FIRST_USE.get(name)
    if source is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    pattern = globals()[name] = re.compile(source)
    return pattern


# Intent patterns run over a bounded window of the prose, and only when a word they need is present.
INTENT_HEAD_CHARS = 400
INTENT_TAIL_CHARS = 300


class Intent(NamedTuple):
    """An intent phrasing: the feature it gives, its pattern, the words without which it cannot match, and the
    literal texts one of which starts every match (exactly where the match starts: the pattern is tried there alone)."""

    feature: str
    pattern: Twin
    needs: frozenset[str]
    starts: tuple[str, ...] = ()


def _cause_starts() -> tuple[str, ...]:
    verbs, causes = ("is", "was", "are", "were"), ("because", "caused by", "due to")
    return (*(f"{verb} {cause}" for verb in verbs for cause in causes), "the fix is", "the cause is")


INTENTS: tuple[Intent, ...] = (
    Intent(
        "review:question",
        IS_THIS_OK,
        frozenset(["is", "are", "does", "do", "any", "what", "anything", "did", "how", "differently"]),
        ("is ", "are ", "does ", "do ", "any", "how ", "what ", "you", "did i miss"),
    ),
    Intent(
        "review:check",
        REVIEW_CHECK,
        frozenset(["check", "verify", "confirm", "sure", "go", "look", "audit", "double", "tell", "take", "scan"]),
        ("check", "verify", "confirm", "make sure", "go ", "look ", "scan", "audit", "double", "tell me if", "take a "),
    ),
    Intent(
        "plan:question",
        PLAN_QUESTION,
        frozenset(["what", "what's", "whats", "how", "where", "which", "worth", "overkill", "or", "is"]),
        ("what", "how ", "where ", "which ", "worth it", "or overkill", "or not", "is there a "),
    ),
    Intent("plan:alternatives", ALTERNATIVES, frozenset(("or",)), (", ", " or ")),
    Intent("assist:howto", HOWTO, frozenset(["how", "what's", "whats", "is"]), ("how ", "what", "is there a ")),
    Intent(
        "debug:inaction",
        INACTION,
        frozenset(
            [
                "doesn't",
                "doesnt",
                "isn't",
                "won't",
                "didn't",
                "don't",
                "aren't",
                "can't",
                "cannot",
                "never",
                "not",
                "longer",
            ]
        ),
        ("doesn", "does not", "isn", "won", "didn", "don", "aren", "can", "never", "no longer"),
    ),
    # Anchored at the start: nothing to skip.
    Intent("assist:concept", CONCEPT, frozenset(["what", "what's", "is", "difference", "why", "how", "explain"])),
    Intent(
        "debug:inspect",
        INSPECT_FAILURE,
        frozenset(["review", "look", "check", "go", "read", "inspect", "analyze", "analyse"]),
        ("review", "look at", "check", "go over", "read", "inspect", "analy"),
    ),
    Intent("debug:known_cause", KNOWN_CAUSE, frozenset(["because", "caused", "due", "fix", "cause"]), _cause_starts()),
    Intent("debug:fix_failure", FIX_FAILURE, frozenset(("fix",)), ("fix ",)),
)


# A failure asked about ("why does it crash"), tried when the message names a failure.
WHY_FAILS = Intent("debug:why", WHY_BROKEN, frozenset(("why",)), ("why ",))


def matches(intent: Intent, text: str, plain: bool) -> bool:
    """Whether the intent's pattern matches the text: tried only where one of its literal starts occurs (string
    searches find them; a pattern search would try every position)."""
    pattern = intent.pattern[plain]
    if not intent.starts:
        return pattern.search(text) is not None
    match = pattern.match
    find = text.find
    for start in intent.starts:
        at = find(start)
        while at >= 0:
            if match(text, at):
                return True
            at = find(start, at + 1)
    return False
