"""Feedback while a contributor reads: level, clipping, speech, sentence, warnings.

``FeedbackAnalyser`` is fed the decoded stream block by block as it arrives and
keeps only a few seconds of frame levels, so it costs the same for a sentence or
an hour. Framework-free: it knows nothing of sockets, sessions or storage.

The sentence estimate combines two weak signals. Pauses mark sentence ends, but
readers also pause at commas and run short sentences together; elapsed reading
time against each sentence's expected share of the script drifts with the
reader's pace. Following the pause count while it stays within one sentence of
the time estimate gets the pause count's precision without letting it run away.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Feedback", "FeedbackAnalyser", "FeedbackThresholds", "sentence_durations"]

_FLOOR_DB = -120.0


@dataclass(frozen=True)
class FeedbackThresholds:
    """When to call a frame speech and when to warn; defaults suit phone microphones."""

    speech_over_floor_db: float = 9.0  # a frame this far above the noise floor is speech
    speech_min_dbfs: float = -55.0  # ... and never quieter than this
    pause_seconds: float = 0.15  # a silence this long between words ends a sentence
    too_quiet_dbfs: float = -40.0  # the loud frames of the last seconds stay below this
    quiet_window_seconds: float = 3.0
    clip_level: float = 0.999
    clipping_ratio: float = 0.001  # share of clipped samples in a report window
    long_silence_seconds: float = 4.0
    floor_window_seconds: float = 10.0


@dataclass(frozen=True)
class Feedback:
    position: float  # seconds of audio analysed so far
    level_dbfs: float  # RMS level of the last report window
    peak_dbfs: float
    clipping: bool
    speech: bool  # the last report window is mostly speech
    silence: float  # seconds since the last speech frame (0 while speaking)
    sentence: int  # index of the sentence the reader is probably on
    warnings: list[str] = field(default_factory=list)  # too_quiet, clipping, long_silence

    def as_dict(self) -> dict:
        return {
            "position": round(self.position, 3),
            "level_dbfs": round(self.level_dbfs, 1),
            "peak_dbfs": round(self.peak_dbfs, 1),
            "clipping": self.clipping,
            "speech": self.speech,
            "silence": round(self.silence, 2),
            "sentence": self.sentence,
            "warnings": list(self.warnings),
        }


def sentence_durations(sentences: Sequence[str], total_seconds: float) -> list[float]:
    """Each sentence's share of the expected reading time, by its length in characters.

    The same split the record page uses for its highlight, so the server's
    estimate and the page's own clock agree when the reader keeps the pace.
    """
    lengths = [max(1, len(s)) for s in sentences] or [1]
    total = sum(lengths)
    return [total_seconds * n / total for n in lengths]


def _db(power: float) -> float:
    return 10.0 * math.log10(power) if power > 10 ** (_FLOOR_DB / 10) else _FLOOR_DB


class FeedbackAnalyser:
    """Incremental analysis of mono PCM (int16 or float in [-1, 1]).

    ``feed`` returns a ``Feedback`` each time at least ``report_seconds`` of new
    audio has been analysed, else None.
    """

    def __init__(
        self,
        expected: Sequence[float],
        *,
        sample_rate: int = 16000,
        frame_seconds: float = 0.02,
        report_seconds: float = 0.5,
        thresholds: FeedbackThresholds | None = None,
    ) -> None:
        self.t = thresholds or FeedbackThresholds()
        self.sample_rate = sample_rate
        self.frame = max(1, round(frame_seconds * sample_rate))
        self.frame_seconds = self.frame / sample_rate
        self.report_frames = max(1, round(report_seconds / self.frame_seconds))
        self.ends = np.cumsum(np.asarray(list(expected) or [1.0], dtype=float))
        self.sentences = len(self.ends)
        self._pending = np.zeros(0, dtype=np.float32)
        self._frames = 0
        history = round(self.t.floor_window_seconds / self.frame_seconds)
        self._levels: deque[float] = deque(maxlen=history)
        # Report-window accumulators.
        self._w_frames = 0
        self._w_power = 0.0
        self._w_peak = 0.0
        self._w_clipped = 0
        self._w_speech = 0
        # Reading-state.
        self._first_speech: float | None = None
        self._last_speech: float | None = None
        self._silent_frames = 0
        self._pauses = 0
        self._sentence = 0
        self._threshold = self.t.speech_min_dbfs

    @property
    def position(self) -> float:
        return self._frames * self.frame_seconds

    def feed(self, pcm: np.ndarray) -> Feedback | None:
        samples = np.asarray(pcm)
        if samples.dtype == np.int16:
            samples = samples.astype(np.float32) / 32768.0
        samples = samples.astype(np.float32, copy=False).reshape(-1)
        if self._pending.size:
            samples = np.concatenate([self._pending, samples])
        whole = samples.size // self.frame
        self._pending = samples[whole * self.frame :].copy()
        if whole == 0:
            return None
        frames = samples[: whole * self.frame].reshape(whole, self.frame)
        powers = np.mean(frames.astype(np.float64) ** 2, axis=1)
        peaks = np.max(np.abs(frames), axis=1)
        clipped = np.count_nonzero(np.abs(frames) >= self.t.clip_level, axis=1)
        report = None
        for power, peak, clips in zip(
            powers.tolist(), peaks.tolist(), clipped.tolist(), strict=True
        ):
            self._frame(power, peak, clips)
            if self._w_frames >= self.report_frames:
                report = self._report()
        return report

    def _speech_threshold(self) -> float:
        if len(self._levels) < 10:
            return self.t.speech_min_dbfs
        floor = float(np.percentile(np.fromiter(self._levels, float), 10))
        return max(floor + self.t.speech_over_floor_db, self.t.speech_min_dbfs)

    def _frame(self, power: float, peak: float, clips: int) -> None:
        level = _db(power)
        self._levels.append(level)
        if self._frames % 25 == 0:  # the floor moves slowly: refresh it twice a second
            self._threshold = self._speech_threshold()
        now = self._frames * self.frame_seconds
        self._frames += 1
        speech = level >= self._threshold
        if speech:
            if self._first_speech is None:
                self._first_speech = now
            elif self._silent_frames * self.frame_seconds >= self.t.pause_seconds:
                self._pauses += 1  # speech again after a pause: a new sentence began
            self._last_speech = now
            self._silent_frames = 0
        else:
            self._silent_frames += 1
        self._w_frames += 1
        self._w_power += power
        self._w_peak = max(self._w_peak, peak)
        self._w_clipped += clips
        self._w_speech += int(speech)

    def _estimate_sentence(self) -> int:
        if self._first_speech is None:
            return 0
        reading = self.position - self._first_speech
        by_time = int(np.searchsorted(self.ends, reading, side="right"))
        by_pauses = min(max(self._pauses, by_time - 1), by_time + 1)
        # Never move back: a reader does not re-read, and a jumping highlight distracts.
        self._sentence = max(self._sentence, min(by_pauses, self.sentences - 1))
        return self._sentence

    def _report(self) -> Feedback:
        n = self._w_frames
        level = _db(self._w_power / n)
        peak = 20.0 * math.log10(self._w_peak) if self._w_peak > 1e-6 else _FLOOR_DB
        clipping = self._w_clipped / (n * self.frame) > self.t.clipping_ratio
        speech = self._w_speech * 2 >= n
        silence_seconds = (
            self._silent_frames * self.frame_seconds if self._first_speech is not None else 0.0
        )
        if self._first_speech is None:
            silence_seconds = self.position
        warnings = []
        quiet_frames = round(self.t.quiet_window_seconds / self.frame_seconds)
        if len(self._levels) >= quiet_frames:
            recent = np.fromiter(self._levels, float)[-quiet_frames:]
            if float(np.percentile(recent, 95)) < self.t.too_quiet_dbfs:
                warnings.append("too_quiet")
        if clipping:
            warnings.append("clipping")
        if silence_seconds >= self.t.long_silence_seconds:
            warnings.append("long_silence")
        feedback = Feedback(
            position=self.position,
            level_dbfs=level,
            peak_dbfs=peak,
            clipping=clipping,
            speech=speech,
            silence=silence_seconds,
            sentence=self._estimate_sentence(),
            warnings=warnings,
        )
        self._w_frames = 0
        self._w_power = 0.0
        self._w_peak = 0.0
        self._w_clipped = 0
        self._w_speech = 0
        return feedback
