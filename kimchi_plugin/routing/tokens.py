"""Token counts for context-aware routing: exact o200k_base counts from the rank file shipped in
``kimchi_plugin/data`` (no network), and a cheap estimate while the encoding loads or if it cannot be built.
"""

from __future__ import annotations

import binascii
import gzip
import hashlib
import os
import queue
import re
import string
import sys
import threading
import types
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from kimchi_plugin.lru import Lru

if TYPE_CHECKING:
    import tiktoken

ENCODING_NAME = "o200k_base"
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
RANK_FILE = Path(__file__).resolve().parent.parent / "data" / "o200k_base.tiktoken.gz"
_ERROR_TEXT_LIMIT = 200

# Estimate: tokens ≈ Σ weight × count per byte class, a least-squares fit against exact o200k counts on
# stdlib Python, npm JS / package.json / READMEs, hook-like JSON, licence prose, CJK and European text.
# Measured (scripts/bench_tokens.py): per content type -7 % … +5 % where bytes/4 is off by -26 % (JSON)
# to +20 % (prose) and chars/4 by -50 % (CJK); per 2,000-char chunk |error| median 6 %, p90 12 %
# (fitted on the first half of each sample, the second half alone: median 6 %, p90 14 %).
_WEIGHT_OTHER_ASCII = 0.2  # letters and control bytes: words are several letters per token
_WEIGHT_DIGIT = 1.55  # numbers split into ≤3-digit pieces and sit among punctuation (versions, hashes)
_WEIGHT_PUNCT = 0.44  # JSON quotes, escapes, operators: punctuation runs split often
_WEIGHT_SPACE = 0.15  # a single space merges into the next word; indentation runs collapse
_WEIGHT_NEWLINE = 0.8  # each line break (plus its indentation) is at least one token
_WEIGHT_TWO_BYTE_CHAR = 0.41  # accented Latin, Greek, Cyrillic: per character
_WEIGHT_WIDE_CHAR = 0.72  # CJK and other 3/4-byte UTF-8 characters: per character

_OTHER, _DIGIT, _PUNCT, _SPACE, _NEWLINE, _CONT, _TWO, _WIDE = b"adp \nc2w"


def _byte_class_table() -> bytes:
    table = bytearray([_OTHER]) * 256
    for cls, members in (
        (_DIGIT, string.digits.encode()),
        (_PUNCT, string.punctuation.encode()),
        (_SPACE, b" \t"),
        (_NEWLINE, b"\r\n"),
        (_CONT, bytes(range(0x80, 0xC0))),
        (_TWO, bytes(range(0xC0, 0xE0))),
        (_WIDE, bytes(range(0xE0, 0x100))),
    ):
        for byte in members:
            table[byte] = cls
    return bytes(table)


_BYTE_CLASSES = _byte_class_table()
_OTHER_BYTES = bytes(b for b in range(256) if _BYTE_CLASSES[b] == _OTHER)  # letters, control bytes: what is left
_DIGIT_B, _PUNCT_B, _SPACE_B, _NEWLINE_B, _TWO_B, _WIDE_B = (
    bytes([c]) for c in (_DIGIT, _PUNCT, _SPACE, _NEWLINE, _TWO, _WIDE)
)


ESTIMATE_SAMPLE_ABOVE = 256 * 1024  # characters; a longer text is estimated from evenly spaced slices
_SAMPLE_SLICES = 32
_SAMPLE_CHARS = 4096


def estimate_tokens(text: str) -> int:
    """Approximate o200k token count from byte-class counts: no encoding needed, ~0.5 ms per 100 KB, and bounded
    (~0.7 ms) above ESTIMATE_SAMPLE_ABOVE characters, where slices of the text stand for the whole."""
    if len(text) > ESTIMATE_SAMPLE_ABOVE:
        step = len(text) // _SAMPLE_SLICES
        sample = sum(_estimate(text[i * step : i * step + _SAMPLE_CHARS]) for i in range(_SAMPLE_SLICES))
        return max(1, int(sample * len(text) / (_SAMPLE_SLICES * _SAMPLE_CHARS) + 0.5))
    return max(1, int(_estimate(text) + 0.5)) if text else 0


def _estimate(text: str) -> float:
    # One pass classifies every byte and drops class _OTHER (letters: most of any text), so the counts run over the
    # rest; the characters of class _OTHER are those no other class counts.
    classes = text.encode("utf-8", "surrogatepass").translate(_BYTE_CLASSES, _OTHER_BYTES)
    digits = classes.count(_DIGIT_B)
    punct = classes.count(_PUNCT_B)
    spaces = classes.count(_SPACE_B)
    if text.isascii():  # nothing but digits, punctuation, spaces and line breaks is left
        two = wide = 0
        newlines = len(classes) - digits - punct - spaces
    else:
        newlines = classes.count(_NEWLINE_B)
        two = classes.count(_TWO_B)
        wide = classes.count(_WIDE_B)
    other = len(text) - digits - punct - spaces - newlines - two - wide
    return (
        other * _WEIGHT_OTHER_ASCII
        + digits * _WEIGHT_DIGIT
        + punct * _WEIGHT_PUNCT
        + spaces * _WEIGHT_SPACE
        + newlines * _WEIGHT_NEWLINE
        + two * _WEIGHT_TWO_BYTE_CHAR
        + wide * _WEIGHT_WIDE_CHAR
    )


class RankFileError(ValueError):
    """The shipped rank file is not the o200k_base file tiktoken pins."""


def _parse_ranks(raw: bytes) -> dict[bytes, int]:
    fields = iter(raw.split())
    return {binascii.a2b_base64(token): int(rank) for token, rank in zip(fields, fields)}


def _tiktoken_spec(ranks: dict[bytes, int], digest: str) -> dict[str, Any]:
    """Run tiktoken's own o200k_base constructor with its downloader swapped for our ranks.

    This takes the pattern string and special tokens from the installed ``tiktoken_ext.openai_public``
    instead of copying them. The constructor runs on a private copy of its module globals (nothing is
    patched); every other ``tiktoken.load`` helper is replaced by one that refuses, so it cannot fetch.
    """
    import tiktoken.load
    from tiktoken_ext import openai_public

    pinned: list[str | None] = []

    def offline_bpe(_url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        pinned.append(expected_hash)
        return ranks

    def refuse_fetch(*_args: object, **_kwargs: object) -> None:
        raise RankFileError(f"{ENCODING_NAME} constructor asked for data that is not shipped")

    namespace = {
        name: refuse_fetch if getattr(value, "__module__", None) == tiktoken.load.__name__ else value
        for name, value in vars(openai_public).items()
    }
    namespace["load_tiktoken_bpe"] = offline_bpe
    constructor = openai_public.ENCODING_CONSTRUCTORS[ENCODING_NAME]
    offline = types.FunctionType(
        constructor.__code__, namespace, constructor.__name__, constructor.__defaults__, constructor.__closure__
    )
    spec: dict[str, Any] = offline()
    if pinned != [digest]:
        raise RankFileError(f"tiktoken pins {pinned} for {ENCODING_NAME}, shipped file is {digest}")
    return spec


# glibc raises its mmap threshold to the size of a larger mapped block when it is freed (and its trim threshold to
# twice that), so unaided the build's later transients (rank dict tables, split fields, the core's own) come from the
# loading thread's heap, whose top then stays resident (~4 MB): a thread heap is trimmed only above that raised trim
# threshold, and malloc_trim never shrinks one. So the build runs at glibc's starting threshold (its transients are
# mapped and go back when freed), then leaves both thresholds where freeing the rank dict would have put them.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameter numbers (malloc.h)
_GLIBC_START_MMAP_THRESHOLD = 128 * 1024


def _glibc_mallopt() -> Callable[[int, int], int] | None:
    """glibc's mallopt, or None on another C library (nothing to tune there)."""
    try:
        if not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"):
            return None
        import ctypes

        mallopt: Callable[[int, int], int] = ctypes.CDLL(None).mallopt
        return mallopt
    except (ValueError, OSError, AttributeError):  # no such confstr name, no C library handle, no mallopt
        return None


def build_encoding(rank_file: Path = RANK_FILE) -> tiktoken.Encoding:
    """Build the o200k_base Encoding from the gzipped rank file; raises on any mismatch (~300 ms).

    The Encoding keeps a Python copy of the rank table (~27 MB) only to be pickled; the Rust core holds its own, so
    the copy is dropped once the core is built (encoding and decoding are unaffected; pickling is not supported)."""
    import tiktoken

    mallopt = _glibc_mallopt()
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, _GLIBC_START_MMAP_THRESHOLD)
    freed = _GLIBC_START_MMAP_THRESHOLD
    try:
        raw = gzip.decompress(rank_file.read_bytes())
        digest = hashlib.sha256(raw).hexdigest()
        if digest != O200K_SHA256:
            raise RankFileError(f"sha256 {digest} does not match pinned {O200K_SHA256}")
        ranks = _parse_ranks(raw)
        freed = max(freed, sys.getsizeof(ranks))
        encoding = tiktoken.Encoding(**_tiktoken_spec(ranks, digest))
        encoding._mergeable_ranks = {}
        return encoding
    finally:
        if mallopt is not None:
            mallopt(_M_MMAP_THRESHOLD, freed)
            mallopt(_M_TRIM_THRESHOLD, 2 * freed)


# Exact counts cost is bounded: a text longer than EXACT_MAX_CHARS is always estimated (its exact count cannot change a
# decision: it is far from every threshold either way), and a run of one repeated character, which the BPE merges in
# time that grows with the run (~20x slower than prose), is counted from one block and multiplied (±1 token a run).
EXACT_MAX_CHARS = 256 * 1024
_RUN_CHARS = 256
_RUN = re.compile(rf"(.)\1{{{_RUN_CHARS - 1},}}", re.DOTALL)
_RUN_BLOCK = 1024


class TokenCounter:
    """o200k_base token counts: exact once the encoding is loaded, estimated before that or if it fails.

    Loading happens once: in a daemon thread after ``start_background_load()``, or else synchronously on
    the first ``count()``. While a background load runs, counts are estimates. A failed load logs one
    warning and leaves the counter estimating for good; nothing here raises.
    """

    def __init__(self, rank_file: Path = RANK_FILE) -> None:
        self._rank_file = rank_file
        self._encoding: tiktoken.Encoding | None = None
        self._claim_lock = threading.Lock()
        self._claimed = False
        self._settled = threading.Event()
        self._run_blocks: dict[str, int] = {}

    @property
    def exact(self) -> bool:
        return self._encoding is not None

    @property
    def failed(self) -> bool:
        """The load was tried and failed: counts stay estimates for good."""
        return self._settled.is_set() and self._encoding is None

    def start_background_load(self) -> None:
        if self._claim():
            threading.Thread(target=self._load, name="kimchi-o200k-load", daemon=True).start()

    def wait_until_loaded(self, timeout: float | None = None) -> bool:
        """Start loading if needed, wait for it to finish; True when counts are exact."""
        self.start_background_load()
        self._settled.wait(timeout)
        return self.exact

    def count(self, text: str) -> int:
        return self.measure(text)[0]

    def measure(self, text: str) -> tuple[int, bool]:
        """Token count of ``text`` and whether it is exact. Special-token text counts as plain text."""
        if self._encoding is None and self._claim():
            self._load()
        counted = self.counted(text)
        return (counted, True) if counted is not None else (estimate_tokens(text), False)

    def counted(self, text: str) -> int | None:
        """The exact count when the encoding is ready and the text not too long, else None; never loads."""
        encoding = self._encoding
        if encoding is None or len(text) > EXACT_MAX_CHARS:
            return None
        if len(text) < _RUN_CHARS:
            return len(encoding.encode_ordinary(text))
        total, last = 0, 0
        for run in _RUN.finditer(text):
            total += len(encoding.encode_ordinary(text[last : run.start()])) + self._run(run.group(1), len(run[0]))
            last = run.end()
        return total + len(encoding.encode_ordinary(text[last:]))

    def _run(self, char: str, length: int) -> int:
        assert self._encoding is not None
        block = self._run_blocks.get(char)
        if block is None:
            block = len(self._encoding.encode_ordinary(char * _RUN_BLOCK))
            if len(self._run_blocks) < 256:
                self._run_blocks[char] = block
        return block * (length // _RUN_BLOCK) + len(self._encoding.encode_ordinary(char * (length % _RUN_BLOCK)))

    def _claim(self) -> bool:
        with self._claim_lock:
            if self._claimed:
                return False
            self._claimed = True
            return True

    def _load(self) -> None:
        try:
            self._encoding = build_encoding(self._rank_file)
        except Exception as exc:  # any failure means: keep estimating
            structlog.get_logger(__name__).warning(
                "token_encoding_unavailable",
                encoding=ENCODING_NAME,
                path=str(self._rank_file),
                error=f"{type(exc).__name__}: {exc}"[:_ERROR_TEXT_LIMIT],
            )
        finally:
            self._settled.set()


# Chat framing per message (role marker, separators): OpenAI documents 3 tokens for its chat models,
# ChatML-style templates (<|im_start|>role\n … <|im_end|>\n) spend 4-5.
MESSAGE_OVERHEAD_TOKENS = 4
DEFAULT_CACHED_MESSAGES = 20_000
# The estimate is within ±7 % by content type (p90 14 % on 2,000-character chunks): a conversation estimated below
# ESTIMATE_MARGIN of the nearest token threshold (compaction, model upgrade) cannot have reached it.
ESTIMATE_MARGIN = 0.8
INLINE_CHARS = 256 * 1024  # new text counted exactly within one call; the rest is counted off the caller's thread
QUEUED_CHARS = 16 * 1024 * 1024  # text waiting for the counting thread at most


def exact_from_for(nearest_threshold: int) -> int:
    """`exact_from` for a conversation whose nearest token threshold (e.g. compaction share of the smallest window,
    less the request overhead) is `nearest_threshold` tokens."""
    return max(0, int(nearest_threshold * ESTIMATE_MARGIN))


class ConversationTokens:
    """Token total of a conversation, counting each message once (bounded LRU keyed by message key).

    Keys identify a message's content (message id + part ids, or a hash). An entry is reused only if the
    text length still matches and the count was exact. A call's cost is bounded whatever the input: until the
    conversation nears `exact_from` tokens it is estimated (and the encoding is not loaded); from there, new text is
    counted exactly up to INLINE_CHARS per call and the rest by a background thread, whose counts the next calls
    use (estimates stand in meanwhile). Not thread-safe: use it from the event loop that handles hook calls.
    """

    def __init__(self, counter: TokenCounter, max_messages: int = DEFAULT_CACHED_MESSAGES, exact_from: int = 0) -> None:
        self._counter = counter
        self.exact_from = exact_from
        """Estimated total below which counts stay estimates and the encoding is not loaded (see `exact_from_for`)."""
        self._cache: Lru[str, tuple[int, int]] = Lru(max_messages)
        self._todo: queue.SimpleQueue[list[tuple[str, str]] | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[tuple[str, int, int]] = queue.SimpleQueue()
        self._queued: dict[str, int] = {}  # key → characters handed to the counting thread
        self._worker: threading.Thread | None = None
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._cache)

    def total(self, messages: Iterable[tuple[str, str]]) -> int:
        """Sum of per-message tokens plus MESSAGE_OVERHEAD_TOKENS for each message."""
        self._collect()
        cache, counter = self._cache, self._counter
        inline = INLINE_CHARS
        later: list[tuple[str, str]] = []
        total = 0
        for key, text in messages:
            entry = cache.get(key)
            if entry is not None and entry[0] == len(text):
                self.hits += 1
                tokens = entry[1]
            else:
                self.misses += 1
                exact = counter.counted(text) if len(text) <= inline else None
                if exact is not None:
                    inline -= len(text)
                    cache.put(key, (len(text), exact))
                    tokens = exact
                else:
                    tokens = estimate_tokens(text)
                    if len(text) <= EXACT_MAX_CHARS and key not in self._queued:
                        later.append((key, text))
            total += tokens + MESSAGE_OVERHEAD_TOKENS
        if later and not counter.failed and (counter.exact or total >= self.exact_from):
            self._count_later(later)
        return total

    def _collect(self) -> None:
        while not self._done.empty():
            key, length, tokens = self._done.get_nowait()
            self._queued.pop(key, None)
            if tokens >= 0:
                self._cache.put(key, (length, tokens))

    def _count_later(self, items: list[tuple[str, str]]) -> None:
        room = QUEUED_CHARS - sum(self._queued.values())
        batch = []
        for key, text in items:
            if len(text) > room:
                break
            room -= len(text)
            self._queued[key] = len(text)
            batch.append((key, text))
        if not batch:
            return
        if self._worker is None:
            self._worker = threading.Thread(target=self._count_queued, name="kimchi-token-count", daemon=True)
            self._worker.start()
        self._todo.put(batch)

    def _count_queued(self) -> None:
        """The counting thread: loads the encoding if nobody has, then counts (tiktoken releases the GIL)."""
        counter = self._counter
        while (batch := self._todo.get()) is not None:
            counter.wait_until_loaded()
            for key, text in batch:
                exact = counter.counted(text)
                self._done.put((key, len(text), -1 if exact is None else exact))
