"""The engine's stored reasons, said plainly for reviewers."""

from dataclasses import replace

import pytest
from django.utils import translation

from consensus.engine import EngineConfig, Transcript, decide
from consensus.reasons import explain_reason

SENTENCE = "the quick brown fox jumps over the lazy dog"
CONFIG = EngineConfig()


@pytest.mark.parametrize(
    "reason, fragment",
    [
        ("2 people flagged the audio", "2 people flagged the audio"),
        ("says its sentence (P 0.992, 2 confirmed)", "probability 99%; 2 listeners"),
        ("sentence not yet confirmed (P 0.640)", "probability 64%"),
        ("split on the sentence (P 0.900)", "one more listener is asked (probability 90%)"),
        ("3 transcripts agree word for word", "3 transcripts typed the same words"),
        ("1 of 2 transcripts", "1 of the 2 transcripts"),
        ("the transcripts agree on no words", "agree on no word"),
        ("every word clearly agreed", "Every word clearly agreed"),
        ("every word agreed; one more transcript to confirm", "one more transcript to confirm"),
        ("transcripts disagree wildly (mean CER 0.93)", "93% of their letters differ"),
        ("a review pays: 1.20 expected wrong words, estimated WER 14.0%", "About 1.2 wrong"),
        ("the sentence is disputed: 0.40 expected wrong words, estimated WER 4.4%", "4%"),
        ("review queue full: 2.00 expected wrong words, estimated WER 20.0%", "queue is full"),
        ("settled: 0.10 expected wrong words, estimated WER 1.1%", "fix too little"),
        ("settled by the crowd: 0.30 expected wrong words, estimated WER 3.0%", "not pay"),
        ("uncertain: 0.80 expected wrong words, estimated WER 9.0%", "one more volunteer"),
        ("reviewer: accept", "accepted the proposed text"),
        (
            "re-scored with re-estimated reliabilities; a review pays: 1.20 expected wrong "
            "words, estimated WER 14.0%",
            "newly estimated reliabilities. About 1.2 wrong words",
        ),
        ("a contributor was blocked; every word clearly agreed", "blocked. Every word"),
        (
            "nobody left to ask; settled by the crowd: 0.50 expected wrong words, "
            "estimated WER 10.0%",
            "nobody new came to answer it. Settled by the crowd",
        ),
    ],
)
def test_every_reason_the_engine_gives_reads_plainly(reason, fragment):
    with translation.override("en"):
        explained = explain_reason(reason)
    assert explained != reason
    assert fragment in explained


def test_an_audit_sample_says_it_was_drawn_at_random():
    with translation.override("en"):
        explained = explain_reason("every word clearly agreed", audit=True)
    assert explained.startswith("Every word clearly agreed. Drawn at random for an audit")


def test_an_unknown_reason_is_shown_as_stored():
    assert explain_reason("a rule of an older engine") == "a rule of an older engine"


def test_explanations_follow_the_readers_language():
    with translation.override("bn"):
        explained = explain_reason("the transcripts agree on no words")
    assert explained != explain_reason("the transcripts agree on no words")
    assert "transcripts" not in explained


def t(contributor: str, text: str, accuracy: float | None = None, **kwargs) -> Transcript:
    return Transcript(contributor, text, accuracy=accuracy, **kwargs)


def test_the_reasons_of_real_decisions_are_all_explained():
    """Every reason decide() produces across its rules is one this module knows,
    so a new or reworded rule fails here rather than reaching reviewers raw."""
    patient = replace(CONFIG, stop_expected_errors=0.01, wrong_word_value=1e9)
    scenarios = [
        ([t("a", SENTENCE, 0.95)], {}),
        ([t("a", SENTENCE, 0.9), t("b", SENTENCE, 0.9)], {}),
        ([t(c, SENTENCE, 0.9) for c in "abc"], {}),
        ([t("a", SENTENCE, 0.8), t("b", "the quick brown box jumps over a lazy dog", 0.8)], {}),
        ([t(c, w, 0.8) for c, w in zip("abc", ("one two three", "four five", "six"), strict=True)],
         {}),
        ([t("a", "", flags=frozenset({"unintelligible"})),
          t("b", "", flags=frozenset({"wrong_language"}))], {}),
        ([t("a", "", vote=True, accuracy=0.9), t("b", "", vote=True, accuracy=0.9)],
         {"prior_text": SENTENCE}),
        ([t("a", "", vote=True)], {"prior_text": SENTENCE}),
        ([t("a", "", vote=True), t("b", "", vote=False)], {"prior_text": SENTENCE}),
        ([t(c, SENTENCE) for c in "abc"], {}),
        ([t("a", "", vote=False, accuracy=0.9), t("b", SENTENCE, 0.8), t("c", "the quick", 0.8)],
         {"prior_text": SENTENCE}),
    ]  # fmt: skip
    reasons = set()
    for transcripts, kwargs in scenarios:
        for config in (CONFIG, patient, replace(CONFIG, max_transcripts=3, transcript_budget=2.5)):
            for room, more in ((True, True), (False, True), (True, False), (False, False)):
                decision = decide(
                    transcripts, language="en", config=config, review_room=room,
                    more_answers=more, **kwargs,
                )  # fmt: skip
                reasons.add(decision.reason)
    assert len(reasons) >= 8, reasons
    with translation.override("en"):
        raw = [r for r in reasons if explain_reason(r) == r]
    assert not raw, raw
