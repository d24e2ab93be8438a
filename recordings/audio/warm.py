"""Take every audio kernel through a synthetic reading.

    python -m recordings.audio.warm

The image's build runs it after compiling the kernels ahead of time
(``aot``), with ``SHRUTIK_AUDIO_KERNELS=compiled``: a check that the module
loads and runs. Where the kernels come from numba instead (``kernels``), it
fills numba's cache (``NUMBA_CACHE_DIR``, else next to the source when that
is writable), so that a worker does not compile them during its first
recording: seconds of CPU, and about 40 MB more peak memory for LLVM.

A synthetic reading (bursts of noise between pauses, sentences with commas)
takes the kernels through the argument types a real recording gives them.
"""

from __future__ import annotations

import numpy as np

from .envelope import EnvelopeBuilder
from .quality import QualityMeter
from .segment import Segmentation, segment_speech

SAMPLE_RATE = 16000


def synthetic_reading(sentences: int, *, seed: int = 0) -> np.ndarray:
    """Float32 PCM: ~2.5 s noise bursts (with a short comma pause) and 0.6 s gaps."""
    rng = np.random.default_rng(seed)
    pieces = [np.zeros(SAMPLE_RATE // 2, np.float32)]
    for _ in range(sentences):
        for seconds in (1.0, 1.5):
            burst = rng.normal(0.0, 0.1, round(seconds * SAMPLE_RATE)).astype(np.float32)
            pieces += [burst, np.zeros(SAMPLE_RATE // 5, np.float32)]
        pieces.append(np.zeros(round(0.6 * SAMPLE_RATE), np.float32))
    return np.concatenate(pieces)


def warm(sentences: int = 12) -> Segmentation:
    """Measure and segment a synthetic reading of ``sentences``, as the worker would."""
    script = ["One sentence, with a comma in it."] * sentences
    pcm = synthetic_reading(len(script))
    meter, builder = QualityMeter(SAMPLE_RATE), EnvelopeBuilder(SAMPLE_RATE)
    for block in np.array_split(pcm, 8):
        meter.update(block)
        builder.update(block)
    meter.result()
    return segment_speech(builder.result(), script, language="en")


if __name__ == "__main__":
    warm()
