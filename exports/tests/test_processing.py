"""The DSP of processed exports, measured on the audio it produces."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from scipy.signal import resample_poly, welch

from exports import processing as dsp

RATE = 16000


def tone_with_clicks(seconds: float, *, rate: int = RATE, level: float = 0.05) -> np.ndarray:
    """A quiet tone with sharp clicks: normalising it up needs the peak limiter."""
    t = np.arange(round(seconds * rate)) / rate
    y = level * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    y[:: rate // 4] += 0.8
    return y[:, None]


def padded(lead: float, body: np.ndarray, tail: float, rate: int = RATE) -> np.ndarray:
    return np.concatenate(
        [np.zeros((round(lead * rate), 1)), body, np.zeros((round(tail * rate), 1))]
    )


def flac(y: np.ndarray, rate: int = RATE) -> bytes:
    return dsp.encode(y, rate, "flac")


def decoded(data: bytes) -> tuple[np.ndarray, int]:
    y, rate = sf.read(io.BytesIO(data), dtype="float64", always_2d=True)
    return y, rate


def true_peak_db(y: np.ndarray) -> float:
    """An independent true-peak measurement: scipy's polyphase 4x oversampling."""
    over = resample_poly(y, 4, 1, axis=0)
    return 20 * np.log10(max(np.abs(over).max(), np.abs(y).max()))


def lufs(y: np.ndarray, rate: int = RATE) -> float:
    return pyloudnorm.Meter(rate).integrated_loudness(y)


@pytest.mark.parametrize(("target", "ceiling"), [(-23.0, -1.0), (-14.0, -1.0), (-16.0, -3.0)])
def test_loudness_reaches_the_target_and_true_peak_stays_under_the_ceiling(target, ceiling):
    options = dsp.Options(target_lufs=target, true_peak_dbtp=ceiling)
    out = dsp.process_clip(
        flac(tone_with_clicks(2.5)), clip="c1", options=options, sample_rate=RATE,
        audio_format="flac", augment=False,
    )  # fmt: skip
    y, _ = decoded(out.clips[0].data)
    assert lufs(y) == pytest.approx(target, abs=0.5)
    assert 20 * np.log10(np.abs(y).max()) <= ceiling  # no sample above the ceiling
    assert true_peak_db(y) <= ceiling + 0.01
    assert out.limited  # the clicks had to be limited to get there


def test_a_clip_shorter_than_a_gating_block_is_still_normalised():
    out = dsp.process_clip(
        flac(tone_with_clicks(0.3, level=0.2)), clip="c", sample_rate=RATE, audio_format="wav",
        options=dsp.Options(target_lufs=-20.0), augment=False,
    )  # fmt: skip
    y, _ = decoded(out.clips[0].data)
    assert dsp.integrated_loudness(y, RATE) == pytest.approx(-20.0, abs=0.5)


def test_silence_is_left_alone_by_loudness_normalisation():
    silent = np.zeros((RATE, 1))
    y, limited = dsp.normalise_loudness(silent, RATE, target_lufs=-23, true_peak_dbtp=-1)
    assert not limited and not y.any()


def test_trimming_keeps_the_margin_and_all_of_the_speech():
    body = tone_with_clicks(1.0, level=0.3)
    for margin in (0.05, 0.2):
        out = dsp.process_clip(
            flac(padded(0.6, body, 0.5)), clip="c", sample_rate=RATE, audio_format="flac",
            options=dsp.Options(trim=True, trim_margin=margin), augment=False,
        )  # fmt: skip
        y, _ = decoded(out.clips[0].data)
        voiced = np.flatnonzero(np.abs(y[:, 0]) > 1e-4)
        lead = voiced[0] / RATE
        tail = (len(y) - 1 - voiced[-1]) / RATE
        # Within one 32 ms analysis frame of the margin, and never cutting into the tone.
        assert margin - 0.002 <= lead <= margin + 0.032
        assert margin - 0.002 <= tail <= margin + 0.032
        assert (voiced[-1] - voiced[0]) / RATE == pytest.approx(1.0, abs=2 / RATE)
        assert out.trimmed_seconds == pytest.approx(1.1 - 2 * margin, abs=0.07)


def test_duration_filters_apply_after_trimming():
    clip = flac(padded(1.0, tone_with_clicks(0.5, level=0.3), 1.0))
    trimmed = dsp.Options(trim=True, trim_margin=0.05, min_duration=1.0)
    out = dsp.process_clip(
        clip, clip="c", options=trimmed, sample_rate=RATE, audio_format="flac", augment=True
    )
    assert out.dropped == "shorter than min_duration" and not out.clips
    untrimmed = dsp.Options(min_duration=1.0, max_duration=2.0)
    out = dsp.process_clip(
        clip, clip="c", options=untrimmed, sample_rate=RATE, audio_format="flac", augment=False
    )
    assert out.dropped == "longer than max_duration"


def test_resampling_with_soxr_and_channel_layout():
    y = tone_with_clicks(1.0, rate=44100, level=0.3)
    options = dsp.Options(channels=2)
    out = dsp.process_clip(
        flac(y, 44100), clip="c", options=options, sample_rate=16000, audio_format="wav",
        augment=False,
    )  # fmt: skip
    clip = out.clips[0]
    stereo, rate = decoded(clip.data)
    assert rate == 16000 and stereo.shape == (16000, 2) and clip.channels == 2
    np.testing.assert_array_equal(stereo[:, 0], stereo[:, 1])
    mono = dsp.set_channels(np.stack([np.ones(10), -np.ones(10) * 0.5], axis=1), 1)
    np.testing.assert_allclose(mono[:, 0], 0.25)


@pytest.mark.parametrize("factor", [0.9, 1.1, 0.95, 1.5])
def test_speed_perturbation_scales_the_duration_by_one_over_the_factor(factor):
    options = dsp.Options(speeds=(factor,))
    out = dsp.process_clip(
        flac(tone_with_clicks(2.0, level=0.3)), clip="c", options=options, sample_rate=RATE,
        audio_format="flac", augment=True,
    )  # fmt: skip
    original, copy = out.clips
    assert copy.augmentation == f"speed={factor:g}" and copy.sample_rate == RATE
    assert copy.duration / original.duration == pytest.approx(1 / factor, rel=0.01)
    # Pitch moves with speed, as in Kaldi's and lhotse's perturbation.
    y, _ = decoded(copy.data)
    freqs, power = welch(y[:, 0], RATE, nperseg=4096)
    assert freqs[power.argmax()] == pytest.approx(220 * factor, rel=0.02)


@pytest.mark.parametrize("source", ["white", "pink", "brown"])
@pytest.mark.parametrize("snr", [0.0, 10.0, 20.0])
def test_added_noise_has_the_requested_snr(source, snr):
    options = dsp.Options(noise_source=source, noise_snrs=(snr,), seed=3)
    out = dsp.process_clip(
        flac(tone_with_clicks(2.0, level=0.3)), clip="c", options=options, sample_rate=RATE,
        audio_format="flac", augment=True,
    )  # fmt: skip
    original, noisy = (decoded(c.data)[0][:, 0] for c in out.clips)
    assert out.clips[1].augmentation == f"noise={source}@{snr:g}dB"
    # A copy scaled down to avoid clipping is still the same mix: project it out.
    gain = noisy @ original / (original @ original)
    noise = noisy - gain * original
    measured = 10 * np.log10(np.sum((gain * original) ** 2) / np.sum(noise**2))
    assert measured == pytest.approx(snr, abs=1.0)


def test_coloured_noise_has_its_spectral_slope():
    rng = np.random.default_rng(0)
    slopes = {}
    for colour in ("white", "pink", "brown"):
        noise = dsp.coloured_noise(RATE * 8, 1, colour, rng)[:, 0]
        assert np.sqrt(np.mean(noise**2)) == pytest.approx(1.0)
        freqs, power = welch(noise, RATE, nperseg=4096)
        band = (freqs > 100) & (freqs < 4000)
        slopes[colour] = np.polyfit(np.log10(freqs[band]), 10 * np.log10(power[band]), 1)[0]
    # dB per decade: 0 (white), -10 (pink), -20 (brown)
    assert slopes["white"] == pytest.approx(0, abs=1.5)
    assert slopes["pink"] == pytest.approx(-10, abs=1.5)
    assert slopes["brown"] == pytest.approx(-20, abs=1.5)


def test_noise_from_the_uploaded_set_is_looped_and_mixed_at_the_snr():
    rng = np.random.default_rng(1)
    recordings = [flac(0.1 * rng.standard_normal((RATE // 2, 1))) for _ in range(3)]
    bank = dsp.NoiseBank(3, lambda i: recordings[i])
    options = dsp.Options(noise_source=dsp.NOISE_SET, noise_snrs=(5.0,))
    out = dsp.process_clip(
        flac(tone_with_clicks(2.0, level=0.3)), clip="c", options=options, sample_rate=RATE,
        audio_format="flac", augment=True, noise_bank=bank,
    )  # fmt: skip
    original, noisy = (decoded(c.data)[0][:, 0] for c in out.clips)
    assert len(noisy) == len(original)  # half-second noise looped over two seconds
    gain = noisy @ original / (original @ original)
    measured = 10 * np.log10(
        np.sum((gain * original) ** 2) / np.sum((noisy - gain * original) ** 2)
    )
    assert measured == pytest.approx(5.0, abs=1.0)
    with pytest.raises(dsp.ProcessingError, match="noise set is empty"):
        dsp.process_clip(
            flac(tone_with_clicks(1.0)), clip="c", options=options, sample_rate=RATE,
            audio_format="flac", augment=True,
        )  # fmt: skip


def test_without_augment_only_the_original_is_rendered():
    options = dsp.Options(speeds=(0.9, 1.1), noise_source="pink", noise_snrs=(10.0,))
    out = dsp.process_clip(
        flac(tone_with_clicks(1.0)), clip="c", options=options, sample_rate=RATE,
        audio_format="flac", augment=False,
    )  # fmt: skip
    assert [c.augmentation for c in out.clips] == [""]


def test_same_clip_options_and_seed_give_identical_bytes_and_the_seed_matters():
    options = dsp.Options(
        target_lufs=-23.0, trim=True, speeds=(0.9, 1.1), noise_source="pink",
        noise_snrs=(10.0, 20.0), seed=7,
    )  # fmt: skip
    clip = flac(padded(0.3, tone_with_clicks(1.5), 0.3))

    def digests(opts, name="clip-a", audio_format="flac"):
        out = dsp.process_clip(
            clip, clip=name, options=opts, sample_rate=RATE, audio_format=audio_format,
            augment=True,
        )  # fmt: skip
        return [hashlib.sha256(c.data).hexdigest() for c in out.clips]

    first = digests(options)
    # Interleave other clips: draws depend on (seed, clip, augmentation) only.
    digests(options, "clip-b")
    assert digests(options) == first
    assert digests(options, audio_format="wav") == digests(options, audio_format="wav")
    other_seed = digests(dsp.Options(**{**options.__dict__, "seed": 8}))
    assert other_seed[:3] == first[:3]  # original and speed copies draw nothing
    assert other_seed[3:] != first[3:]  # noise does
    assert digests(options, "clip-b")[3:] != first[3:]


def test_undecodable_audio_raises_a_processing_error():
    with pytest.raises(dsp.ProcessingError):
        dsp.process_clip(
            b"not audio", clip="c", options=dsp.Options(), sample_rate=RATE,
            audio_format="flac", augment=False,
        )  # fmt: skip


def test_options_from_the_stored_json():
    options = dsp.Options.from_dict(
        {
            "loudness": {"target_lufs": -23, "true_peak_dbtp": -2},
            "trim": {"top_db": 35, "margin_ms": 150},
            "channels": 2,
            "min_duration": 1.0,
            "max_duration": None,
            "augment": {"speed": [0.9, 1.1], "noise": {"source": "brown", "snrs": [5]}},
            "seed": 4,
        }
    )
    assert options == dsp.Options(
        target_lufs=-23, true_peak_dbtp=-2.0, trim=True, trim_top_db=35.0, trim_margin=0.15,
        channels=2, min_duration=1.0, speeds=(0.9, 1.1), noise_source="brown",
        noise_snrs=(5.0,), seed=4,
    )  # fmt: skip
    assert options.augments and not dsp.Options.from_dict({}).augments
