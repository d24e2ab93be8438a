"""Recording quality: level, clipping, speech share and SNR from a block stream.

``QualityMeter`` sees the audio once, block by block, and keeps only running
sums and a histogram of frame levels, so an hour of audio costs the same
memory as a second. ``assess`` turns the figures into the one reason a
contributor is shown when their recording cannot be used.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TypeVar

import numpy as np

from .kernels import clipped_count

__all__ = [
    "QualityMeter",
    "QualityMetrics",
    "QualityThresholds",
    "assess",
    "measure_quality",
    "speech_threshold",
]

_Level = TypeVar("_Level", float, np.ndarray)

_FLOOR_DB = -120.0  # digital silence is clamped here instead of -inf
_BIN_DB = 0.25
_BINS = int((10.0 - _FLOOR_DB) / _BIN_DB)  # up to +10 dBFS (lossy decoders overshoot)


def _db(power: float) -> float:
    return 10.0 * math.log10(power) if power > 10 ** (_FLOOR_DB / 10) else _FLOOR_DB


@dataclass(frozen=True)
class QualityMetrics:
    duration: float  # seconds
    level_dbfs: float  # level of the whole recording
    peak_dbfs: float
    clipping_ratio: float  # share of samples at (or flattened at) full scale
    speech_ratio: float  # share of frames above the adaptive speech threshold
    speech_dbfs: float  # level of the speech frames alone
    noise_dbfs: float  # noise floor (low percentile of frame levels)
    snr_db: float  # speech power over noise power

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in asdict(self).items()}


# Runs of identical samples count as clipping only at or above this level.
_FLAT_MIN_LEVEL = 0.5


class QualityMeter:
    """Accumulates quality figures over a stream of mono float blocks.

    Frame levels go into a fixed histogram (0.25 dB bins) rather than a list, so
    percentiles - noise floor, speech threshold - are available at the end with
    constant memory.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        *,
        frame_seconds: float = 0.02,
        clip_level: float = 0.999,
        flat_run: int = 3,
    ) -> None:
        self.sample_rate = sample_rate
        self.clip_level = clip_level
        self.flat_run = flat_run
        self._frame = max(1, round(frame_seconds * sample_rate))
        self._carry = np.zeros(0, dtype=np.float32)
        self._samples = 0
        self._sum_sq = 0.0
        self._peak = 0.0
        self._clipped = 0
        self._hist = np.zeros(_BINS, dtype=np.int64)
        self._last = 0.0

    def update(self, block: np.ndarray) -> None:
        x = np.asarray(block, dtype=np.float32).reshape(-1)
        if x.size == 0:
            return
        self._samples += x.size
        # Sums of squares in float64: float32 accumulation drifts over an hour.
        self._sum_sq += float(np.einsum("i,i->", x, x, dtype=np.float64))
        ax = np.abs(x)
        block_peak = float(ax.max())
        self._peak = max(self._peak, block_peak)
        if block_peak >= min(_FLAT_MIN_LEVEL, self.clip_level):
            self._clipped += self._count_clipped(x)
        else:
            # Nothing loud enough to be clipped: most blocks of a recording,
            # and the run search below is the costliest part of the meter.
            self._last = float(x[-1])
        frames = np.concatenate([self._carry, x])
        n = frames.size // self._frame
        self._carry = frames[n * self._frame :].copy()
        if n:
            f = frames[: n * self._frame].reshape(n, self._frame)
            power = np.einsum("ij,ij->i", f, f, dtype=np.float64) / self._frame
            self._add_levels(10.0 * np.log10(np.maximum(power, 1e-12)))

    def _count_clipped(self, x: np.ndarray) -> int:
        """Samples at full scale, plus flat-topped runs of loud samples below it.

        Input clipped by a sound card below 1.0 shows as runs of identical loud
        samples. A run that straddles two blocks is only seen through the one
        sample carried over, which is precise enough for a ratio.
        """
        last = np.float32(self._last)
        self._last = float(x[-1])
        # In float32, as numpy compared the samples with the levels.
        return int(
            clipped_count(
                x, last, np.float32(self.clip_level), np.float32(_FLAT_MIN_LEVEL), self.flat_run
            )
        )

    def _add_levels(self, levels_db: np.ndarray) -> None:
        idx = np.clip(((levels_db - _FLOOR_DB) / _BIN_DB).astype(np.int64), 0, _BINS - 1)
        self._hist += np.bincount(idx, minlength=_BINS)

    def _percentile(self, q: float) -> float:
        total = int(self._hist.sum())
        if total == 0:
            return _FLOOR_DB
        k = np.searchsorted(np.cumsum(self._hist), q * total, side="left")
        return _FLOOR_DB + (float(k) + 0.5) * _BIN_DB

    def result(self) -> QualityMetrics:
        if self._carry.size:
            tail = self._carry.astype(np.float64)
            self._add_levels(np.array([_db(float(np.mean(tail * tail)))]))
            self._carry = np.zeros(0, dtype=np.float32)
        frames = int(self._hist.sum())
        duration = self._samples / self.sample_rate
        if frames == 0:
            return QualityMetrics(
                duration, _FLOOR_DB, _FLOOR_DB, 0.0, 0.0, _FLOOR_DB, _FLOOR_DB, 0.0
            )
        noise = self._percentile(0.10)
        loud = self._percentile(0.95)
        threshold = float(speech_threshold(noise, loud))
        centers = _FLOOR_DB + (np.arange(_BINS) + 0.5) * _BIN_DB
        above = centers > threshold
        speech_frames = int(self._hist[above].sum())
        powers = 10.0 ** (centers / 10.0)
        speech_power = (
            float(np.dot(self._hist[above], powers[above])) / speech_frames
            if speech_frames
            else 0.0
        )
        quiet = centers <= self._percentile(0.20)
        noise_frames = int(self._hist[quiet].sum())
        noise_power = (
            float(np.dot(self._hist[quiet], powers[quiet])) / noise_frames if noise_frames else 0.0
        )
        if speech_power > 0 and noise_power > 0:
            snr = 10.0 * math.log10(max(speech_power - noise_power, 1e-12) / noise_power)
        else:
            snr = 0.0
        return QualityMetrics(
            duration=duration,
            level_dbfs=_db(self._sum_sq / max(1, self._samples)),
            peak_dbfs=20.0 * math.log10(self._peak) if self._peak > 1e-6 else _FLOOR_DB,
            clipping_ratio=self._clipped / max(1, self._samples),
            speech_ratio=speech_frames / frames,
            speech_dbfs=_db(speech_power),
            noise_dbfs=_db(noise_power),
            snr_db=max(0.0, snr),
        )


def speech_threshold(noise_db: _Level, loud_db: _Level) -> _Level:
    """Adaptive speech/non-speech level between the noise floor and loud frames.

    A fixed "-40 dBFS" fails both on quiet microphones and in noisy rooms; a
    point a third of the way from the floor to the loud frames, but at least
    6 dB above the floor, follows the recording. Shared with the segmenter so
    "speech" means the same thing in both; works on floats and arrays.
    """
    return noise_db + np.maximum(6.0, 0.33 * (loud_db - noise_db))


def measure_quality(blocks: Iterable[np.ndarray], sample_rate: int = 16000) -> QualityMetrics:
    meter = QualityMeter(sample_rate)
    for block in blocks:
        meter.update(block)
    return meter.result()


@dataclass(frozen=True)
class QualityThresholds:
    """Limits for rejecting a recording; defaults suit phone and laptop microphones."""

    silent_peak_dbfs: float = -50.0  # nothing louder than this anywhere: silent
    min_speech_ratio: float = 0.05  # hardly any frame stands out from the floor
    min_snr_db: float = 3.0  # speech barely above the noise: nothing to segment
    min_speech_dbfs: float = -48.0  # speech this quiet is unusable even if clean
    max_clipping_ratio: float = 0.01  # 1 % of samples at full scale is audible distortion
    min_seconds: float = 1.0
    # Relative to the script's expected reading time: readers vary, and long
    # pauses are allowed, so the window is wide and only catches the wrong
    # script, a recording stopped early, or one left running.
    min_duration_ratio: float = 0.4
    max_duration_ratio: float = 3.0
    max_extra_seconds: float = 60.0  # added to the upper limit for short scripts


# Plain-word bands for the figures a reader is shown: "dBFS" and "signal to
# noise" mean nothing to most people. Level is the recording's average level.
QUIET_BELOW_DBFS = -40.0
LOUD_ABOVE_DBFS = -12.0
NOISY_BELOW_SNR_DB = 15.0
CLEAN_FROM_SNR_DB = 30.0


def plain_quality(
    *, level_dbfs: float | None, snr_db: float | None, clipping_ratio: float | None
) -> dict[str, str | None]:
    """``{"level": "quiet" | "good" | "loud", "noise": "low" | "some" | "high"}``
    (None where the figure is unknown) for telling a reader how their recording
    sounds."""
    level = None
    if level_dbfs is not None:
        if (clipping_ratio or 0.0) > 0.001 or level_dbfs > LOUD_ABOVE_DBFS:
            level = "loud"
        elif level_dbfs < QUIET_BELOW_DBFS:
            level = "quiet"
        else:
            level = "good"
    noise = None
    if snr_db is not None:
        if snr_db >= CLEAN_FROM_SNR_DB:
            noise = "low"
        else:
            noise = "some" if snr_db >= NOISY_BELOW_SNR_DB else "high"
    return {"level": level, "noise": noise}


def N_(message: str) -> str:
    """Marks a message for the translation catalogue; translated where it is shown."""
    return message


@dataclass(frozen=True)
class Rejection:
    """Why a recording is refused, as the contributor is told.

    An English sentence with named slots and the values for them, kept apart so
    that the page can show the sentence in the contributor's language (the
    worker that decides has no idea which one that is). ``str()`` is English.
    """

    message: str
    params: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message.format(**self.params)


def assess(
    metrics: QualityMetrics,
    expected_duration: float | None = None,
    thresholds: QualityThresholds | None = None,
) -> Rejection | None:
    """Return the reason to reject the recording (shown to the contributor), or None."""
    t = thresholds or QualityThresholds()
    if metrics.duration < t.min_seconds:
        return Rejection(
            N_("The recording is too short ({duration} s). Please read the whole script aloud."),
            {"duration": f"{metrics.duration:.1f}"},
        )
    if metrics.peak_dbfs < t.silent_peak_dbfs:
        return Rejection(
            N_(
                "The recording is silent. Check that the right microphone is selected, "
                "unmuted and allowed in your browser, then record again."
            )
        )
    if metrics.clipping_ratio > t.max_clipping_ratio:
        return Rejection(
            N_(
                "The recording is distorted because it is too loud (clipping). "
                "Please move a little away from the microphone or lower its input volume."
            )
        )
    if metrics.speech_ratio < t.min_speech_ratio or metrics.snr_db < t.min_snr_db:
        return Rejection(
            N_(
                "We could not hear speech in the recording, only steady sound or noise. "
                "Please record again somewhere quieter, close to the microphone."
            )
        )
    if metrics.speech_dbfs < t.min_speech_dbfs:
        return Rejection(
            N_(
                "The recording is far too quiet. Please speak closer to the microphone "
                "or raise its input volume, then record again."
            )
        )
    if expected_duration is not None and expected_duration > 0:
        lengths = {"duration": f"{metrics.duration:.0f}", "reading": f"{expected_duration:.0f}"}
        if metrics.duration < t.min_duration_ratio * expected_duration:
            return Rejection(
                N_(
                    "The recording is much shorter ({duration} s) than reading this script "
                    "takes (about {reading} s). Please read every sentence of the script."
                ),
                lengths,
            )
        upper = t.max_duration_ratio * expected_duration + t.max_extra_seconds
        if metrics.duration > upper:
            return Rejection(
                N_(
                    "The recording is much longer ({duration} s) than reading this script "
                    "takes (about {reading} s). Please record only the script, and stop the "
                    "recording when you finish."
                ),
                lengths,
            )
    return None
