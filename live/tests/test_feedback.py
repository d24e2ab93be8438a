"""The incremental feedback analyser on real readings and on made-up signals."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from live.feedback import FeedbackAnalyser, sentence_durations
from recordings.audio import text as script_text
from recordings.tests.audio_files import FIXTURES

RATE = 16000


def pcm_of(path: Path) -> np.ndarray:
    raw = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(path),
         "-ac", "1", "-ar", str(RATE), "-f", "s16le", "-"],
        capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, dtype="<i2")


def run(analyser: FeedbackAnalyser, samples: np.ndarray, block: int = 1600):
    reports = []
    for start in range(0, len(samples), block):
        report = analyser.feed(samples[start : start + block])
        if report is not None:
            reports.append(report)
    return reports


def expected_for(meta: dict) -> list[float]:
    sentences = [s["text"] for s in meta["sentences"]]
    estimate = script_text.estimate_script(sentences, meta["lang"])
    return [s + script_text.PAUSE_BETWEEN_SENTENCES for s in estimate.seconds]


@pytest.mark.parametrize("name", ["bn_read_fluent.webm", "bn_read_short.webm", "en_read_noisy.ogg"])
def test_follows_the_reader_through_the_script(name):
    path = FIXTURES / name
    meta = json.loads(path.with_suffix(".json").read_text())
    reports = run(FeedbackAnalyser(expected_for(meta)), pcm_of(path))
    right = 0
    for index, sentence in enumerate(meta["sentences"]):
        middle = (sentence["start"] + sentence["end"]) / 2
        nearest = min(reports, key=lambda r: abs(r.position - middle))
        assert abs(nearest.sentence - index) <= 1, (index, nearest)
        right += nearest.sentence == index
    assert right >= len(meta["sentences"]) - 1
    # A clean reading at a normal level raises no warning while speech goes on.
    assert not any("too_quiet" in r.warnings or "clipping" in r.warnings for r in reports)
    assert any(r.speech for r in reports) and -35 < max(r.level_dbfs for r in reports) < -5


def test_block_size_does_not_change_the_result():
    path = FIXTURES / "bn_read_short.webm"
    meta = json.loads(path.with_suffix(".json").read_text())
    samples = pcm_of(path)
    one = run(FeedbackAnalyser(expected_for(meta)), samples, block=len(samples))
    many = run(FeedbackAnalyser(expected_for(meta)), samples, block=777)
    # One big block yields only its last report; it must equal the stepwise one.
    assert one[-1] == many[-1]


def tone(seconds: float, amplitude: float) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    syllables = (np.sin(2 * np.pi * 4 * t) > -0.3).astype(float)
    return (amplitude * np.sin(2 * np.pi * 220 * t) * syllables).astype(np.float32)


def test_warns_about_quiet_clipping_and_long_silence():
    quiet = run(FeedbackAnalyser([5.0]), tone(5, 0.003))
    assert "too_quiet" in quiet[-1].warnings
    loud = run(FeedbackAnalyser([5.0]), np.clip(tone(3, 3.0), -1, 1))
    assert "clipping" in loud[-1].warnings and loud[-1].clipping
    paused = np.concatenate([tone(2, 0.3), np.zeros(5 * RATE, dtype=np.float32)])
    reports = run(FeedbackAnalyser([5.0]), paused)
    assert "long_silence" in reports[-1].warnings and reports[-1].silence >= 4
    assert not reports[-1].speech


def test_int16_and_float_input_agree():
    signal = tone(2, 0.3)
    as_int = (signal * 32767).astype(np.int16)
    a = run(FeedbackAnalyser([2.0]), signal)[-1]
    b = run(FeedbackAnalyser([2.0]), as_int)[-1]
    assert a.sentence == b.sentence and abs(a.level_dbfs - b.level_dbfs) < 0.1


def test_sentence_durations_split_the_estimate_by_length():
    assert sentence_durations(["ab", "abcd"], 6.0) == [2.0, 4.0]
