"""recordings.audio.envelope: the compact level track and the speech regions in it."""

from __future__ import annotations

import numpy as np
import pytest

from recordings.audio.envelope import EnvelopeBuilder, envelope_from_audio, speech_regions

SR = 16000


def bursts(
    pattern: list[tuple[float, float]],
    *,
    level_db: float = -20.0,
    noise_db: float | list[float] = -70.0,
    seed: int = 0,
) -> np.ndarray:
    """(seconds, is_speech) pieces: voiced bursts and pauses over a noise floor.

    ``noise_db`` may give one floor per piece, to model a room that changes.
    """
    rng = np.random.default_rng(seed)
    floors = noise_db if isinstance(noise_db, list) else [noise_db] * len(pattern)
    pieces = []
    for (seconds, speech), floor in zip(pattern, floors, strict=True):
        n = int(seconds * SR)
        t = np.arange(n) / SR
        y = rng.standard_normal(n) * 10 ** (floor / 20)
        if speech:
            voice = np.sin(2 * np.pi * 150 * t) + 0.3 * rng.standard_normal(n)
            y += voice * 10 ** (level_db / 20) / np.sqrt(np.mean(voice**2))
        pieces.append(y)
    return np.concatenate(pieces).astype(np.float32)


def test_one_level_per_10_ms_measuring_rms() -> None:
    t = np.arange(SR) / SR
    env = envelope_from_audio((0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), SR)
    assert env.frames == 100 and env.hop_seconds == 0.01 and env.duration == 1.0
    # RMS of a 0.5 sine is -9.03 dBFS; the edge frames see the zero padding.
    assert np.median(env.db) == pytest.approx(-9.03, abs=0.1)


def test_streaming_in_any_block_size_gives_the_same_envelope() -> None:
    y = bursts([(0.7, True), (0.3, False), (1.1, True)])
    whole = EnvelopeBuilder(SR)
    whole.update(y)
    pieces = EnvelopeBuilder(SR)
    rng = np.random.default_rng(3)
    i = 0
    while i < y.size:
        step = int(rng.integers(1, 5000))
        pieces.update(y[i : i + step])
        i += step
    np.testing.assert_allclose(whole.result().db, pieces.result().db, atol=1e-3)


def test_finds_each_burst_and_bridges_gaps_inside_words() -> None:
    pattern = [
        (0.5, False),
        (0.8, True),
        (0.03, False),
        (0.6, True),
        (0.4, False),
        (1.0, True),
        (0.5, False),
    ]
    regions = speech_regions(envelope_from_audio(bursts(pattern), SR))
    seconds = regions.bounds * 0.01
    assert len(seconds) == 2  # the 30 ms dip is inside a word
    assert seconds[0] == pytest.approx([0.5, 1.93], abs=0.03)
    assert seconds[1] == pytest.approx([2.33, 3.33], abs=0.03)


def test_follows_a_noise_floor_that_rises_mid_recording() -> None:
    # Quiet room, then a fan: pauses are 45 dB below speech in the first half
    # and only 15 dB below it in the second. A single global threshold would
    # lose every pause of the second half.
    pattern, floors = [], []
    for k in range(16):
        floor = -65.0 if k < 8 else -35.0
        pattern += [(1.2, True), (0.35, False)]
        floors += [floor, floor]
    y = bursts(pattern, level_db=-20.0, noise_db=floors)
    starts = speech_regions(envelope_from_audio(y, SR)).bounds[:, 0] * 0.01
    change = 8 * 1.55
    # The floor is tracked over +-3 s, so at most the pause right at the change
    # is missed; every other burst still starts on its own.
    assert len(starts) >= 15
    expected = np.arange(16) * 1.55
    after = expected[expected > change + 3.0]
    assert all(np.min(np.abs(starts - e)) < 0.05 for e in after)


def test_rumble_does_not_fill_the_pauses() -> None:
    pattern = [(1.0, True), (0.3, False)] * 4
    y = bursts(pattern)
    t = np.arange(y.size) / SR
    y = y + 0.3 * np.sin(2 * np.pi * 20 * t).astype(np.float32)  # louder than the speech
    regions = speech_regions(envelope_from_audio(y, SR))
    assert len(regions.bounds) == 4


def test_an_isolated_click_is_not_speech() -> None:
    pattern = [(1.0, True), (2.0, False), (0.05, True), (2.0, False), (1.0, True)]
    regions = speech_regions(envelope_from_audio(bursts(pattern), SR))
    assert len(regions.bounds) == 2


def test_steady_noise_has_no_speech() -> None:
    rng = np.random.default_rng(0)
    y = (rng.standard_normal(5 * SR) * 0.05).astype(np.float32)
    assert len(speech_regions(envelope_from_audio(y, SR)).bounds) == 0
