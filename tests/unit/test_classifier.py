"""Stage 1 classifier: intent over keywords, pasted material as evidence, calibration and bounds."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from kimchi_plugin.routing import classifier
from kimchi_plugin.routing.classifier import (
    DEFAULT_CONFIDENCE,
    Classification,
    WeightTable,
    classify,
    decide_features,
    extract_features,
)
from kimchi_plugin.routing.classify import features, lexicon
from kimchi_plugin.routing.classify import patterns as rx
from kimchi_plugin.routing.classify import table as table_file
from kimchi_plugin.routing.classify.scoring import CONFIDENCE_CEIL, CONFIDENCE_FLOOR, calibrated
from kimchi_plugin.routing.tiers import Profile, Tier
from scripts.real_corpus import text_rules

TRACE = (
    "Traceback (most recent call last):\n"
    '  File "/srv/app/billing.py", line 41, in charge\n'
    "    amount = order.totals['gross']\n"
    "KeyError: 'gross'\n"
)
DIFF = (
    "```diff\n"
    "@@ -10,6 +10,7 @@ def login(request):\n"
    "-    user = authenticate(request.POST['name'], request.POST['pw'])\n"
    "+    user = User.objects.get(name=request.POST['name'])\n"
    "```\n"
)
CODE = (
    "```python\n"
    "def total(items):\n"
    "    t = 0\n"
    "    for i in items:\n"
    "        if i.kind == 'a':\n"
    "            t += i.price\n"
    "        elif i.kind == 'b':\n"
    "            t += i.price * 2\n"
    "    return t\n"
    "```\n"
)


def test_classification_is_an_immutable_value_with_its_tier() -> None:
    result = classify("plan the migration of our billing service to event sourcing")
    assert isinstance(result, Classification)
    assert result.source == "heuristic"
    assert result.tier is Tier.REASONING
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.profile = Profile.CODER  # type: ignore[misc]


@pytest.mark.parametrize("text", ["", "   \n\t"])
def test_empty_message_is_a_quick_answer(text: str) -> None:
    assert classify(text) == Classification(Profile.ASSISTANT, 0.5, ("empty",))


@pytest.mark.parametrize(
    ("text", "profile"),
    [
        ("add a /health endpoint to the orders service that returns the build sha", Profile.CODER),
        ("write unit tests for the invoice rounding helper", Profile.CODER),
        ("rename `fetchUser` to `loadUser` everywhere and keep behaviour identical", Profile.REFACTORER),
        ("where is the retry policy for outgoing webhooks configured?", Profile.ASSISTANT),
        ("thanks, that's all for today", Profile.ASSISTANT),
        ("how should we split the reporting queries off the primary database? options and trade-offs", Profile.PLANNER),
        ("our p95 latency doubled after the last deploy and nothing obvious changed", Profile.DEBUGGER),
        ("can you review my PR that changes how sessions are invalidated?", Profile.REVIEWER),
    ],
)
def test_plain_requests(text: str, profile: Profile) -> None:
    assert classify(text).profile is profile


@pytest.mark.parametrize(
    ("text", "tier"),
    [
        ("add error handling to the CSV upload endpoint", Tier.CODING),
        ("add a debug logging flag to the CLI", Tier.CODING),
        ("update the design tokens so the dark theme uses the new greys", Tier.CODING),
        ("review this stack trace and tell me why the worker dies:\n" + TRACE, Tier.REASONING),
        ("what's a stack trace?", Tier.QUICK),
    ],
)
def test_keyword_traps_follow_the_request(text: str, tier: Tier) -> None:
    assert classify(text).tier is tier


def test_review_of_a_stack_trace_is_debugging() -> None:
    assert classify("review this stack trace please\n" + TRACE).profile is Profile.DEBUGGER


def test_pasted_material_is_evidence_for_the_request() -> None:
    traced = classify("why?\n" + TRACE)
    assert traced.profile is Profile.DEBUGGER
    assert "paste:traceback" in traced.signals
    assert classify("review this change\n" + DIFF).profile is Profile.REVIEWER
    assert classify("refactor this, it's unreadable\n" + CODE).profile is Profile.REFACTORER


def test_code_pasted_for_context_does_not_outweigh_the_question() -> None:
    assert classify("what does this function return for an empty list?\n" + CODE).tier is Tier.QUICK


def test_message_without_known_words_defaults_to_coding_at_low_confidence() -> None:
    result = classify("the zorblax from quendy, with the wibbles on the sprocket moved a bit lower down")
    assert result == Classification(Profile.CODER, DEFAULT_CONFIDENCE, ("default:unspecific",))
    assert result.confidence < 0.5


def test_keywordless_medium_message_is_coding() -> None:
    text = "the thing from this morning, with the numbers on the left side moved a bit lower down"
    assert classify(text).tier is Tier.CODING


def test_confidence_is_higher_for_clear_requests_than_for_vague_ones() -> None:
    clear = classify("the checkout crashes with a NullPointerException since the upgrade, why?")
    vague = classify("the checkout page")
    assert clear.confidence > 0.8
    assert vague.confidence < clear.confidence


def test_signals_name_the_evidence() -> None:
    result = classify("refactor the payment module, it has too much duplication")
    assert result.signals
    assert any(s.startswith("refactor:") for s in result.signals)


def test_misspellings_still_match() -> None:
    assert classify("refactr the paymnet module to remove the duplciation").profile is Profile.REFACTORER
    assert "debug:error" in extract_features("getting an errror on startup")
    assert "debug:error" in extract_features("it throws an exeption on startup")


@pytest.mark.parametrize(
    ("text", "tier"),
    [
        ("¿Puedes revisar este código por problemas de seguridad?", Tier.REASONING),
        ("Füge einen Button zum Exportieren als CSV hinzu", Tier.CODING),
        ("Pourquoi ce service plante au démarrage ?", Tier.REASONING),
        ("为什么这个接口在生产环境报错？", Tier.REASONING),
        ("请给用户列表添加分页", Tier.CODING),
        ("Спасибо!", Tier.QUICK),
    ],
)
def test_common_words_of_other_languages(text: str, tier: Tier) -> None:
    assert classify(text).tier is tier


def test_names_are_not_words() -> None:
    # "plan" inside a file name says nothing about planning.
    assert classify("update plan.md to say Q3 instead of Q2").tier is Tier.CODING


def test_self_correction_keeps_only_the_second_request() -> None:
    assert classify("plan the sprint? no, sorry — add a sprint_id column to the issues table").tier is Tier.CODING


@pytest.mark.parametrize("reach", [rx.CORRECTION_REACH - 1, rx.CORRECTION_REACH, rx.CORRECTION_REACH + 1])
def test_a_question_mark_past_the_reach_starts_no_correction_on_either_path(
    reach: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    prose = "x" * reach + "? no, sorry — add a sprint_id column"
    fast = rx.correction_end(prose, True)
    assert (fast > 0) is (reach <= rx.CORRECTION_REACH)
    monkeypatch.setattr(rx, "is_plain", lambda _text: False)
    assert rx.correction_end(prose, False) == fast


def test_giant_paste_reads_only_a_bounded_head_and_tail() -> None:
    middle = "x = 1\n" * 40_000 + "please refactor everything and review security\n" + "y = 2\n" * 40_000
    features = extract_features("what does this file do?\n```\n" + middle + "```")
    assert "refactor:verb" not in features
    assert "review:verb" not in features


def test_a_long_message_is_read_by_less_than_the_real_corpus_keeps_of_a_long_turn() -> None:
    """The corpus trims a long turn to more than the classifier reads of it: a trimmed turn reads as the whole one."""
    assert features.BOUND_OVER <= text_rules.TRIM_OVER
    assert features.HEAD_CHARS <= text_rules.KEEP_HEAD
    assert features.TAIL_CHARS <= text_rules.KEEP_TAIL
    whole = "please refactor the session store " + "and review the cache, " * 200 + "then add tests for the TTL"
    assert text_rules.trim(whole) != whole
    assert extract_features(text_rules.trim(whole)) == extract_features(whole)
    ask, filler = "please refactor the session store", " and more" * 200
    assert "refactor:verb" in extract_features(ask + filler[: features.BOUND_OVER - len(ask)])
    assert "refactor:verb" not in extract_features(filler[:1200] + ask + filler)
    assert "refactor:verb" in extract_features(filler + ask)


@pytest.mark.parametrize(
    "text",
    [
        "a" * 200_000,
        "`" * 100_000,
        "/" * 100_000,
        "why " * 50_000,
        "is this " + "x" * 100_000 + " ok?",
        "```\n" * 20_000,
    ],
)
def test_pathological_inputs_finish(text: str) -> None:
    assert isinstance(classify(text), Classification)


@pytest.mark.parametrize(("coder_weight", "tier"), [(1.0, Tier.REASONING), (1.5, Tier.CODING)])
def test_near_ties_go_to_the_more_capable_tier(coder_weight: float, tier: Tier) -> None:
    zero = (0.0,) * len(Profile)
    weights = {"x:lean": (0.0, 0.0, 0.0, coder_weight, 0.0, 0.0), "debug:verb": zero}
    table = WeightTable(weights, zero, evidence=frozenset({"debug:verb"}))
    # Coder 1.0 makes coding only slightly likelier than reasoning: the costlier miss decides.
    result = decide_features({"x:lean", "debug:verb"}, table)
    assert result.tier is tier


@pytest.mark.parametrize(
    ("text", "lead"),
    [
        ("build is green but the bundle crashes in the browser", None),  # a subject, not an order
        ("we keep getting paged for disk full on the primary", None),  # a statement after a bare "we"
        ("can we add a created_at column", "lead:code"),  # "we" after a modal is still an order
        ("show me the routes defined in the app", "lead:lookup"),
        ("write up a review of the caching PR", None),
    ],
)
def test_lead_word_reads_sentence_structure(text: str, lead: str | None) -> None:
    leads = {f for f in extract_features(text) if f.startswith("lead:")}
    assert leads == ({lead} if lead else set())


def test_long_words_also_count_by_their_stem() -> None:
    features = extract_features("migrating the sessions table")
    assert {"migrating", "migrat*", "sessions", "sessio*"} <= features
    assert "table*" not in features  # short words have no stem feature


def test_fix_of_an_unexplained_failure_is_diagnosis() -> None:
    assert "debug:fix_failure" in extract_features("pls fix the red test in ci")
    assert classify("pls fix the red test in ci").tier is Tier.REASONING
    assert classify("fix the typo in the README heading").tier is Tier.CODING


def test_context_features_shift_a_weak_message_and_report_the_alone_profile() -> None:
    zero = (0.0,) * len(Profile)
    planner = tuple(5.0 if p is Profile.PLANNER else 0.0 for p in Profile)
    coder = tuple(3.0 if p is Profile.CODER else 0.0 for p in Profile)
    table = WeightTable({"code:verb": coder, "prev:planner": planner}, zero, evidence=frozenset({"code:verb"}))
    found, alone = classifier.decide_in_context({"code:verb"}, {"prev:planner"}, table)
    assert alone is Profile.CODER
    assert found.profile is Profile.PLANNER
    assert found.signals[0] == "prev:planner"


def test_temperature_scales_scores() -> None:
    weights = {"x:one": (2.0, 0.0, 0.0, 0.0, 0.0, 0.0)}
    table = WeightTable(weights, (0.0,) * len(Profile), 2.0)
    assert classifier.score({"x:one"}, table)[0] == pytest.approx(1.0)


def test_the_table_calibration_maps_the_winning_tier_probability_to_the_confidence() -> None:
    zero = (0.0,) * len(Profile)
    weights = {"debug:verb": (0.0, 3.0, 0.0, 0.0, 0.0, 0.0)}
    raw = decide_features({"debug:verb"}, WeightTable(weights, zero, evidence=frozenset({"debug:verb"})))
    shy = WeightTable(weights, zero, evidence=frozenset({"debug:verb"}), calibration=(0.5, 0.0))
    shifted = WeightTable(weights, zero, evidence=frozenset({"debug:verb"}), calibration=(1.0, 0.5))
    # Reasoning holds 3 of the 6 profiles: p = (e^3 + 2) / (e^3 + 5) = 0.880.
    assert raw.confidence == pytest.approx(0.880, abs=1e-3)
    assert decide_features({"debug:verb"}, shy).confidence == pytest.approx(1 / (1 + (0.12 / 0.88) ** 0.5), abs=2e-3)
    assert raw.confidence < decide_features({"debug:verb"}, shifted).confidence <= CONFIDENCE_CEIL
    # The no-evidence default keeps its fixed confidence whatever the calibration.
    assert decide_features({"len:short"}, shifted).confidence == DEFAULT_CONFIDENCE


@pytest.mark.parametrize("calibration", [(1.0, 0.0), (0.6, 0.15), (1.2, -0.4)])
def test_calibrated_confidence_keeps_the_order_of_probabilities(calibration: tuple[float, float]) -> None:
    ps = [0.01, 0.2, 0.34, 0.5, 0.66, 0.8, 0.9, 0.99]
    mapped = [calibrated(p, calibration) for p in ps]
    assert mapped == sorted(mapped)
    assert all(CONFIDENCE_FLOOR <= c <= CONFIDENCE_CEIL for c in mapped)
    if calibration == (1.0, 0.0):
        assert mapped[1:-1] == pytest.approx(ps[1:-1])


def test_shipped_table_is_calibrated_and_in_profile_order() -> None:
    raw = table_file.header_of(table_file.shipped_bytes())
    assert raw["profiles"] == [p.value for p in Profile]
    assert 0.25 <= raw["temperature"] <= 4.0
    scale, _ = raw["calibration"]
    assert 0.0 < scale <= 2.0
    assert all(len(v) == len(Profile) for v in table_file.decode(table_file.shipped_bytes()).weights.values())


def test_the_weight_table_is_read_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(table_file, "_shipped", None)
    result = classify("add a retry to the uploader")
    table = table_file._shipped
    assert table is not None and result.profile is Profile.CODER
    assert classifier.load_weights() is table  # read once


SAMPLES = (
    "why does the build fail with exit code 2 after `make install`? It’s the same on CI — see plan.md",
    "Is this “safe” to merge… or should we split the migration into two steps?",
    "Traceback (most recent call last):\n  File \"app.py\", line 3, in <module>\nKeyError: 'x'\nwhat broke?",
    "fix the failing test in src/db/user_repo.py, the eror is ECONNRESET when the pool is full → 300ms timeouts",
    "please review this diff\n```diff\n@@ -1,2 +1,2 @@\n-a = 1\n+a = 2\n```\nany issues?",
)


@pytest.mark.parametrize("text", SAMPLES)
def test_plain_text_reads_the_same_through_the_faster_patterns(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert rx.is_plain(text)
    fast = extract_features(text)
    monkeypatch.setattr(rx, "is_plain", lambda _text: False)
    assert extract_features(text) == fast


def test_a_plain_head_reads_the_same_through_the_faster_patterns(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "ok so no wait, please add a retry to the client. Can you also check the timeouts? ¿dónde está el error?"
    assert not rx.is_plain(text) and rx.is_plain(text[:80])
    fast = extract_features(text)
    assert {"form:correction", "lead:code"} <= fast
    monkeypatch.setattr(rx, "is_plain", lambda _text: False)
    assert extract_features(text) == fast


@pytest.mark.parametrize("text", ["café crashes", "wait\x1cwhy", "no\u00a0space", "日本語のエラー", "ok\u2028next"])
def test_text_the_ascii_patterns_would_read_otherwise_is_not_plain(text: str) -> None:
    assert not rx.is_plain(text)


def test_plain_marks_are_neither_word_characters_nor_spaces() -> None:
    assert all(re.fullmatch(r"[^\w\s]", mark) for mark in rx.PLAIN_MARKS)


def test_token_lookups_stay_bounded_and_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [
        " ".join(f"word{i}x{j} refactr" for j in range(10)) + " " + "z" * (features.TOKEN_CACHE_MAX_CHARS + i)
        for i in range(40)
    ]
    fresh = []
    for text in texts:
        features._CHUNKS.clear()
        features._SPELLED.clear()
        features._WORDS.clear()
        fresh.append(extract_features(text))
    monkeypatch.setattr(features, "TOKEN_CACHE_SIZE", 50)
    for text, expected in zip(texts, fresh):
        assert extract_features(text) == expected
        # At most one message's distinct tokens (ten words, "refactr", the long one) past the limit, and its chunks
        # but the long one.
        assert len(features._SPELLED) <= 50 + 11 and len(features._WORDS) <= 50 + 12
        assert len(features._CHUNKS) <= 50 + 11
    assert {"refactor", "refactor:verb"} <= fresh[0]


def test_every_intent_match_starts_at_one_of_its_literal_starts() -> None:
    # `patterns.matches` tries an intent only where a start occurs: a match starting elsewhere would be missed.
    path = Path(__file__).resolve().parents[1] / "routing_data" / "a" / "messages.jsonl"
    texts = [json.loads(line)["text"].lower() for line in path.read_text(encoding="utf-8").splitlines()]
    checked = 0
    for intent in (*rx.INTENTS, rx.WHY_FAILS):
        if not intent.starts:
            continue
        for text in (*texts, *(s.lower() for s in SAMPLES)):
            for at in range(len(text)):
                if intent.pattern[0].match(text, at):
                    checked += 1
                    assert text.startswith(intent.starts, at), (intent.feature, text[at : at + 40])
    assert checked > 100


@pytest.mark.parametrize("plain", [True, False])
def test_fenced_blocks_show_the_kinds_of_their_lines(plain: bool) -> None:
    assert rx.block_kinds("KeyError: 'x'\nx = 1", plain) == ["paste:traceback"]  # the first line counts
    assert rx.block_kinds("x = 1\n  npm ERR! code 1\n@@ -1,2 +1,2 @@", plain) == ["paste:log", "paste:diff"]
    assert rx.block_kinds("see the KeyError: here\nand the error: there", plain) == []  # mid-line is not a line


def test_a_long_sentence_is_read_by_its_opening() -> None:
    sentence = "please can you add " + "very " * 60 + "long"
    assert rx.opening(sentence, True)[: rx.OPENING_WORDS] == rx.WORD[1].findall(sentence)[: rx.OPENING_WORDS]
    assert len(rx.opening(sentence, True)) < 40
    assert rx.opening("fix " + "x" * 300 + " now", False) == ["fix", "x" * 300, "now"]
    # Long words: the first window holds fewer than OPENING_WORDS of them.
    wordy = "please carefully reconsider " + "extraordinarily " * 10
    assert len(rx.WORD[1].findall(wordy, 0, rx.OPENING_FIRST_CHARS)) <= rx.OPENING_WORDS
    assert rx.opening(wordy, True)[: rx.OPENING_WORDS] == rx.WORD[1].findall(wordy)[: rx.OPENING_WORDS]


@pytest.mark.parametrize("plain", [True, False])
def test_an_opening_of_letters_and_spaces_is_read_as_the_word_pattern_reads_it(plain: bool) -> None:
    openings = [
        "refactor the session store so eviction happens in one place and add tests for the ttl",
        "  why does   the handler drop messages",
        "Fix The Login Flow",
        "review this diff for security problems, especially the token handling",
        "don't touch the migrations",
        "bump the timeout to 30s please",
        "rename user_id everywhere",
        "add\ttabs and\u00a0spaces",
        "por qué falla el build",
        "x" * 70 + " then more words",
        "",
        "   ",
    ]
    for sentence in openings:
        for end in (rx.OPENING_FIRST_CHARS, rx.OPENING_SCAN_CHARS):
            expected = rx.WORD[plain].findall(sentence, 0, end)
            if len(expected) > rx.OPENING_WORDS or len(sentence) <= end:
                break
        else:
            expected = rx.WORD[plain].findall(sentence)
        assert rx.opening(sentence, plain) == expected, sentence


@pytest.mark.parametrize("plain", [True, False])
def test_no_token_spans_a_space_so_chunks_read_as_the_whole_does(plain: bool) -> None:
    # The extractor tokenises each whitespace-separated chunk once and remembers it.
    spaces = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
    assert not re.search(r"[\w'./]", spaces) and spaces.split() == []
    # A chunk of letters alone is one token, in any script.
    letters = [chr(c) for c in range(0x30000) if chr(c).isalpha() and (plain <= chr(c).isascii())]
    assert rx.TOKEN[plain].findall(" ".join(letters)) == letters
    assert rx.TOKEN[plain].findall("".join(letters)) == ["".join(letters)]
    for text in SAMPLES:
        lower = text.lower()
        tokens = rx.TOKEN[plain].findall(lower)
        assert [token for chunk in lower.split() for token in rx.TOKEN[plain].findall(chunk)] == tokens
        features._CHUNKS.clear()
        assert features._words(lower, plain) == [features._word(token) for token in tokens]


def test_every_wide_script_term_holds_a_wide_character() -> None:
    # The extractor looks for these terms only in text that holds a character of those scripts.
    terms = [term for term, _ in lexicon.CJK_TERMS] + list(lexicon.CJK_REQUESTS)
    assert terms and all(rx.WIDE_CHAR.search(term) for term in terms)
    assert {"lead:code", "debug:error"} <= extract_features("请帮我修复这个报错")


def test_the_ends_filter_never_hides_a_typo_of_a_known_word() -> None:
    # `spelled` skips its candidate loop for a token whose ends and length match no known word's.
    checked = 0
    for word in lexicon.KNOWN_WORDS:
        inserted = (
            [word[:i] + "q" + word[i:] for i in range(len(word) + 1)] if len(word) >= lexicon.TYPO_MIN_CHARS else []
        )
        swapped = [word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)]
        for typo in (*inserted, *swapped):
            assert lexicon._may_be_a_typo(typo), (word, typo)
            checked += 1
    assert checked > 10_000
    assert not lexicon._may_be_a_typo("zzzzzzzzqq")
    assert lexicon.spelled("refactorign") == "refactoring" and lexicon.spelled("zzzzzzzzqq") == "zzzzzzzzqq"
