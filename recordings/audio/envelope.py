"""A compact energy envelope of a recording and the speech regions in it.

The segmenter never needs the samples, only how loud each 10 ms is: an hour of
16 kHz float32 audio is 230 MB, its envelope 1.4 MB. ``EnvelopeBuilder`` builds
it from a block stream; ``speech_regions`` finds the non-silent stretches the
way ``librosa.effects.split`` does (frame RMS in dB against a threshold), but
with a threshold that follows the local noise floor instead of a fixed
``top_db`` below the global peak, which misses every pause in a noisy room
and, in a long session, every pause after the room got noisier. (librosa is
not imported: its import alone takes half the worker's memory budget.)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .kernels import biquad
from .quality import speech_threshold

__all__ = [
    "Envelope",
    "EnvelopeBuilder",
    "SpeechRegions",
    "envelope_from_audio",
    "envelope_from_blocks",
    "speech_regions",
]

_FLOOR_DB = -120.0
_SLICE_FRAMES = 1 << 15


def highpass_coefficients(cutoff_hz: float, sample_rate: int) -> np.ndarray:
    """2nd-order Butterworth high-pass as a biquad (b0, b1, b2, a1, a2).

    From the RBJ audio-EQ cookbook with Q = 1/sqrt(2).
    """
    w0 = 2.0 * math.pi * cutoff_hz / sample_rate
    alpha = math.sin(w0) / (2.0 * (1.0 / math.sqrt(2.0)))
    cos_w0 = math.cos(w0)
    a0 = 1.0 + alpha
    b0 = (1.0 + cos_w0) / 2.0 / a0
    b1 = -(1.0 + cos_w0) / a0
    b2 = b0
    a1 = -2.0 * cos_w0 / a0
    a2 = (1.0 - alpha) / a0
    return np.array([b0, b1, b2, a1, a2])


@dataclass(frozen=True)
class Envelope:
    """RMS level in dBFS of each hop, measured over a window centred on the hop."""

    db: np.ndarray  # float32, one value per hop
    hop_seconds: float
    duration: float  # seconds of audio it describes

    @property
    def frames(self) -> int:
        return int(self.db.size)


class EnvelopeBuilder:
    """Streaming frame-RMS envelope (default 25 ms windows every 10 ms).

    A gentle high-pass (80 Hz) first removes rumble and DC offset, which would
    otherwise fill the pauses with energy that is not speech.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        *,
        hop_seconds: float = 0.01,
        window_seconds: float = 0.025,
        highpass_hz: float = 80.0,
    ) -> None:
        self.sample_rate = sample_rate
        self.hop = max(1, round(hop_seconds * sample_rate))
        self.win = max(self.hop, round(window_seconds * sample_rate))
        self._coef = highpass_coefficients(highpass_hz, sample_rate)
        self._state: np.ndarray | None = None
        # Centre each window on its hop: hop t covers [t*hop, (t+1)*hop) and its
        # window starts (win - hop) / 2 samples earlier, hence the zero lead-in.
        self._lead = (self.win - self.hop) // 2
        self._buf = np.zeros(self._lead, dtype=np.float64)
        self._chunks: list[np.ndarray] = []
        self._samples = 0
        self._emitted = 0

    def update(self, block: np.ndarray) -> None:
        x = np.asarray(block, dtype=np.float64).reshape(-1)
        if x.size == 0:
            return
        if self._state is None:
            # Start the filter settled on the first sample (no step transient).
            self._state = np.zeros(2)
            warm = np.full(self.sample_rate // 10, x[0])
            biquad(warm, self._coef, self._state)
        y = biquad(x, self._coef, self._state)
        self._samples += x.size
        self._buf = np.concatenate([self._buf, y])
        self._emit(final=False)

    def _emit(self, final: bool) -> None:
        buf = self._buf
        if final:
            # The last hops' windows run past the end of the audio: pad with zeros.
            remaining = -(-self._samples // self.hop) - self._emitted
            needed = (remaining - 1) * self.hop + self.win if remaining > 0 else 0
            if needed > buf.size:
                buf = np.concatenate([buf, np.zeros(needed - buf.size)])
            n = max(0, remaining)
        else:
            n = 0 if buf.size < self.win else (buf.size - self.win) // self.hop + 1
        if n == 0:
            self._buf = buf
            return
        # The same framing as librosa.util.frame: strided views, no copies.
        frames = sliding_window_view(buf[: (n - 1) * self.hop + self.win], self.win)[:: self.hop]
        power = np.einsum("ij,ij->i", frames, frames) / self.win
        self._chunks.append((10.0 * np.log10(np.maximum(power, 1e-12))).astype(np.float32))
        self._emitted += n
        self._buf = buf[n * self.hop :].copy()

    def result(self) -> Envelope:
        self._emit(final=True)
        db = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
        db = np.maximum(db, _FLOOR_DB)
        return Envelope(
            db=db,
            hop_seconds=self.hop / self.sample_rate,
            duration=self._samples / self.sample_rate,
        )


def envelope_from_blocks(blocks: Iterable[np.ndarray], sample_rate: int = 16000) -> Envelope:
    builder = EnvelopeBuilder(sample_rate)
    for block in blocks:
        builder.update(block)
    return builder.result()


def envelope_from_audio(y: np.ndarray, sample_rate: int = 16000) -> Envelope:
    """Envelope of an in-memory signal (tests, short clips)."""
    builder = EnvelopeBuilder(sample_rate)
    step = sample_rate * 10
    for start in range(0, max(1, len(y)), step):
        builder.update(y[start : start + step])
    return builder.result()


@dataclass(frozen=True)
class SpeechRegions:
    """Speech stretches in hops ([start, end) pairs) and the threshold used."""

    bounds: np.ndarray  # int64, shape (n, 2)
    threshold_db: float
    noise_db: float
    loud_db: float


def sliding_percentile(x: np.ndarray, half: int, q: float) -> np.ndarray:
    """``q``-th percentile of x[i-half : i+half+1] for every i (truncated at the ends)."""
    n = x.size
    out = np.empty(n)
    win = 2 * half + 1
    if n >= win:
        out[half : n - half] = np.percentile(sliding_window_view(x, win), q, axis=1)
    for i in [*range(min(half, n)), *range(max(half, n - half), n)]:
        out[i] = np.percentile(x[max(0, i - half) : i + half + 1], q)
    return out


def _local_levels(
    db: np.ndarray, block: int, half_window: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noise floor and loud level around each block (minimum-statistics style).

    Per block (1 s) the 5th and 95th percentiles of the frame levels; then, over
    a sliding window of blocks, a low percentile of the former (the floor,
    robust to blocks full of speech) and a high one of the latter (the speech
    level, robust to blocks of silence). Returns the block centres (in frames)
    and the two levels there, for interpolation back to frames.
    """
    full = db.size // block
    low = np.empty(full + (db.size % block > 0))
    high = np.empty_like(low)
    if full:
        per_block = db[: full * block].reshape(full, block)
        low[:full], high[:full] = np.percentile(per_block, [5, 95], axis=1)
    if low.size > full:
        low[full], high[full] = np.percentile(db[full * block :], [5, 95])
    noise = sliding_percentile(low, half_window, 20)
    loud = sliding_percentile(high, half_window, 80)
    centres = (np.arange(low.size) + 0.5) * block
    return centres, noise, loud


def speech_regions(
    env: Envelope,
    *,
    min_gap_seconds: float = 0.06,
    min_blip_seconds: float = 0.12,
    blip_isolation_seconds: float = 1.0,
    window_seconds: float = 3.0,
) -> SpeechRegions:
    """Non-silent regions of the envelope.

    The threshold sits between the local noise floor and the local speech
    level (``window_seconds`` each side). Gaps shorter than ``min_gap_seconds``
    (stop closures inside words) are bridged. A region shorter than
    ``min_blip_seconds`` more than ``blip_isolation_seconds`` away from any
    other is a click or a bump, not an utterance, and is dropped so it does
    not become a chunk of its own.
    """
    db = env.db.astype(np.float64)
    if db.size == 0:
        return SpeechRegions(np.zeros((0, 2), np.int64), 0.0, _FLOOR_DB, _FLOOR_DB)
    noise_all, loud_all = (float(v) for v in np.percentile(db, [5, 95]))
    if loud_all - noise_all < 6.0:
        # Flat level (silence, a hum, or continuous noise): nothing stands out.
        return SpeechRegions(np.zeros((0, 2), np.int64), loud_all, noise_all, loud_all)
    block = max(1, round(1.0 / env.hop_seconds))
    centres, noise_at, loud_at = _local_levels(db, block, max(1, round(window_seconds)))
    # Frame by frame in slices: an hour has 360,000 frames, and the few
    # temporaries per frame would otherwise peak at a dozen MB.
    threshold = np.empty(db.size)
    voiced = np.zeros(db.size + 2, dtype=np.bool_)
    for lo in range(0, db.size, _SLICE_FRAMES):
        frames = np.arange(lo, min(lo + _SLICE_FRAMES, db.size))
        noise = np.interp(frames, centres, noise_at)
        # A window of pure silence has no speech level of its own: borrow one
        # 12 dB under the recording's, so its noise is not mistaken for speech.
        loud = np.maximum(np.interp(frames, centres, loud_at), loud_all - 12.0)
        # Never call anything within 40 dB of the local speech level silence: a
        # floor of digital zeros would otherwise put the threshold in the noise.
        part = np.maximum(speech_threshold(noise, loud), loud - 40.0)
        threshold[lo : lo + part.size] = part
        voiced[1 + lo : 1 + lo + part.size] = db[lo : lo + part.size] > part
    del db
    edges = np.flatnonzero(np.diff(voiced.view(np.int8)))
    bounds = edges.reshape(-1, 2).astype(np.int64)
    hop = env.hop_seconds
    if bounds.shape[0] > 1:
        gaps = bounds[1:, 0] - bounds[:-1, 1]
        keep_split = gaps * hop >= min_gap_seconds
        starts = np.concatenate([bounds[:1, 0], bounds[1:, 0][keep_split]])
        ends = np.concatenate([bounds[:-1, 1][keep_split], bounds[-1:, 1]])
        bounds = np.stack([starts, ends], axis=1)
    if bounds.shape[0] > 1:
        length = (bounds[:, 1] - bounds[:, 0]) * hop
        before = np.concatenate([[np.inf], (bounds[1:, 0] - bounds[:-1, 1]) * hop])
        after = np.concatenate([(bounds[1:, 0] - bounds[:-1, 1]) * hop, [np.inf]])
        blip = (
            (length < min_blip_seconds)
            & (before > blip_isolation_seconds)
            & (after > blip_isolation_seconds)
        )
        if not blip.all():
            bounds = bounds[~blip]
    return SpeechRegions(bounds, float(np.median(threshold)), noise_all, loud_all)
