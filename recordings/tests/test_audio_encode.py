"""recordings.audio.encode: chunk slices of the decoded WAV as 16 kHz mono FLAC."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile

from recordings.audio import encode

SR = 16000


@pytest.fixture
def ramp_wav(tmp_path: Path) -> Path:
    """10 s whose every sample value tells where it came from."""
    samples = (np.arange(10 * SR) % 30000 - 15000).astype(np.int16)
    path = tmp_path / "decoded.wav"
    soundfile.write(str(path), samples, SR, subtype="PCM_16")
    return path


def test_a_slice_is_lossless_16k_mono_flac_of_exactly_those_samples(ramp_wav: Path) -> None:
    flac = encode.flac_slice(ramp_wav, 2.5, 4.0)
    data, rate = soundfile.read(flac, dtype="int16")
    assert rate == SR and data.ndim == 1
    expected = (np.arange(int(2.5 * SR), 4 * SR) % 30000 - 15000).astype(np.int16)
    np.testing.assert_array_equal(data, expected)
    flac.seek(0)
    assert soundfile.info(flac).format == "FLAC"


def test_writes_to_any_file_like_object(ramp_wav: Path) -> None:
    out = io.BytesIO()
    assert encode.encode_flac(ramp_wav, 0.0, 1.0, out) == SR
    assert out.getvalue()[:4] == b"fLaC"


def test_a_slice_past_the_end_is_clamped_and_an_empty_one_refused(ramp_wav: Path) -> None:
    assert encode.read_slice(ramp_wav, 9.5, 12.0).size == SR // 2
    with pytest.raises(ValueError):
        encode.read_slice(ramp_wav, 3.0, 3.0)
    with pytest.raises(ValueError):
        encode.read_slice(ramp_wav, 11.0, 12.0)


def test_refuses_audio_at_another_rate(tmp_path: Path) -> None:
    path = tmp_path / "44k.wav"
    soundfile.write(str(path), np.zeros(44100, np.int16), 44100, subtype="PCM_16")
    with pytest.raises(ValueError, match="16000"):
        encode.flac_slice(path, 0.0, 0.5)


def test_many_chunks_read_only_their_own_samples(tmp_path: Path) -> None:
    # 5 minutes on disk; cutting it into 3 s chunks must never hold the file.
    path = tmp_path / "long.wav"
    with soundfile.SoundFile(str(path), "w", SR, 1, subtype="PCM_16") as sf:
        for _ in range(30):
            sf.write(np.zeros(10 * SR, np.int16))
    spans = [(t, t + 3.0) for t in np.arange(0.0, 300.0, 3.0)]
    tracemalloc.start()
    try:
        chunks = [len(c.getvalue()) for c in encode.iter_flac_chunks(path, spans)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(chunks) == 100
    assert peak < 2_000_000  # the file is 9.6 MB of samples
