"""recordings.audio.text: sentences and reading-time estimates."""

from __future__ import annotations

import json

import pytest

from recordings.audio import text
from recordings.tests.audio_files import FIXTURES


def test_splits_bangla_on_danda_and_keeps_the_danda() -> None:
    assert text.split_sentences("আমার নাম রহিম। আমি একজন ছাত্র। তুমি কে?") == [
        "আমার নাম রহিম।",
        "আমি একজন ছাত্র।",
        "তুমি কে?",
    ]


def test_splits_on_terminators_of_other_scripts() -> None:
    assert text.split_sentences("क्या हाल है? मैं ठीक हूँ। धन्यवाद॥ फिर मिलेंगे।") == [
        "क्या हाल है?",
        "मैं ठीक हूँ।",
        "धन्यवाद॥",
        "फिर मिलेंगे।",
    ]
    assert text.split_sentences("هل أنت بخير؟ نعم۔ 你好。我很好！") == [
        "هل أنت بخير؟",
        "نعم۔",
        "你好。",
        "我很好！",
    ]


def test_does_not_split_decimals_abbreviations_or_initials() -> None:
    assert text.split_sentences(
        "Dr. Rahman paid 3.5 dollars. J. K. Rowling wrote it. ডা. করিম ৩.৫ টাকা দিলেন।"
    ) == ["Dr. Rahman paid 3.5 dollars.", "J. K. Rowling wrote it.", "ডা. করিম ৩.৫ টাকা দিলেন।"]


def test_a_lower_case_continuation_is_not_a_new_sentence() -> None:
    assert text.split_sentences("Wait... what? He bought pens, etc. and left.") == [
        "Wait... what?",
        "He bought pens, etc. and left.",
    ]


def test_closing_quotes_stay_with_their_sentence_and_lines_split() -> None:
    assert text.split_sentences('He said "Go." She went!\nA line without a stop') == [
        'He said "Go."',
        "She went!",
        "A line without a stop",
    ]


def test_punctuation_alone_is_not_a_sentence() -> None:
    assert text.split_sentences("Hello. -- ! World.") == ["Hello.", "World."]


def test_speech_length_ignores_punctuation_and_viramas() -> None:
    assert text.speech_length("Hi, you.") == text.speech_length("Hi you") == 5 + 1
    assert text.speech_length("ক্ষ") == 2  # ক + ষ; the hasanta only joins them


def test_pause_positions_are_fractions_of_the_sentence() -> None:
    # 27 letters and 6 word gaps: 33. "One two" is 7 of them before the first
    # comma, "One two, three four five six" 27 before the second.
    positions = text.pause_positions("One two, three four five six, seven.")
    assert positions == pytest.approx([7 / 33, 27 / 33])
    assert text.pause_positions("No commas here.") == []


def test_reading_estimate_depends_on_language() -> None:
    # 140 characters read at 12 (Bangla), 15 (English) and, for a language
    # without a measured rate, 13 characters a second.
    sentence = "a" * 140
    assert text.estimate_seconds(sentence, "bn") == pytest.approx(11.667, abs=1e-3)
    assert text.estimate_seconds(sentence, "bn-IN") == pytest.approx(11.667, abs=1e-3)
    assert text.estimate_seconds(sentence, "en") == pytest.approx(9.333, abs=1e-3)
    assert text.estimate_seconds(sentence, "xx-unknown") == pytest.approx(10.769, abs=1e-3)


def test_each_comma_adds_a_breath() -> None:
    # 11 letters and 2 gaps at 15 a second, and a quarter second for the comma.
    assert text.estimate_seconds("One two three.", "en") == pytest.approx(0.867, abs=1e-3)
    assert text.estimate_seconds("One two, three.", "en") == pytest.approx(1.117, abs=1e-3)


def test_length_buckets() -> None:
    assert text.length_bucket(4.0, 1) == "single"
    assert text.length_bucket(100.0, 12) == "2min"
    assert text.length_bucket(250.0, 30) == "5min"
    assert text.length_bucket(600.0, 80) == "10min"


def test_estimate_script_totals_sentences_and_pauses() -> None:
    # Each sentence is 13 characters (11 letters, 2 gaps) at 15 a second; 0.6 s
    # of silence between the two.
    est = text.estimate_script("One two three. Four five six.", "en")
    assert est.sentences == ["One two three.", "Four five six."]
    assert est.seconds == pytest.approx([0.867, 0.867], abs=1e-3)
    assert est.total_seconds == pytest.approx(2.333, abs=1e-3)
    assert est.bucket == "2min"


def test_shared_scripts_split_into_the_sentences_read_and_estimates_are_close() -> None:
    for meta_path in sorted(FIXTURES.glob("*.json")):
        meta = json.loads(meta_path.read_text())
        est = text.estimate_script(meta["script"], meta["lang"])
        assert est.sentences == [s["text"] for s in meta["sentences"]]
        spoken = meta["sentences"][-1]["end"] - meta["sentences"][0]["start"]
        # Defaults are for careful human readers, and the synthetic voices
        # differ from each other by a quarter: within -20 % / +35 % is right.
        assert 0.8 * spoken < est.total_seconds < 1.35 * spoken, meta["name"]
