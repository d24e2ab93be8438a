"""recordings.audio.decode: what an upload really is, decoded without ever hanging.

Audio is generated at test time with the same pinned ffmpeg the product uses.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile

from recordings.audio import decode
from recordings.tests.audio_files import EXPECTED, FIXTURES, ffmpeg, tone


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_accepts_every_supported_container(media: dict[str, Path], kind: str) -> None:
    info = decode.probe(media[kind])
    assert (info.container, info.codec) == EXPECTED[kind]
    assert info.channels == 1
    assert decode.measure_duration(media[kind], max_seconds=60) == pytest.approx(2.0, abs=0.06)


def test_identifies_the_container_by_content_not_by_file_name(
    media: dict[str, Path], tmp_path: Path
) -> None:
    disguised = tmp_path / "really-webm.mp3"
    disguised.write_bytes(media["webm"].read_bytes())
    assert decode.probe(disguised).container == "webm"
    assert decode.measure_duration(disguised, max_seconds=60) == pytest.approx(2.0, abs=0.06)


def test_rejects_an_empty_file_as_unsupported(tmp_path: Path) -> None:
    empty = tmp_path / "empty.webm"
    empty.write_bytes(b"")
    with pytest.raises(decode.UnsupportedAudioError, match="empty"):
        decode.probe(empty)


def test_rejects_a_text_file_named_webm(tmp_path: Path) -> None:
    text = tmp_path / "notes.webm"
    text.write_text("these are my lecture notes, not audio\n" * 20)
    with pytest.raises(decode.UnsupportedAudioError, match="not audio"):
        decode.measure_duration(text, max_seconds=60)


def test_rejects_an_image_with_an_audio_extension(tmp_path: Path) -> None:
    png = tmp_path / "photo.wav"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    with pytest.raises(decode.UnsupportedAudioError):
        decode.probe(png)


def test_rejects_a_video_without_audio(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:rate=5:duration=1", "-c:v", "mpeg4", str(video))
    with pytest.raises(decode.UnsupportedAudioError, match="no audio stream"):
        decode.probe(video)


def test_a_truncated_header_is_corrupt(media: dict[str, Path], tmp_path: Path) -> None:
    cut = tmp_path / "cut.webm"
    cut.write_bytes(media["webm"].read_bytes()[:300])
    with pytest.raises(decode.AudioCorruptError):
        decode.probe(cut)


def test_a_file_cut_mid_stream_fails_strict_validation(tmp_path: Path) -> None:
    # 20 s so the cut leaves well under the header's duration.
    whole = tone(tmp_path / "whole.webm", seconds=20, codec=("-c:a", "libopus"))
    cut = tmp_path / "cut.webm"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    with pytest.raises(decode.AudioCorruptError):
        decode.measure_duration(cut, max_seconds=60)
    # The pipeline, lenient, still gets the part that is there.
    assert 2.0 < decode.measure_duration(cut, max_seconds=60, strict=False) < 15.0


def test_a_wav_header_claiming_hours_decodes_only_what_is_there(tmp_path: Path) -> None:
    import struct

    rate, data = 16000, np.zeros(8000, "<i2").tobytes()  # 0.5 s of real samples
    claimed = 0x7FFFFFF0  # ~18 hours of 16-bit mono at 16 kHz
    header = (
        b"RIFF"
        + struct.pack("<I", claimed + 36)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", claimed)
    )
    liar = tmp_path / "liar.wav"
    liar.write_bytes(header + data)
    with pytest.raises(decode.AudioCorruptError):
        decode.measure_duration(liar, max_seconds=600)
    wav = tmp_path / "out.wav"
    # The half second really there, not the 18 hours claimed.
    assert decode.decode_to_wav(liar, wav, max_seconds=600) == pytest.approx(0.5, abs=0.01)
    assert soundfile.info(wav).frames == pytest.approx(8000, abs=160)


def test_an_hour_of_silence_in_a_tiny_opus_file_stops_at_the_cap(hour_of_silence: Path) -> None:
    assert hour_of_silence.stat().st_size < 3_000_000
    with pytest.raises(decode.AudioTooLongError) as caught:
        decode.measure_duration(hour_of_silence, max_seconds=120)
    # Decoding stopped just past the cap, not at the end of the hour.
    assert 120 < caught.value.seconds < 140
    assert "3600" in caught.value.reason or "3602" in caught.value.reason  # the header's claim


def test_pcm_stream_kills_ffmpeg_when_the_cap_is_passed(hour_of_silence: Path) -> None:
    # Left alone, ffmpeg would block writing the rest of the hour into the pipe.
    stream = decode.iter_pcm(hour_of_silence, max_seconds=0.5, block_seconds=0.1)
    with pytest.raises(decode.AudioTooLongError):
        for _ in stream:
            pass
    assert not stream.running  # killed and reaped, not left decoding


def test_a_stalled_input_times_out_instead_of_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "stalled.ogg"
    os.mkfifo(fifo)
    release = threading.Event()

    def writer() -> None:
        # An Ogg page header, then nothing: the reader waits for more forever.
        with open(fifo, "wb") as fh:
            fh.write(b"OggS" + bytes(200))
            fh.flush()
            release.wait(30)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    # Until the writer lets go (30 s) only the decoder's own deadline can end
    # the read, and it ends it with this error; the end of input would not.
    try:
        with pytest.raises(decode.AudioDecodeTimeoutError):
            for _ in decode.iter_pcm(fifo, timeout=1.5):
                pass
    finally:
        release.set()
        thread.join(5)


def test_decodes_stereo_96k_to_16k_mono(media: dict[str, Path]) -> None:
    info = decode.probe(media["stereo96k"])
    assert (info.channels, info.sample_rate) == (2, 96000)
    with decode.iter_pcm(media["stereo96k"], block_seconds=0.5) as stream:
        blocks = list(stream)
    assert all(b.dtype == np.float32 for b in blocks)
    assert {b.size for b in blocks[:-1]} == {8000}
    y = np.concatenate(blocks)
    assert y.size == pytest.approx(32000, abs=20)
    spectrum = np.abs(np.fft.rfft(y))
    assert np.argmax(spectrum) * 16000 / y.size == pytest.approx(440, abs=2)


def test_decodes_8k_mono_up_to_16k(media: dict[str, Path]) -> None:
    assert decode.probe(media["mono8k"]).sample_rate == 8000
    y = np.concatenate(list(decode.iter_pcm(media["mono8k"])))
    assert y.size == pytest.approx(32000, abs=20)


def test_decode_to_wav_writes_16k_mono_pcm16(media: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "decoded.wav"
    seconds = decode.decode_to_wav(media["m4a"], out, max_seconds=60)
    info = soundfile.info(str(out))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert seconds == pytest.approx(info.frames / 16000) == pytest.approx(2.0, abs=0.06)


def test_decode_to_wav_leaves_nothing_behind_when_too_long(
    media: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "decoded.wav"
    with pytest.raises(decode.AudioTooLongError):
        decode.decode_to_wav(media["flac"], out, max_seconds=0.5)
    assert not out.exists()


def test_measures_the_shared_recordings_to_their_known_duration() -> None:
    for meta_path in sorted(FIXTURES.glob("*.json")):
        meta = json.loads(meta_path.read_text())
        seconds = decode.measure_duration(meta_path.with_name(meta["file"]), max_seconds=600)
        assert seconds == pytest.approx(meta["duration"], abs=0.05), meta["name"]
