"""recordings.audio.segment: one chunk per sentence read, and no guessing.

A synthetic reader turns sentences into speech-like audio whose every
sentence start and end is known, with the habits that defeat "cut at the N-1
longest pauses": comma pauses longer than sentence pauses, skipped, repeated
and extra sentences, long breaks, noise, a quiet microphone.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field

import numpy as np
import pytest

from recordings.audio import segment
from recordings.audio.decode import iter_pcm
from recordings.audio.envelope import Envelope, envelope_from_audio, envelope_from_blocks
from recordings.audio.segment import Segmentation, segment_envelope, segment_speech
from recordings.audio.text import chars_per_second, speech_length, split_sentences
from recordings.tests.audio_files import FIXTURES

SR = 16000

SCRIPT = [
    "The morning train was late again.",
    "After the rain stopped, the children ran outside to play.",
    "She opened the window.",
    "My grandfather, who was a carpenter, built this table by hand.",
    "We need milk and bread from the market.",
    "The library closes early on Sundays.",
    "It was cold.",
    "The old lighthouse stands at the edge of the cliff, facing the sea.",
    "He forgot his umbrella at the station.",
    "When the festival begins, the whole town fills with music and lights.",
    "Please turn off the lights before you leave.",
    "The cat slept all afternoon.",
]


@dataclass
class Reading:
    audio: np.ndarray
    truth: list[dict] = field(default_factory=list)  # text, start, end, in_script

    def envelope(self) -> Envelope:
        return envelope_from_audio(self.audio, SR)


def read_aloud(
    spoken: list[str],
    *,
    cps: float = 13.0,
    sentence_pause: tuple[float, float] = (0.45, 0.9),
    comma_pause: tuple[float, float] = (0.2, 0.4),
    long_break_after: int | None = None,
    level_db: float = -20.0,
    noise_db: float = -70.0,
    seed: int = 0,
) -> Reading:
    """Speech-like audio for ``spoken``: voiced syllables, word and comma gaps."""
    rng = np.random.default_rng(seed)
    pieces: list[np.ndarray] = []
    truth: list[dict] = []
    t = 0.0

    def add(samples: np.ndarray) -> None:
        nonlocal t
        pieces.append(samples)
        t += samples.size / SR

    def silence(seconds: float) -> np.ndarray:
        return np.zeros(int(seconds * SR))

    add(silence(0.6))
    for k, sentence in enumerate(spoken):
        start = t
        clauses = [c for c in sentence.split(",") if c.strip()]
        for c, clause in enumerate(clauses):
            if c:
                add(silence(rng.uniform(*comma_pause)))
            words = clause.split()
            seconds = speech_length(clause) / cps * rng.uniform(0.93, 1.07)
            weights = np.array([len(w) + 1.0 for w in words])
            for w, word_seconds in enumerate(seconds * weights / weights.sum()):
                if w:
                    # Mostly a dip inside the phrase, sometimes a real short gap.
                    add(silence(0.04 if rng.random() < 0.7 else 0.1))
                n = int(word_seconds * SR)
                tt = np.arange(n) / SR
                f0 = rng.uniform(110, 180)
                voice = np.sin(2 * np.pi * f0 * tt) + 0.4 * np.sin(4 * np.pi * f0 * tt)
                voice += 0.3 * rng.standard_normal(n)
                syllables = 0.45 + 0.55 * np.abs(np.sin(2 * np.pi * 2.5 * tt + rng.uniform(0, 3)))
                add(voice * syllables)
        truth.append({"text": sentence, "start": start, "end": t, "in_script": sentence in SCRIPT})
        pause = rng.uniform(*sentence_pause)
        if long_break_after == k:
            pause = 12.0
        add(silence(pause))
    add(silence(0.4))
    y = np.concatenate(pieces)
    voiced = np.abs(y) > 0
    y *= 10 ** (level_db / 20) / np.sqrt(np.mean(y[voiced] ** 2))
    y += rng.standard_normal(y.size) * 10 ** (noise_db / 20)
    return Reading(y.astype(np.float32), truth)


@dataclass
class Verdict:
    labelled: int = 0
    wrong: list[str] = field(default_factory=list)
    cuts_in_speech: list[float] = field(default_factory=list)
    lost_seconds: float = 0.0


def judge(reading: Reading, result: Segmentation, script: list[str] = SCRIPT) -> Verdict:
    """Check chunks against the truth: the properties the product promises."""
    v = Verdict()
    segs = result.segments
    assert all(a.end <= b.start + 1e-6 for a, b in itertools.pairwise(segs))
    for seg in segs:
        for x in (seg.start, seg.end):
            if any(t["start"] + 0.01 < x < t["end"] - 0.01 for t in reading.truth):
                v.cuts_in_speech.append(x)
    for t in reading.truth:
        covered = sum(max(0.0, min(t["end"], s.end) - max(t["start"], s.start)) for s in segs)
        v.lost_seconds += (t["end"] - t["start"]) - covered
    for seg in segs:
        if seg.sentence is None:
            continue
        held = [
            t for t in reading.truth if min(t["end"], seg.end) - max(t["start"], seg.start) > 0.1
        ]
        if len(held) == 1 and held[0]["text"] == script[seg.sentence]:
            v.labelled += 1
        else:
            v.wrong.append(f"{script[seg.sentence]!r} on {[t['text'] for t in held]}")
    return v


def assert_safe(v: Verdict) -> None:
    assert v.wrong == [], "a chunk carries the wrong expected text"
    assert v.cuts_in_speech == [], "a chunk edge cuts through a sentence"
    assert v.lost_seconds < 1e-6, "speech left out of every chunk"


def test_each_chunk_holds_its_sentence_in_a_clean_reading() -> None:
    reading = read_aloud(SCRIPT)
    result = segment_speech(reading.envelope(), SCRIPT, "en")
    v = judge(reading, result)
    assert_safe(v)
    assert result.aligned
    assert [s.sentence for s in result.segments] == list(range(len(SCRIPT)))


def test_comma_pauses_longer_than_sentence_pauses_are_not_cut() -> None:
    reading = read_aloud(SCRIPT, sentence_pause=(0.3, 0.45), comma_pause=(0.8, 1.1), seed=1)
    gaps = [b["start"] - a["end"] for a, b in zip(reading.truth, reading.truth[1:], strict=False)]
    assert max(gaps) < 0.8  # every comma pause is longer than every sentence pause
    result = segment_speech(reading.envelope(), SCRIPT, "en")
    v = judge(reading, result)
    assert_safe(v)
    assert len(result.segments) == len(SCRIPT)
    assert v.labelled >= len(SCRIPT) - 2


def test_a_skipped_sentence_costs_labels_only_around_it() -> None:
    spoken = SCRIPT[:5] + SCRIPT[6:]
    reading = read_aloud(spoken, seed=2)
    result = segment_speech(reading.envelope(), SCRIPT, "en")
    v = judge(reading, result)
    assert_safe(v)
    assert v.labelled >= len(spoken) - 4
    assert result.skipped in ([], [5])


def test_a_repeated_sentence_gets_no_wrong_text() -> None:
    spoken = [*SCRIPT[:4], SCRIPT[3], *SCRIPT[4:]]
    reading = read_aloud(spoken, seed=3)
    result = segment_speech(reading.envelope(), SCRIPT, "en")
    v = judge(reading, result)
    assert_safe(v)
    assert v.labelled >= len(SCRIPT) - 3


def test_an_extra_sentence_is_left_without_expected_text() -> None:
    extra = "Sorry, my phone is ringing, give me a moment please."
    spoken = [*SCRIPT[:6], extra, *SCRIPT[6:]]
    reading = read_aloud(spoken, seed=4)
    result = segment_speech(reading.envelope(), SCRIPT, "en")
    v = judge(reading, result)
    assert_safe(v)
    aside = reading.truth[6]
    holding = [s for s in result.segments if s.start < aside["end"] and s.end > aside["start"]]
    assert all(s.sentence is None for s in holding)
    assert v.labelled >= len(SCRIPT) - 3


# Sentences a reader might add that are not in SCRIPT: as long as the
# script's own, so that duration alone does not give them away.
UNSCRIPTED = [
    "A small boat drifted slowly across the quiet lake.",
    "Nobody knew where the old key had been hidden.",
    "My sister, who lives abroad, sends us letters every month.",
    "The neighbours were painting their fence all weekend long.",
    "The children laughed at the clown in the park.",
    "Our train crossed three rivers before noon.",
    "The soup was too salty for my taste.",
]


def chunks_over(result: Segmentation, sentence: dict) -> list:
    return [s for s in result.segments if s.start < sentence["end"] and s.end > sentence["start"]]


@pytest.mark.parametrize(
    ("script", "position", "extra", "seed"),
    [
        (SCRIPT[6:11], 1, UNSCRIPTED[0], 1),
        (SCRIPT[6:11], 1, UNSCRIPTED[2], 6),
        (SCRIPT[3:8], 4, UNSCRIPTED[1], 5),
    ],
)
def test_an_unscripted_sentence_gets_its_own_chunk_and_the_script_keeps_its_labels(
    script: list[str], position: int, extra: str, seed: int
) -> None:
    # A short script with one whole sentence added: a sixth of the speech,
    # which a rate fitted to all of it would spread over every sentence.
    spoken = [*script[:position], extra, *script[position:]]
    reading = read_aloud(spoken, seed=seed)
    result = segment_speech(reading.envelope(), script, "en")
    v = judge(reading, result, script)
    assert_safe(v)
    assert len(result.segments) == len(spoken)  # cut at every sentence pause
    assert [s.sentence for s in chunks_over(result, reading.truth[position])] == [None]
    assert v.labelled == len(script)


def test_an_unscripted_sentence_as_long_as_its_neighbour_is_not_its_repeat() -> None:
    # By duration the added sentence reads as well as a second reading of the
    # one before it, which would give it that sentence's text; the two do not
    # sound alike.
    script = SCRIPT[:5]
    spoken = [*script[:2], UNSCRIPTED[2], *script[2:]]
    reading = read_aloud(spoken, seed=111)
    result = segment_speech(reading.envelope(), script, "en")
    assert_safe(judge(reading, result, script))
    assert all(s.sentence is None for s in chunks_over(result, reading.truth[2]))


def test_a_reading_that_strays_from_the_script_keeps_the_labels_where_it_follows_it() -> None:
    # More than half the speech is not in the script: not credible as a whole,
    # but the run of script sentences at the start is.
    script = SCRIPT[:8]
    reading = read_aloud([*script, *UNSCRIPTED], seed=300)
    result = segment_speech(reading.envelope(), script, "en")
    v = judge(reading, result, script)
    assert_safe(v)
    assert not result.aligned and "does not fit the script" in (result.reason or "")
    assert v.labelled >= 6
    for sentence in reading.truth[len(script) :]:
        assert all(s.sentence is None for s in chunks_over(result, sentence))


def test_readers_who_take_turns_keep_their_labels() -> None:
    # Two readers alternate every five sentences, one much faster: the
    # reading rate changes in steps, which a running median would blur into
    # a spread that leaves every label in doubt.
    audio, truth, script = [], [], []
    offset = 0.0
    for turn in range(10):
        part = [SCRIPT[(5 * turn + i) % len(SCRIPT)] for i in range(5)]
        reading = read_aloud(part, cps=10.0 if turn % 2 else 17.0, seed=400 + turn)
        audio.append(reading.audio)
        truth += [
            {**t, "start": t["start"] + offset, "end": t["end"] + offset} for t in reading.truth
        ]
        offset += reading.audio.size / SR
        script += part
    reading = Reading(np.concatenate(audio), truth)
    result = segment_speech(reading.envelope(), script, "en")
    v = judge(reading, result, script)
    assert_safe(v)
    assert len(result.segments) == len(script)
    assert v.labelled >= len(script) - 2


def test_a_long_break_is_never_inside_a_chunk() -> None:
    reading = read_aloud(SCRIPT, long_break_after=5, seed=5)
    result = segment_speech(reading.envelope(), SCRIPT, "en")
    assert_safe(judge(reading, result))
    middle = (reading.truth[5]["end"] + reading.truth[6]["start"]) / 2
    assert not any(s.start < middle < s.end for s in result.segments)
    assert all(s.sentence is not None for s in result.segments)


def test_noisy_room() -> None:
    reading = read_aloud(SCRIPT, noise_db=-36.0, seed=6)
    result = segment_speech(reading.envelope(), SCRIPT, "en")
    v = judge(reading, result)
    assert_safe(v)
    assert v.labelled >= len(SCRIPT) - 2


def test_quiet_microphone() -> None:
    reading = read_aloud(SCRIPT, level_db=-50.0, noise_db=-90.0, seed=7)
    result = segment_speech(reading.envelope(), SCRIPT, "en")
    v = judge(reading, result)
    assert_safe(v)
    assert v.labelled == len(SCRIPT)


def test_a_reading_of_another_script_falls_back_to_unlabelled_pause_chunks() -> None:
    other = [
        "Completely different words make up this long first sentence of another text, "
        "which goes on and on for quite a while before it finally ends.",
        "And a second one.",
    ]
    reading = read_aloud(SCRIPT + SCRIPT, seed=8)
    result = segment_speech(reading.envelope(), other, "en")
    v = judge(reading, result, other)
    assert_safe(v)
    assert not result.aligned and result.reason
    assert all(s.sentence is None for s in result.segments)
    assert all(s.speech_end - s.speech_start <= 15.0 for s in result.segments)


def test_an_empty_script_still_yields_pause_based_chunks() -> None:
    reading = read_aloud(SCRIPT[:4], seed=9)
    result = segment_speech(reading.envelope(), [], "en")
    assert_safe(judge(reading, result))
    assert result.segments and all(s.sentence is None for s in result.segments)


def test_silence_yields_no_chunks() -> None:
    env = envelope_from_audio(np.zeros(5 * SR, np.float32), SR)
    result = segment_speech(env, SCRIPT, "en")
    assert result.segments == [] and not result.aligned


def test_chunks_keep_short_margins_and_split_short_pauses_in_the_middle() -> None:
    reading = read_aloud(SCRIPT[:6], sentence_pause=(0.3, 0.35), long_break_after=2, seed=10)
    segs = segment_speech(reading.envelope(), SCRIPT[:6], "en").segments
    assert len(segs) == 6
    for a, b in itertools.pairwise(segs):
        gap = b.speech_start - a.speech_end
        if gap <= 0.5:
            assert (
                a.end
                == pytest.approx(b.start)
                == pytest.approx((a.speech_end + b.speech_start) / 2, abs=1e-3)
            )
        else:  # the 12 s break: each side keeps 0.25 s, the rest is dropped
            assert a.end - a.speech_end == pytest.approx(0.25, abs=1e-3)
            assert b.speech_start - b.start == pytest.approx(0.25, abs=1e-3)


def test_segment_envelope_is_the_list_of_chunks() -> None:
    reading = read_aloud(SCRIPT[:3], seed=11)
    env = reading.envelope()
    assert segment_envelope(env, sentences=SCRIPT[:3], language="en") == (
        segment_speech(env, SCRIPT[:3], "en").segments
    )


def test_an_hour_long_envelope_segments_into_every_sentence() -> None:
    # Built directly as an envelope: 60 min of speech regions and pauses for
    # ~700 sentences, which the 250 MB worker must handle from 1.4 MB of levels.
    rng = np.random.default_rng(12)
    script = [SCRIPT[i % len(SCRIPT)] for i in range(700)]
    db = np.full(360_000, -75.0)
    t = 0.5
    for sentence in script:
        seconds = speech_length(sentence) / 14.0 * rng.uniform(0.9, 1.1)
        start = int(t * 100)
        db[start : start + int(seconds * 100)] = -20.0 + rng.normal(0, 2, int(seconds * 100))
        t += seconds + rng.uniform(0.5, 1.2)
        if t > 3590:
            break
    env = Envelope(db=db.astype(np.float32), hop_seconds=0.01, duration=3600.0)
    # How long this takes is measured by bench/pipeline.py (an hour's recording).
    result = segment_speech(env, script, "en")
    assert result.aligned and len(result.segments) == len(script)


@pytest.mark.parametrize("name", ["bn_read_fluent", "bn_read_short", "en_read_noisy"])
def test_shared_recordings_chunk_into_their_sentences(name: str) -> None:
    meta = json.loads((FIXTURES / f"{name}.json").read_text())
    sentences = split_sentences(meta["script"])
    with iter_pcm(FIXTURES / meta["file"], block_seconds=5.0) as stream:
        env = envelope_from_blocks(stream)
    result = segment_speech(env, sentences, meta["lang"])
    reading = Reading(np.zeros(0), meta["sentences"])
    v = judge(reading, result, sentences)
    assert_safe(v)
    assert [s.sentence for s in result.segments] == list(range(len(sentences)))


def _fit_of(env: Envelope, script: list[str]):
    """The fitted alignment segment_speech starts from (its internals)."""
    p = segment.SegmentParams()
    atoms = segment._atoms(env, p)
    fracs, ncommas = segment._comma_table(script)
    lengths = np.array(
        [max(1, speech_length(s)) + p.comma_chars * c for s, c in zip(script, ncommas, strict=True)]
    )
    seed = segment._initial_seconds_per_char(atoms, lengths, p)
    default_spc = 1.0 / chars_per_second("en")
    return segment._fit_reading(atoms, env, lengths, fracs, ncommas, seed, default_spc, p)


def _long_reading_envelope(sentences: int, seed: int) -> tuple[Envelope, list[str]]:
    """Speech regions and pauses as levels, as in the hour-long test."""
    rng = np.random.default_rng(seed)
    script = [SCRIPT[i % len(SCRIPT)] for i in range(sentences)]
    db = np.full(sentences * 600, -75.0)
    t = 0.5
    for sentence in script:
        seconds = speech_length(sentence) / 14.0 * rng.uniform(0.9, 1.1)
        start = int(t * 100)
        db[start : start + int(seconds * 100)] = -20.0 + rng.normal(0, 2, int(seconds * 100))
        t += seconds + rng.uniform(0.5, 1.2)
    db = db[: int(t * 100) + 50]
    return Envelope(db=db.astype(np.float32), hop_seconds=0.01, duration=db.size / 100), script


@pytest.mark.parametrize(
    "case",
    ["short script, several seeds, a repeat", "long script, one seed"],
)
def test_the_backward_pass_beside_the_forward_one_is_the_restricted_one(case: str) -> None:
    # segment_speech runs the backward Viterbi pass in a second thread beside
    # the forward one, over every state instead of those the forward pass
    # reached: over those, the costs must be the same to the bit, and so the
    # beam (and every chunk after it) the same.
    if case.startswith("short"):
        spoken = [*SCRIPT[:4], SCRIPT[3], *SCRIPT[4:]]
        env, script = read_aloud(spoken, seed=3).envelope(), SCRIPT
    else:
        env, script = _long_reading_envelope(
            segment.SegmentParams().rate_search_max_sentences + 30, 5
        )
    fit = _fit_of(env, script)
    restricted = fit.lattice.backward(np.isfinite(fit.forward))
    reached = np.isfinite(fit.forward)
    assert reached.sum() > 0.5 * reached.size
    assert np.array_equal(fit.back[reached], restricted[reached])
    assert np.array_equal(
        fit.lattice.beam(fit.forward, fit.cost, fit.back), fit.lattice.beam(fit.forward, fit.cost)
    )
