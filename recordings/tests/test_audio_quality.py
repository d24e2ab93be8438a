"""recordings.audio.quality: figures from a block stream and the reasons to reject."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import numpy as np
import pytest

from recordings.audio import quality

SR = 16000


def speechlike(
    seconds: float, *, level_db: float = -20.0, noise_db: float = -70.0, seed: int = 0
) -> np.ndarray:
    """Syllable-rate bursts of voiced sound with pauses, over a noise floor."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    voice = np.sin(2 * np.pi * 140 * t) + 0.5 * np.sin(2 * np.pi * 280 * t)
    voice += 0.3 * rng.standard_normal(n)
    # 4 Hz syllables, grouped in 2 s phrases separated by 0.6 s of silence.
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5
    envelope *= (t % 2.6) < 2.0
    y = voice * envelope
    y *= 10 ** (level_db / 20) / np.sqrt(np.mean(y[envelope > 0.5] ** 2))
    y += rng.standard_normal(n) * 10 ** (noise_db / 20)
    return y.astype(np.float32)


def blocks(y: np.ndarray, size: int = 4000) -> Iterator[np.ndarray]:
    for i in range(0, len(y), size):
        yield y[i : i + size]


def measure(y: np.ndarray, size: int = 4000) -> quality.QualityMetrics:
    return quality.measure_quality(blocks(y, size), SR)


def test_clean_speech_is_accepted_with_sensible_figures() -> None:
    m = measure(speechlike(20.0))
    assert quality.assess(m, expected_duration=18.0) is None
    assert m.duration == pytest.approx(20.0)
    assert -24 < m.speech_dbfs < -16
    assert 0.3 < m.speech_ratio < 0.8
    assert m.snr_db > 40
    assert m.clipping_ratio == 0.0


def test_snr_follows_the_noise_floor() -> None:
    clean = measure(speechlike(20.0, noise_db=-60.0))
    noisy = measure(speechlike(20.0, noise_db=-35.0))
    assert clean.snr_db - noisy.snr_db == pytest.approx(25.0, abs=6.0)
    assert noisy.noise_dbfs == pytest.approx(-35.0, abs=3.0)


def test_digital_silence_is_rejected_as_silent() -> None:
    m = measure(np.zeros(10 * SR, np.float32))
    assert "silent" in str(quality.assess(m))


def test_speech_far_too_quiet_is_rejected() -> None:
    m = measure(speechlike(20.0, level_db=-56.0, noise_db=-100.0))
    assert m.snr_db > 20  # clean, just far too quiet
    assert "far too quiet" in str(quality.assess(m))


def test_noise_without_speech_is_rejected() -> None:
    rng = np.random.default_rng(1)
    m = measure((rng.standard_normal(10 * SR) * 0.05).astype(np.float32))
    assert "could not hear speech" in str(quality.assess(m))


def test_clipped_recording_is_rejected() -> None:
    y = np.clip(speechlike(20.0) * 30, -1.0, 1.0)
    m = measure(y)
    assert m.clipping_ratio > 0.05
    assert "clipping" in str(quality.assess(m))


def test_flat_topped_clipping_below_full_scale_is_counted() -> None:
    y = np.clip(speechlike(20.0) * 30, -0.7, 0.7)  # a sound card clipping at 0.7
    assert measure(y).clipping_ratio > 0.05
    loud_but_clean = speechlike(20.0, level_db=-14.0)
    assert np.abs(loud_but_clean).max() < 0.95
    assert measure(loud_but_clean).clipping_ratio == 0.0


def test_duration_is_judged_against_the_script() -> None:
    m = measure(speechlike(20.0))
    assert "much shorter" in str(quality.assess(m, expected_duration=60.0))
    strict = quality.QualityThresholds(max_extra_seconds=5.0)
    assert "much longer" in str(quality.assess(m, expected_duration=2.0, thresholds=strict))
    assert quality.assess(m, expected_duration=2.0) is None  # default allows a minute extra
    lenient = quality.QualityThresholds(max_extra_seconds=0.0, max_duration_ratio=5.0)
    assert quality.assess(m, expected_duration=5.0, thresholds=lenient) is None


def test_figures_do_not_depend_on_block_size() -> None:
    y = speechlike(15.0, noise_db=-45.0)
    a, b = measure(y, size=len(y)), measure(y, size=777)
    for field in ("level_dbfs", "peak_dbfs", "speech_ratio", "speech_dbfs", "snr_db"):
        assert getattr(a, field) == pytest.approx(getattr(b, field), abs=0.05), field


def test_memory_does_not_grow_with_the_length_of_the_recording() -> None:
    block = speechlike(10.0)

    def peak_for(n_blocks: int) -> int:
        meter = quality.QualityMeter(SR)
        tracemalloc.start()
        try:
            for _ in range(n_blocks):
                meter.update(block)
            meter.result()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    one_minute, ten_minutes = peak_for(6), peak_for(60)
    assert ten_minutes < one_minute * 1.2 + 100_000


def test_a_rejection_keeps_its_message_and_values_apart_for_translation() -> None:
    reason = quality.assess(measure(speechlike(0.4)))
    assert reason.message == (
        "The recording is too short ({duration} s). Please read the whole script aloud."
    )
    assert reason.params == {"duration": "0.4"}
    assert str(reason) == "The recording is too short (0.4 s). Please read the whole script aloud."


def _clipped_by_arrays(x: np.ndarray, last: float, flat_run: int = 3) -> int:
    """The clipped-sample count as the meter computed it with whole-array steps
    before it had a kernel: the reference the kernel must equal exactly."""
    ax = np.abs(x)
    hard = ax >= 0.999
    prev = np.concatenate([np.array([last], dtype=np.float32), x])
    equal_prev = (prev[1:] == prev[:-1]) & (ax >= 0.5)
    member = equal_prev.copy()
    member[:-1] |= equal_prev[1:]
    edges = np.diff(np.concatenate([[0], member.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    long_runs = (ends - starts) >= flat_run
    marker = np.zeros(x.size + 1, dtype=np.int32)
    np.add.at(marker, starts[long_runs], 1)
    np.add.at(marker, ends[long_runs], -1)
    flat = np.cumsum(marker[:-1]) > 0
    return int(hard.sum()) + int((flat & ~hard).sum())


@pytest.mark.parametrize("seed", range(6))
def test_clipped_count_equals_the_array_formulation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Few distinct values, so that equal neighbours and runs of every length
    # (at the block's edges too) are common; levels straddle both thresholds.
    levels = np.array([0.3, 0.5, 0.7, 0.9989, 0.999, 1.0, -0.7, -1.0, np.nan], np.float32)
    meter = quality.QualityMeter(SR)
    last = 0.0
    for size in (1, 2, 3, 5, 50, 4000):
        x = levels[rng.integers(0, levels.size, size)]
        x = np.repeat(x, rng.integers(1, 5, size))
        expected = _clipped_by_arrays(x, last)
        meter._last = last
        assert meter._count_clipped(x) == expected
        assert meter._last == float(x[-1]) or np.isnan(x[-1])
        last = float(x[-1])
