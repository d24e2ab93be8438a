"""Audio files for tests, made with the same ffmpeg the product uses."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg

FIXTURES = Path(__file__).resolve().parent / "fixtures"
READING = FIXTURES / "bn_read_fluent.webm"
READING_JSON = FIXTURES / "bn_read_fluent.json"


def ffmpeg(*args: str, timeout: float = 60) -> None:
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        timeout=timeout,
        capture_output=True,
    )


def speechlike(
    path: Path,
    *,
    seconds: float = 4.0,
    rate: int = 48000,
    channels: int = 1,
    codec: list[str] | None = None,
    volume: float = 0.3,
) -> Path:
    """Syllable-rate modulated tones with pauses: passes the quality checks."""
    expr = f"{volume}*sin(2*PI*220*t)*(0.6+0.4*sin(2*PI*4*t))*gt(mod(t\\,1.6)\\,0.35)"
    layout = "mono" if channels == 1 else "stereo"
    ffmpeg(
        "-f", "lavfi", "-i", f"aevalsrc={expr}:s={rate}:c={layout}:d={seconds}",
        *(codec or []), str(path),
    )  # fmt: skip
    return path


def silence(path: Path, *, seconds: float, codec: list[str] | None = None) -> Path:
    ffmpeg(
        "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", str(seconds),
        *(codec or ["-c:a", "libopus", "-b:a", "6k"]), str(path),
    )  # fmt: skip
    return path


def tone(
    path: Path,
    *,
    seconds: float = 2.0,
    rate: int = 48000,
    channels: int = 1,
    codec: tuple[str, ...] = (),
    fmt: tuple[str, ...] = (),
) -> Path:
    layout = "mono" if channels == 1 else "stereo"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency=440:sample_rate={rate}:duration={seconds}",
        "-af",
        f"volume=4,aformat=channel_layouts={layout}",
        *codec,
        *fmt,
        str(path),
    )
    return path


# The containers and codecs of the ``media`` fixture (conftest.py), as probed.
EXPECTED = {
    "webm": ("webm", "opus"),
    "ogg_opus": ("ogg", "opus"),
    "ogg_vorbis": ("ogg", "vorbis"),
    "wav": ("wav", "pcm_s16le"),
    "flac": ("flac", "flac"),
    "mp3": ("mp3", "mp3"),
    "m4a": ("mp4", "aac"),
    "aac": ("aac", "aac"),
}
