"""One pass over a recording: decode it, write the WAV its chunks are cut from, and
measure quality and the segmenter's envelope from the same blocks as they stream in.

This is the audio worker's orchestration; the measures themselves live in
``quality`` (level, clipping, speech, SNR) and ``envelope`` (the energy
envelope the segmenter reads), and decoding in ``libav``.
"""

from __future__ import annotations

import os
import queue
import threading
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

    libav decodes in a reader thread (releasing the GIL) while this one analyses
    and writes, so on two cores the whole step takes about as long as the decode
    alone instead of decode plus a second read of the WAV. Raises what
    ``libav.iter_pcm`` raises; a partial WAV is removed on failure.
    """
    meter = QualityMeter(sample_rate)
    builder = EnvelopeBuilder(sample_rate)
    # A reader thread decodes into a short queue, so decoding and analysing
    # overlap instead of taking turns. The queue bounds memory to a few blocks
    # (8 s each, 512 kB): long blocks keep this thread's per-block Python work,
    # which competes with the decoder for the GIL, small.
    blocks: queue.Queue = queue.Queue(maxsize=8)
    stop = threading.Event()
    done = object()

    def read(stream) -> None:
        # The decoder is used and closed by this thread only: closing it from
        # another thread while a frame is being decoded is not safe.
        try:
            with stream:
                for block in stream:
                    while not stop.is_set():
                        try:
                            blocks.put(block, timeout=0.5)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
            blocks.put(done)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            blocks.put(exc)

    ok = False
    stream = iter_pcm(
        source,
        sample_rate=sample_rate,
        block_seconds=block_seconds,
        max_seconds=max_seconds,
        timeout=timeout,
    )
    reader = threading.Thread(target=read, args=(stream,), daemon=True)
    try:
        with soundfile.SoundFile(
            str(wav_out), "w", samplerate=sample_rate, channels=1, subtype="PCM_16"
        ) as wav:
            reader.start()
            try:
                while (item := blocks.get()) is not done:
                    if isinstance(item, BaseException):
                        raise item
                    meter.update(item)
                    builder.update(item)
                    # The blocks are 16-bit samples / 32768: written back exactly.
                    wav.write((item * 32768.0).astype(np.int16))
            finally:
                stop.set()
                reader.join(timeout=5)
        ok = True
    finally:
        if reader.ident is None:
            stream.close()  # the reader never started, so it cannot close it
        if not ok:
            Path(wav_out).unlink(missing_ok=True)
    return Analysis(meter.result(), builder.result())
