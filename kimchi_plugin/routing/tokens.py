"""Token counts for context-aware routing: exact o200k_base counts from the rank file shipped in
``kimchi_plugin/data`` (no network), and a cheap estimate while the encoding loads or if it cannot be built.
"""

from __future__ import annotations

import binascii
import gzip
import hashlib
import string
import threading
import types
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

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
_DIGIT_B, _PUNCT_B, _SPACE_B, _NEWLINE_B, _TWO_B, _WIDE_B = (
    bytes([c]) for c in (_DIGIT, _PUNCT, _SPACE, _NEWLINE, _TWO, _WIDE)
)


def estimate_tokens(text: str) -> int:
    """Approximate o200k token count from byte-class counts: no encoding needed, ~0.5 ms per 100 KB."""
    if not text:
        return 0
    classes = text.encode("utf-8", "surrogatepass").translate(_BYTE_CLASSES)
    digits = classes.count(_DIGIT_B)
    punct = classes.count(_PUNCT_B)
    spaces = classes.count(_SPACE_B)
    newlines = classes.count(_NEWLINE_B)
    if text.isascii():
        two = wide = 0
    else:
        two = classes.count(_TWO_B)
        wide = classes.count(_WIDE_B)
    other = len(text) - digits - punct - spaces - newlines - two - wide
    estimate = (
        other * _WEIGHT_OTHER_ASCII
        + digits * _WEIGHT_DIGIT
        + punct * _WEIGHT_PUNCT
        + spaces * _WEIGHT_SPACE
        + newlines * _WEIGHT_NEWLINE
        + two * _WEIGHT_TWO_BYTE_CHAR
        + wide * _WEIGHT_WIDE_CHAR
    )
    return max(1, int(estimate + 0.5))


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
    spec = offline()
    if pinned != [digest]:
        raise RankFileError(f"tiktoken pins {pinned} for {ENCODING_NAME}, shipped file is {digest}")
    return spec


def build_encoding(rank_file: Path = RANK_FILE) -> tiktoken.Encoding:
    """Build the o200k_base Encoding from the gzipped rank file; raises on any mismatch (~300 ms)."""
    import tiktoken

    raw = gzip.decompress(rank_file.read_bytes())
    digest = hashlib.sha256(raw).hexdigest()
    if digest != O200K_SHA256:
        raise RankFileError(f"sha256 {digest} does not match pinned {O200K_SHA256}")
    return tiktoken.Encoding(**_tiktoken_spec(_parse_ranks(raw), digest))


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

    @property
    def exact(self) -> bool:
        return self._encoding is not None

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
        encoding = self._encoding
        if encoding is None:
            if self._claim():
                self._load()
                encoding = self._encoding
            if encoding is None:
                return estimate_tokens(text), False
        return len(encoding.encode_ordinary(text)), True

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


class ConversationTokens:
    """Token total of a conversation, counting each message once (bounded LRU keyed by message key).

    Keys identify a message's content (message id + part ids, or a hash). An entry is reused only if the
    text length still matches and the count was exact; estimates are recounted once the encoding is ready.
    Not thread-safe: use it from the event loop that handles hook calls.
    """

    def __init__(self, counter: TokenCounter, max_messages: int = DEFAULT_CACHED_MESSAGES) -> None:
        self._counter = counter
        self._max_messages = max_messages
        self._cache: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._cache)

    def total(self, messages: Iterable[tuple[str, str]]) -> int:
        """Sum of per-message tokens plus MESSAGE_OVERHEAD_TOKENS for each message."""
        cache = self._cache
        total = 0
        for key, text in messages:
            entry = cache.get(key)
            if entry is not None and entry[0] == len(text):
                cache.move_to_end(key)
                self.hits += 1
                tokens = entry[1]
            else:
                self.misses += 1
                tokens, exact = self._counter.measure(text)
                if exact:
                    cache[key] = (len(text), tokens)
                    cache.move_to_end(key)
                    if len(cache) > self._max_messages:
                        cache.popitem(last=False)
            total += tokens + MESSAGE_OVERHEAD_TOKENS
        return total
