"""One pass over a recording: decode it, write the WAV its chunks are cut from, and
measure quality and the segmenter's envelope from the same blocks as they stream in.

This is the audio worker's orchestration; the measures themselves live in
``quality`` (level, clipping, speech, SNR) and ``envelope`` (the energy
envelope the segmenter reads), and decoding in ``libav``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from .envelope import Envelope, EnvelopeBuilder
from .libav import iter_pcm
from .quality import QualityMeter, QualityMetrics

__all__ = ["Analysis", "decode_and_analyse"]


@dataclass(frozen=True)
class Analysis:
    metrics: QualityMetrics
    envelope: Envelope


def decode_and_analyse(
    source: str | os.PathLike[str],
    wav_out: str | os.PathLike[str],
    *,
    sample_rate: int = 16000,
    max_seconds: float | None = None,
    timeout: float = 600.0,
    block_seconds: float = 8.0,
) -> Analysis:
    """Decode ``source`` once: write the 16-bit WAV the chunks are cut from and
    measure quality and the envelope from the same blocks as they stream in.

    libav decodes ahead in a thread of its own (releasing the GIL) while this
    one resamples, analyses and writes, so on two cores the whole step takes
    about as long as the decode alone instead of decode plus a second read of
    the WAV. Raises what
    ``libav.iter_pcm`` raises; a partial WAV is removed on failure.
    """
    meter = QualityMeter(sample_rate)
    builder = EnvelopeBuilder(sample_rate)
    ok = False
    # The stream decodes ahead in a thread of its own (releasing the GIL), so
    # decoding and analysing overlap instead of taking turns. Long blocks keep
    # this thread's per-block Python work, which competes with the decoder
    # for the GIL, small.
    stream = iter_pcm(
        source,
        sample_rate=sample_rate,
        block_seconds=block_seconds,
        max_seconds=max_seconds,
        timeout=timeout,
    )
    try:
        with (
            stream,
            soundfile.SoundFile(
                str(wav_out), "w", samplerate=sample_rate, channels=1, subtype="PCM_16"
            ) as wav,
        ):
            for block in stream:
                meter.update(block)
                builder.update(block)
                # The blocks are 16-bit samples / 32768: written back exactly.
                wav.write((block * 32768.0).astype(np.int16))
        ok = True
    finally:
        if not ok:
            Path(wav_out).unlink(missing_ok=True)
    return Analysis(meter.result(), builder.result())
