"""Clip audio for an export: stored FLAC as is, or transcoded when asked.

soundfile (libsndfile) decodes and encodes every format we offer, in process:
no ffmpeg child per clip. Resampling uses scipy's polyphase filter, exact for
the rational ratios between common rates.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from math import gcd

import numpy as np
import soundfile as sf

EXTENSIONS = {"flac": "flac", "wav": "wav", "mp3": "mp3", "opus": "opus"}
_ENCODING = {
    "flac": ("FLAC", "PCM_16"),
    "wav": ("WAV", "PCM_16"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
    "opus": ("OGG", "OPUS"),
}
SAMPLE_RATES = (8000, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


class ClipAudioError(Exception):
    """A stored clip could not be read."""


@dataclass(frozen=True, slots=True)
class ClipAudio:
    data: bytes
    num_samples: int
    sample_rate: int

    @property
    def duration(self) -> float:
        return round(self.num_samples / self.sample_rate, 6)


def prepare(data: bytes, *, audio_format: str, sample_rate: int) -> ClipAudio:
    """The clip's bytes in the export's format and rate, with its exact length.

    Stored chunks are 16 kHz mono FLAC: the default export copies the bytes
    untouched (no generation loss, no CPU), reading only the header.
    """
    try:
        info = sf.info(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise ClipAudioError(str(exc)) from exc
    if audio_format == "flac" and info.format == "FLAC" and info.samplerate == sample_rate:
        return ClipAudio(data=data, num_samples=info.frames, sample_rate=sample_rate)
    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise ClipAudioError(str(exc)) from exc
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    if rate != sample_rate:
        from scipy.signal import resample_poly

        common = gcd(rate, sample_rate)
        samples = resample_poly(samples, sample_rate // common, rate // common).astype(np.float32)
    container, subtype = _ENCODING[audio_format]
    out = io.BytesIO()
    sf.write(out, np.clip(samples, -1.0, 1.0), sample_rate, format=container, subtype=subtype)
    return ClipAudio(data=out.getvalue(), num_samples=len(samples), sample_rate=sample_rate)
