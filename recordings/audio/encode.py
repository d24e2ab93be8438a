"""Chunk audio: a slice of the decoded 16 kHz mono WAV as 16 kHz mono FLAC.

The slice is read by seeking in the WAV (``soundfile``), never by loading the
recording, so cutting 600 chunks out of an hour costs one chunk of memory at a
time. Samples are read as int16 and written as 16-bit FLAC: lossless against
the decoded WAV, about half its size.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import numpy as np
import soundfile

__all__ = ["encode_flac", "flac_slice", "iter_flac_chunks", "read_slice"]

CHUNK_SAMPLE_RATE = 16000


def _frames(sf: soundfile.SoundFile, start: float, end: float) -> tuple[int, int]:
    if not end > start:
        raise ValueError(f"empty slice: start {start} >= end {end}")
    first = max(0, round(start * sf.samplerate))
    last = min(sf.frames, round(end * sf.samplerate))
    if last <= first:
        raise ValueError(f"slice {start:.3f}-{end:.3f} s is outside the audio")
    return first, last


def _open(wav_path: str | os.PathLike[str]) -> soundfile.SoundFile:
    sf = soundfile.SoundFile(str(wav_path))
    if sf.samplerate != CHUNK_SAMPLE_RATE:
        sf.close()
        raise ValueError(f"expected {CHUNK_SAMPLE_RATE} Hz audio, got {sf.samplerate} Hz")
    return sf


def _read(sf: soundfile.SoundFile, start: float, end: float) -> np.ndarray:
    first, last = _frames(sf, start, end)
    sf.seek(first)
    data = sf.read(last - first, dtype="int16", always_2d=True)
    if data.shape[1] == 1:
        return data[:, 0]
    return data.mean(axis=1).round().astype(np.int16)


def read_slice(wav_path: str | os.PathLike[str], start: float, end: float) -> np.ndarray:
    """Samples [start, end) seconds of a 16 kHz WAV as mono int16 (clamped to the file)."""
    with _open(wav_path) as sf:
        return _read(sf, start, end)


def _write_flac(out: BinaryIO, samples: np.ndarray) -> None:
    soundfile.write(out, samples, CHUNK_SAMPLE_RATE, format="FLAC", subtype="PCM_16")


def encode_flac(wav_path: str | os.PathLike[str], start: float, end: float, out: BinaryIO) -> int:
    """Write [start, end) seconds of the WAV to ``out`` as FLAC; return the sample count."""
    samples = read_slice(wav_path, start, end)
    _write_flac(out, samples)
    return int(samples.size)


def flac_slice(wav_path: str | os.PathLike[str], start: float, end: float) -> io.BytesIO:
    """[start, end) seconds of the WAV as an in-memory FLAC file, rewound for reading."""
    buf = io.BytesIO()
    encode_flac(wav_path, start, end, buf)
    buf.seek(0)
    return buf


def iter_flac_chunks(
    wav_path: str | os.PathLike[str], spans: Iterable[tuple[float, float]]
) -> Iterator[io.BytesIO]:
    """An in-memory FLAC file for each (start, end) span, opening the WAV once."""
    with _open(wav_path) as sf:
        for start, end in spans:
            buf = io.BytesIO()
            _write_flac(buf, _read(sf, start, end))
            buf.seek(0)
            yield buf
