"""Token counting: exact o200k counts from the shipped rank file, offline, with a safe estimate fallback."""

from __future__ import annotations

import gzip
import hashlib
import inspect
import socket
import textwrap
import threading

import pytest
import structlog
import tiktoken
from tiktoken_ext import openai_public

from kimchi_plugin.routing import tokens
from kimchi_plugin.routing.tokens import (
    MESSAGE_OVERHEAD_TOKENS,
    O200K_SHA256,
    RANK_FILE,
    ConversationTokens,
    TokenCounter,
    estimate_tokens,
)

O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"

CJK_TEXT = (
    "路由器根据每条消息的内容选择模型。规划和调试需要推理能力，实现和重构需要编码能力，"
    "简单的问题用快速模型回答。日本語の文章も含めます：このプラグインは会話の長さを数えて、"
    "文脈が大きすぎる場合は別のモデルを選びます。한국어 문장도 조금 넣습니다. "
) * 20

SAMPLES = [
    "hello world",
    "",
    "  leading and trailing  ",
    "def f(x):\n        return x ** 2  # squared\n",
    '{"sessionID": "ses_01J9", "parts": [{"type": "text", "text": "fix the bug"}], "n": 12345}',
    "Ünïcödé — ĉàfé, Привет мир, Γειά σου",
    CJK_TEXT,
    "emoji 🚀🔥 and a lone surrogate \ud800 end",
]


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    loaded = TokenCounter()
    assert loaded.wait_until_loaded(timeout=60)
    return loaded


@pytest.fixture(scope="module")
def reference_encoding(tmp_path_factory: pytest.TempPathFactory) -> tiktoken.Encoding:
    """o200k built by tiktoken's own constructor and loader, fed from a cache dir (no network)."""
    cache = tmp_path_factory.mktemp("tiktoken-cache")
    raw = gzip.decompress(RANK_FILE.read_bytes())
    (cache / hashlib.sha1(O200K_URL.encode()).hexdigest()).write_bytes(raw)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIKTOKEN_CACHE_DIR", str(cache))
        mp.setattr(socket, "getaddrinfo", lambda *_a, **_k: pytest.fail("network access attempted"))
        return tiktoken.Encoding(**openai_public.o200k_base())


def test_shipped_file_is_the_one_tiktoken_pins() -> None:
    raw = gzip.decompress(RANK_FILE.read_bytes())
    assert hashlib.sha256(raw).hexdigest() == O200K_SHA256
    assert f'expected_hash="{O200K_SHA256}"' in inspect.getsource(openai_public.o200k_base)


def test_spec_comes_from_tiktoken_and_must_match_its_pin() -> None:
    spec = tokens._tiktoken_spec({b"a": 0}, O200K_SHA256)
    assert spec["special_tokens"] == {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}
    assert spec["mergeable_ranks"] == {b"a": 0}
    with pytest.raises(tokens.RankFileError):
        tokens._tiktoken_spec({b"a": 0}, "0" * 64)


def test_known_counts_and_ids(counter: TokenCounter) -> None:
    assert counter.count("hello world") == 2
    assert tokens.build_encoding().encode_ordinary("hello world") == [24912, 2375]
    assert counter.count("") == 0
    assert counter.measure("hello world") == (2, True)


def test_encoding_matches_tiktoken_own_build(counter: TokenCounter, reference_encoding: tiktoken.Encoding) -> None:
    ours = tokens.build_encoding()
    assert ours.name == reference_encoding.name == "o200k_base"
    assert ours._pat_str == reference_encoding._pat_str
    assert (
        ours._special_tokens
        == reference_encoding._special_tokens
        == {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}
    )
    # The ranks we parse are tiktoken's, and the built core holds every one of them; the Encoding's own Python copy
    # (kept only for pickling) is dropped after construction.
    assert tokens._parse_ranks(gzip.decompress(RANK_FILE.read_bytes())) == reference_encoding._mergeable_ranks
    assert ours._mergeable_ranks == {}
    assert all(
        ours.decode_single_token_bytes(rank) == token for token, rank in reference_encoding._mergeable_ranks.items()
    )
    for text in SAMPLES:
        assert counter.count(text) == len(reference_encoding.encode_ordinary(text)), text


def test_special_token_text_is_counted_as_plain_text(
    counter: TokenCounter, reference_encoding: tiktoken.Encoding
) -> None:
    text = "before <|endoftext|> middle <|endofprompt|> after"
    assert counter.count(text) == len(reference_encoding.encode(text, disallowed_special=()))
    assert counter.count(text) > len(reference_encoding.encode(text, allowed_special="all"))


def _corrupt_variants(tmp_path):
    good = gzip.decompress(RANK_FILE.read_bytes())
    tampered = tmp_path / "tampered.tiktoken.gz"
    tampered.write_bytes(gzip.compress(good.replace(b" 0\n", b" 1\n", 1), mtime=0))
    not_gzip = tmp_path / "not-gzip.tiktoken.gz"
    not_gzip.write_bytes(good[:1000])
    return [tampered, not_gzip, tmp_path / "missing.tiktoken.gz"]


def test_bad_rank_file_logs_one_warning_and_keeps_estimating(tmp_path, capsys) -> None:
    for rank_file in _corrupt_variants(tmp_path):
        counter = TokenCounter(rank_file)
        with structlog.testing.capture_logs() as logs:
            first = counter.count("hello world, this is a test")
            counter.start_background_load()
            assert counter.wait_until_loaded(timeout=5) is False
            later = [counter.count("hello world, this is a test") for _ in range(3)]
        assert first == estimate_tokens("hello world, this is a test") == later[0] == later[-1]
        assert counter.exact is False
        assert counter.measure("abc") == (estimate_tokens("abc"), False)
        assert len(logs) == 1, logs
        assert logs[0]["log_level"] == "warning"
        assert logs[0]["event"] == "token_encoding_unavailable"
        assert logs[0]["path"] == str(rank_file)
    assert capsys.readouterr().out == ""


def test_hash_mismatch_is_reported(tmp_path) -> None:
    tampered = _corrupt_variants(tmp_path)[0]
    with structlog.testing.capture_logs() as logs:
        TokenCounter(tampered).count("x")
    assert "does not match pinned" in logs[0]["error"]


def test_background_load_flips_exact_and_runs_once(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    builds: list[str] = []
    real_build = tokens.build_encoding

    def gated_build(rank_file=RANK_FILE):
        builds.append(threading.current_thread().name)
        release.wait(30)
        return real_build(rank_file)

    monkeypatch.setattr(tokens, "build_encoding", gated_build)
    counter = TokenCounter()
    assert counter.exact is False
    counter.start_background_load()
    counter.start_background_load()
    text = "def handler(event):\n    return route(event)\n"
    assert counter.measure(text) == (estimate_tokens(text), False)  # still loading: estimate, no blocking
    release.set()
    assert counter.wait_until_loaded(timeout=60) is True
    assert counter.exact is True
    counter.start_background_load()
    assert counter.measure(text)[1] is True
    assert builds == ["kimchi-o200k-load"]


def test_lazy_load_on_first_count_when_nobody_started_it() -> None:
    counter = TokenCounter()
    assert counter.count("hello world") == 2
    assert counter.exact is True


def _conversation(n_messages: int) -> list[tuple[str, str]]:
    source = inspect.getsource(textwrap) + inspect.getsource(inspect)
    chunk = len(source) // n_messages
    return [(f"msg_{i}:prt_{i}a", source[i * chunk : (i + 1) * chunk]) for i in range(n_messages)]


def test_conversation_total_incremental_equals_full_recount(counter: TokenCounter) -> None:
    messages = _conversation(40)
    conversation = ConversationTokens(counter)
    first = conversation.total(messages[:-1])
    assert first == sum(counter.count(text) + MESSAGE_OVERHEAD_TOKENS for _, text in messages[:-1])
    assert (conversation.hits, conversation.misses) == (0, 39)

    second = conversation.total(messages)
    assert second == ConversationTokens(counter).total(messages)
    assert second - first == counter.count(messages[-1][1]) + MESSAGE_OVERHEAD_TOKENS
    assert (conversation.hits, conversation.misses) == (39, 40)


def test_conversation_recounts_changed_text_and_stays_bounded(counter: TokenCounter) -> None:
    conversation = ConversationTokens(counter, max_messages=3)
    conversation.total([("a", "hello world")])
    assert (
        conversation.total([("a", "hello world, edited")])
        == counter.count("hello world, edited") + MESSAGE_OVERHEAD_TOKENS
    )
    conversation.total([(str(i), f"message {i}") for i in range(10)])
    assert len(conversation) == 3
    assert conversation.total([]) == 0


def test_conversation_does_not_cache_estimates(tmp_path) -> None:
    estimating = TokenCounter(tmp_path / "missing.gz")
    conversation = ConversationTokens(estimating)
    with structlog.testing.capture_logs():
        total = conversation.total([("m1", CJK_TEXT), ("m2", "hi")])
    assert total == estimate_tokens(CJK_TEXT) + estimate_tokens("hi") + 2 * MESSAGE_OVERHEAD_TOKENS
    assert len(conversation) == 0


def test_estimate_close_on_cjk_and_better_than_bytes_over_four_on_indented_code(counter: TokenCounter) -> None:
    cjk_exact = counter.count(CJK_TEXT)
    assert abs(estimate_tokens(CJK_TEXT) - cjk_exact) / cjk_exact < 0.10
    assert abs(len(CJK_TEXT) / 4 - cjk_exact) / cjk_exact > 0.40  # characters/4 is far off for CJK

    indented = inspect.getsource(textwrap.TextWrapper)
    exact = counter.count(indented)
    ours = abs(estimate_tokens(indented) - exact)
    assert ours / exact < 0.05
    assert ours < abs(len(indented.encode()) / 4 - exact)


def test_estimate_edge_cases() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("a") == 1
    assert estimate_tokens("\ud800") >= 1
    assert estimate_tokens("x" * 4000) < estimate_tokens("x " * 4000)


# -- bounded cost: estimates before the thresholds, sampled estimates, repeated runs, counting off the caller -----


def test_a_long_text_is_estimated_from_slices_close_to_the_full_estimate() -> None:
    prose = inspect.getsource(textwrap) * 20
    assert len(prose) > tokens.ESTIMATE_SAMPLE_ABOVE
    full = tokens._estimate(prose)
    assert abs(estimate_tokens(prose) - full) / full < 0.05
    assert estimate_tokens("=" * 8_000_000) == estimate_tokens("=" * 4_000_000) * 2


def test_runs_of_one_character_are_counted_from_a_block(counter: TokenCounter, reference_encoding) -> None:
    for text in ("=" * 100_000, "intro " + "a" * 50_000 + " outro", "x" * 1_000 + "\n" + "-" * 3_000):
        exact = len(reference_encoding.encode_ordinary(text))
        assert abs(counter.counted(text) - exact) <= 2 * (1 + text.count("\n")), text[:20]


def test_a_text_past_the_exact_limit_is_estimated_even_with_the_encoding(counter: TokenCounter) -> None:
    huge = "word " * (tokens.EXACT_MAX_CHARS // 5 + 1)
    assert counter.counted(huge) is None
    assert counter.measure(huge) == (estimate_tokens(huge), False)


def test_short_conversations_never_load_the_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    builds: list[str] = []
    monkeypatch.setattr(tokens, "build_encoding", lambda rank_file=RANK_FILE: builds.append("built"))
    counter = TokenCounter()
    conversation = ConversationTokens(counter, exact_from=50_000)
    messages = [(f"m{i}", "a question and an answer " * 40) for i in range(30)]
    total = conversation.total(messages)
    assert total == sum(estimate_tokens(text) + MESSAGE_OVERHEAD_TOKENS for _, text in messages) < 50_000
    assert builds == [] and not counter.exact


def test_past_the_threshold_new_text_is_counted_off_the_caller_then_used() -> None:
    counter = TokenCounter()
    conversation = ConversationTokens(counter, exact_from=1_000)
    messages = [(f"m{i}", inspect.getsource(textwrap)[i * 3000 : (i + 1) * 3000]) for i in range(5)]
    first = conversation.total(messages)  # estimates now; the encoding loads and counts in the background
    assert first == sum(estimate_tokens(text) + MESSAGE_OVERHEAD_TOKENS for _, text in messages)
    assert counter.wait_until_loaded(60)
    exact = sum(counter.count(text) + MESSAGE_OVERHEAD_TOKENS for _, text in messages)
    for _ in range(600):  # the counting thread hands its counts over; the next call uses them
        if conversation.total(messages) == exact:
            break
        threading.Event().wait(0.05)
    assert conversation.total(messages) == exact
    assert len(conversation) == len(messages)


def test_exact_from_sits_below_the_threshold_by_the_estimate_margin() -> None:
    assert tokens.exact_from_for(100_000) == 80_000
    assert tokens.exact_from_for(-5) == 0
