"""`/why` and the structured explanation every decision carries, and learning from the user's corrections: what
counts as a correction, that it moves only similar messages, names itself, survives a restart and is undone by a
reset."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import pytest
from session_support import Clock, calls, configured, routed_model, run, send, services

from kimchi_plugin.brain import Brain
from kimchi_plugin.brain.core import UserTurn
from kimchi_plugin.brain.corrections_store import MAX_ANSWERS, PRUNE_EVERY, CorrectionStore
from kimchi_plugin.brain.learning import RECHECK_S
from kimchi_plugin.brain.why import SAVE_DELAY_S, Explainer
from kimchi_plugin.routing import corrections
from kimchi_plugin.routing.classifier import classify
from kimchi_plugin.routing.corrections import ACCEPTED, AutoTurn
from kimchi_plugin.routing.explanation import excerpt, explain, is_why, revised, signal_words
from kimchi_plugin.routing.tiers import Profile

OPUS, SONNET, MINIMAX = "claude-opus-4-6", "claude-sonnet-4", "minimax-m2.7"
MODELS = (OPUS, SONNET, MINIMAX)
REFACTORS = (
    "refactor the auth module to use dependency injection",
    "refactor the billing service into smaller classes",
    "refactor the parser module to remove the global state",
    "refactor the user repository to use the new query builder",
)


def _brain(tmp_path: Path | None = None, clock: Clock | None = None, **options: object) -> Brain:
    """A Brain on MODELS; with `tmp_path`, keeping corrections (global scope) and answers in a store there."""
    store = CorrectionStore(tmp_path / "corrections.db") if tmp_path is not None else None
    brain = Brain(replace(services(clock, env={"KIMCHI_API_KEY": "sk-test-key"}), corrections=store))
    return configured(brain, {m: {} for m in MODELS}, {"learnScope": "global", **options})


def _text(result: dict) -> str:
    return result["output"]["parts"][0]["text"]


# -- explanation ------------------------------------------------------------------------------------------------------


def test_every_decision_carries_its_deciding_step_and_signals_in_words() -> None:
    brain = _brain()
    send(brain, "s", "Why does the login test fail with a KeyError?")
    last = brain.explainer.last("s")
    assert last is not None and last.decision.why is not None
    assert last.decision.why.step == "heuristic"
    assert "debugging: something fails" in last.decision.why.signals
    send(brain, "s", "/lock coding")
    assert brain.explainer.last("s").decision.why.step == "lock"
    send(brain, "s", "what is a mutex?", model=OPUS)
    assert brain.explainer.last("s").decision.why.words.startswith("your choice")


def test_substituted_models_are_explained_by_the_substitution() -> None:
    assert explain("heuristic", (), ("conversation ~120K tokens: a (128K) → b (200K)",)).step == "context"
    assert explain("heuristic", (), ("a failed recently: b serves instead",)).step == "fallback"
    assert explain("surge", ()).words == "the surge rule"  # a rule this module does not know is still named


def test_the_first_four_signals_are_worded_and_the_first_correction_kept_wherever_it_stands() -> None:
    signals = ("w:module", "learned:coding → debugging", "refactor:verb", "len:long", "llm:reasoning", "w:mutex")
    why = explain("learned", (*signals, "learned:quick → coding"))
    assert why.correction == "coding → debugging"
    assert why.signals == (
        'the word "module"',
        "refactoring: verb",
        "a long message",
        "the LLM judged it reasoning work",
    )
    late = explain("heuristic", (*signals[2:], "learned:quick → coding"))
    assert late.correction == "quick → coding" and late.signals[-1] == 'the word "mutex"'
    assert explain("heuristic", ("form:question",)).signals == ("phrased as a question",)


def test_rules_after_the_router_are_named_when_they_change_the_decision() -> None:
    before = explain("heuristic", ("refactor:verb",))
    assert revised(before, "stall", ()).step == "stall"
    assert revised(before, "heuristic", ("session budget spent: coding → quick",)).step == "budget"
    kept = revised(before, "heuristic", ())
    assert kept.step == "cache" and kept.signals == before.signals


def test_signal_words_read_as_words() -> None:
    assert signal_words("w:module") == 'the word "module"'
    assert signal_words("llm:reasoning") == "the LLM judged it reasoning work"
    assert signal_words("refactor:verb") == "refactoring: verb"


class _Whole(str):
    """A message that fails when read whole (split, lowered or stripped)."""

    def split(self, *args: object, **kwargs: object) -> list[str]:
        raise AssertionError("read whole")

    lower = strip = lstrip = split  # type: ignore[assignment]


def test_why_and_the_excerpt_read_the_start_of_a_giant_paste_only() -> None:
    paste = _Whole("please  look\nat " + "word " * 200_000)
    assert excerpt(paste) == ("please look at " + "word " * 20)[:79].rstrip() + "…"
    assert not is_why(paste) and is_why(_Whole("  /WHY\n" + " " * 1000)) and not is_why(_Whole("/why\tnow"))
    assert excerpt("  short \n text  ") == "short text"  # a whole short message is still read


def test_why_answers_for_the_last_routed_message_on_the_cheapest_tier_without_routing_it() -> None:
    brain = _brain()
    assert is_why("/why") and is_why(" /why please") and not is_why("/whyever") and not is_why("why?")
    first = send(brain, "s", "Plan the architecture for the new billing service")
    answer = send(brain, "s", "/why")
    assert routed_model(first) == OPUS and routed_model(answer) == MINIMAX
    text = _text(answer)
    assert brain.why("s") in text  # the model is asked to repeat exactly this
    assert "Routed to: reasoning tier, planning mode, model claude-opus-4-6" in text
    assert "Deciding step: the classifier" in text and "← routed" in text
    assert all(model in text for model in MODELS)  # what the other tiers would have cost
    toast = calls([a for a in answer["actions"]], "tui.showToast")
    assert toast and toast[0]["args"]["body"]["message"] == brain.why("s")
    send(brain, "s", "/why")  # asking twice explains the same message, not the /why turn
    assert "claude-opus-4-6" in brain.why("s").splitlines()[1]


def test_why_before_any_message() -> None:
    brain = _brain()
    assert "No message of this session has been routed yet" in _text(send(brain, "new", "/why"))


# -- corrections ------------------------------------------------------------------------------------------------------


def test_what_counts_as_a_correction() -> None:
    auto = AutoTurn(REFACTORS[0], Profile.REFACTORER, 100.0)
    resent = corrections.detect(auto, REFACTORS[0], "command", Profile.PLANNER, True, 130.0)
    assert resent is not None and resent.target is Profile.PLANNER and resent.detected is Profile.REFACTORER
    assert corrections.detect(auto, "", "lock", Profile.PLANNER, True, 130.0) is not None
    assert corrections.detect(auto, "", "lock", Profile.PLANNER, False, 130.0) is None  # a lock held, not set
    assert corrections.detect(auto, "design the cache layer", "command", Profile.PLANNER, True, 130.0) is None
    assert corrections.detect(auto, "", "command", Profile.CODER, True, 130.0) is None  # same tier
    assert corrections.detect(auto, "", "command", Profile.PLANNER, True, 100.0 + 3600) is None  # too late
    assert corrections.detect(None, "", "command", Profile.PLANNER, True, 130.0) is None


def _correct(brain, session: str, text: str) -> None:
    assert routed_model(send(brain, session, text)) == SONNET
    send(brain, session, f"/plan {text}")


def test_corrections_move_similar_messages_only_and_name_themselves(tmp_path: Path) -> None:
    brain = _brain(tmp_path)
    _correct(brain, "a", REFACTORS[0])
    assert routed_model(send(brain, "b", REFACTORS[2])) == SONNET  # one correction is not a preference yet
    _correct(brain, "c", REFACTORS[1])
    moved = send(brain, "d", REFACTORS[3])
    assert routed_model(moved) == OPUS
    why = brain.why("d")
    assert "Deciding step: your earlier correction" in why and "Moved by your correction: 2 like" in why
    for other in ("Write a unit test for the date parser", "Implement the CSV export endpoint"):
        assert routed_model(send(brain, "e", other)) == SONNET
    kept = CorrectionStore(tmp_path / "corrections.db").load("global")  # for the next process
    assert [c.kind for c in kept].count("command") == 2 and {c.kind for c in kept} == {"command", ACCEPTED}


def test_reset_from_another_process_and_the_off_switch(tmp_path: Path) -> None:
    clock = Clock()
    brain = _brain(tmp_path, clock)
    for text in REFACTORS[:2]:
        _correct(brain, text, text)
    assert routed_model(send(brain, "x", REFACTORS[3])) == OPUS
    assert CorrectionStore(tmp_path / "corrections.db").reset() >= 2  # `kimchi-plugin learn --reset`
    clock.now += RECHECK_S  # another process's change is seen once the store's last check is this old
    assert routed_model(send(brain, "y", REFACTORS[3])) == SONNET
    off = _brain(tmp_path, learn=False)
    for text in REFACTORS[:2]:
        _correct(off, text, text)
    assert off.learning.known == [] and routed_model(send(off, "z", REFACTORS[3])) == SONNET


def test_scopes_keep_projects_apart(tmp_path: Path) -> None:
    store = CorrectionStore(tmp_path / "c.db")
    found = corrections.detect(
        AutoTurn(REFACTORS[0], Profile.REFACTORER, 0.0), "", "command", Profile.PLANNER, True, 1.0
    )
    assert found is not None
    store.add("project:/a", found)
    assert store.load("project:/b") == [] and store.load("project:/a")[0].target is Profile.PLANNER
    assert classify(REFACTORS[0]).profile is Profile.REFACTORER


def test_a_store_opened_ahead_serves_every_thread_one_database(tmp_path: Path) -> None:
    """Start-up opens the store on a thread while the first message may already read it: both share one connection,
    and what one writes the other reads."""
    store = CorrectionStore(tmp_path / "learned" / "c.db")
    opener = threading.Thread(target=store.open)
    opener.start()
    found = corrections.detect(
        AutoTurn(REFACTORS[0], Profile.REFACTORER, 0.0), "", "command", Profile.PLANNER, True, 1.0
    )
    assert found is not None
    store.add("global", found)
    opener.join()
    assert store.load("global") == [found] and (tmp_path / "learned" / "c.db").exists()


def test_a_store_whose_folder_cannot_be_made_is_logged_and_ignored(tmp_path: Path) -> None:
    """A data folder that cannot be created (a file in its place, no permission) fails no hook: the store opened
    ahead stays silent, reads find nothing, writes are dropped; a brain still routes."""
    (tmp_path / "file").write_text("")
    store = CorrectionStore(tmp_path / "file" / "c.db")
    store.open()
    found = corrections.detect(
        AutoTurn(REFACTORS[0], Profile.REFACTORER, 0.0), "", "command", Profile.PLANNER, True, 1.0
    )
    assert found is not None
    store.add("global", found)
    assert store.version() == 0 and store.load("global") == []
    brain = Brain(replace(services(env={"KIMCHI_API_KEY": "sk-test-key"}), corrections=store))
    configured(brain, {m: {} for m in MODELS})
    assert routed_model(send(brain, "s", REFACTORS[0])) in MODELS
    assert (tmp_path / "file").read_text() == ""


def test_each_message_is_read_for_evidence_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once corrections exist, a decision's evidence (read to move it) is the one kept when the user lets it stand."""
    brain = _brain(tmp_path)
    for text in REFACTORS[:2]:
        _correct(brain, text, text)
    read: list[str] = []
    evidence = corrections.evidence

    def counted(text: str) -> corrections.Evidence:
        read.append(text)
        return evidence(text)

    monkeypatch.setattr(corrections, "evidence", counted)
    other = "Write a unit test for the date parser"
    send(brain, "x", REFACTORS[3])
    send(brain, "x", other)  # the first message stood: kept as accepted, its evidence not read again
    assert read == [REFACTORS[3], other]
    kept = [c for c in brain.learning.known if c.kind == ACCEPTED and c.excerpt == excerpt(REFACTORS[3], 60)]
    assert kept and (kept[-1].detected, kept[-1].features) == evidence(REFACTORS[3])


def test_decisions_the_user_lets_stand_outvote_a_few_corrections() -> None:
    """Two corrections of coding requests to Quick do not move coding requests the user usually accepts."""
    coding = [
        "implement the csv export endpoint",
        "implement the retry helper for the http client",
        "implement pagination for the orders endpoint",
        "implement the login form validation",
    ]
    examples = [corrections.accepted(AutoTurn(text, Profile.CODER, float(i))) for i, text in enumerate(coding)]
    for at, text in enumerate(("implement a tiny slugify helper", "implement a one-line getter")):
        found = corrections.detect(
            AutoTurn(text, Profile.CODER, 10.0 + at), "", "command", Profile.ASSISTANT, True, 11.0
        )
        assert found is not None
        examples.append(found)
    probe = "implement the webhook signature check"
    assert corrections.adjust(examples, probe, classify(probe)) is None
    assert corrections.adjust(examples[4:], probe, classify(probe)) is not None  # without them, it would move


@pytest.mark.parametrize("ending", ["flush", "close"])
def test_a_later_process_still_answers_why_for_the_session(tmp_path: Path, ending: str) -> None:
    """`opencode run -c` starts a new brain: the last answer of the session is kept in the store, written by the
    shim's `shutdown` (flush) or at end of input (close)."""
    first = _brain(tmp_path)
    send(first, "s", "Plan the architecture for the new billing service")
    run(getattr(first, ending)())
    later = _brain(tmp_path)
    assert _text(send(later, "s", "/why")).count("Routed to: reasoning tier, planning mode") == 1
    assert "No message of this session" in _text(send(later, "other", "/why"))
    reader = CorrectionStore(tmp_path / "corrections.db", create=False, keep_answers=False)
    reader.keep_answers([("s", 0.0, "overwritten")])
    assert reader.answer("s") == first.why("s")


def test_kept_answers_stay_bounded(tmp_path: Path) -> None:
    store = CorrectionStore(tmp_path / "c.db")
    for i in range(MAX_ANSWERS + 3 * PRUNE_EVERY):
        store.keep_answers([(f"s{i}", float(i), "answer")])
    kept = [i for i in range(MAX_ANSWERS + 3 * PRUNE_EVERY) if store.answer(f"s{i}") is not None]
    assert MAX_ANSWERS <= len(kept) <= MAX_ANSWERS + PRUNE_EVERY and kept[-1] == MAX_ANSWERS + 3 * PRUNE_EVERY - 1


class _Answers:
    """An answer store that records each write."""

    def __init__(self) -> None:
        self.writes: list[list[tuple[str, float, str]]] = []

    def keep_answers(self, answers: Iterable[tuple[str, float, str]]) -> None:
        self.writes.append(list(answers))

    def answer(self, session: str) -> str | None:
        return None


def test_answers_are_written_after_the_reply_in_one_transaction_per_moment() -> None:
    brain = _brain()
    store = _Answers()
    brain.explainer = Explainer(store)

    async def session() -> None:
        for session_id in ("a", "b"):
            await brain.route(
                UserTurn(session_id, "Plan the architecture for the new billing service", "build", "auto")
            )
        assert store.writes == []  # nothing written on the reply's path
        await brain.route(UserTurn("a", "implement the csv export endpoint", "build", "auto"))
        await asyncio.sleep(2 * SAVE_DELAY_S)  # a later timer: runs after the save's

    run(session())
    assert len(store.writes) == 1 and [row[0] for row in store.writes[0]] == ["a", "b"]
    assert dict((s, answer) for s, _at, answer in store.writes[0]) == {s: brain.why(s) for s in ("a", "b")}
    assert "coding tier" in brain.why("a").splitlines()[1]  # the newer decision of "a", rendered once
    send(brain, "c", "what is a mutex?")  # this loop ends before its save would run: the brain's close writes it
    assert len(store.writes) == 1
    run(brain.close())
    assert [row[0] for row in store.writes[1]] == ["c"] and store.writes[1][0][2] == brain.why("c")
