"""Fixtures shared by the recordings tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from recordings.tests.audio_files import ffmpeg, tone


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    return {
        "webm": tone(d / "a.webm", codec=("-c:a", "libopus")),
        "ogg_opus": tone(d / "a.opus.ogg", codec=("-c:a", "libopus"), fmt=("-f", "ogg")),
        "ogg_vorbis": tone(d / "a.ogg", rate=44100, codec=("-c:a", "libvorbis")),
        "wav": tone(d / "a.wav", rate=44100),
        "flac": tone(d / "a.flac", rate=44100),
        "mp3": tone(d / "a.mp3", rate=44100, codec=("-c:a", "libmp3lame")),
        "m4a": tone(d / "a.m4a", rate=44100, codec=("-c:a", "aac")),
        "aac": tone(d / "a.aac", rate=44100, codec=("-c:a", "aac"), fmt=("-f", "adts")),
        "stereo96k": tone(d / "s96.wav", rate=96000, channels=2),
        "mono8k": tone(d / "m8.wav", rate=8000),
    }


@pytest.fixture(scope="module")
def hour_of_silence(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("hour")
    ten = d / "ten.opus"
    ffmpeg(
        "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-t", "10",
        "-c:a", "libopus", "-b:a", "6k", str(ten),
    )  # fmt: skip
    hour = d / "hour.opus"
    # Stream-copy the 10 s file 360 times: an hour of audio in ~1 MB, in a second.
    ffmpeg("-stream_loop", "359", "-i", str(ten), "-c", "copy", str(hour))
    return hour
