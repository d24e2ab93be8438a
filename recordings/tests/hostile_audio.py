"""Hostile audio: files crafted to exhaust memory or time, lie in headers, or not be audio.

Built at test time (nothing large is committed) with the product's ffmpeg and a
few bytes of hand-made headers. Each builder writes one file into a directory
and returns its path.

Run as a module (``python -m recordings.tests.hostile_audio FILE...``) it is the
decoding half of the hostile-audio test and of bench/hostile_audio.py: under an
address-space limit that its ffmpeg children inherit, it runs the upload check
and the worker's decode on each file and prints one JSON line per file
(outcome; seconds and peak RSS, which only the bench reads).
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

from recordings.tests.audio_files import ffmpeg, speechlike

# Generous beside any honest upload, far above what the 40 s the script allows needs.
MAX_SECONDS = 40.0


def _wav_header(*, channels=1, rate=16000, bits=16, data_size, riff_size=None):
    block = channels * bits // 8
    byte_rate = (rate * block) & 0xFFFFFFFF
    fmt = struct.pack("<HHIIHH", 1, channels, rate, byte_rate, block & 0xFFFF, bits)
    riff = riff_size if riff_size is not None else (4 + 8 + len(fmt) + 8 + data_size) & 0xFFFFFFFF
    return (
        b"RIFF"
        + struct.pack("<I", riff)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", data_size)
    )


def _noise(n: int, seed: int = 0) -> bytes:
    """Garbage, the same on every run: a failure must be reproducible."""
    return random.Random(seed).randbytes(n)


def wav_claims_4gb(d: Path) -> Path:
    """A WAV whose header says ~37 hours (4 GB of samples) over one second of body."""
    path = d / "claims4gb.wav"
    path.write_bytes(_wav_header(data_size=0xFFFFFFF0, riff_size=0xFFFFFFFF) + _noise(32000))
    return path


def wav_absurd_format(d: Path) -> Path:
    """65535 channels at 4 GHz: a header no decoder should allocate buffers for."""
    path = d / "absurd.wav"
    header = _wav_header(channels=65535, rate=0xFFFFFFFF, data_size=64000)
    path.write_bytes(header + _noise(64000))
    return path


def wav_fmt_claims_1gb(d: Path) -> Path:
    """A 'fmt ' chunk claiming to be 1 GB long: a header that never ends."""
    path = d / "fmt1gb.wav"
    fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
    path.write_bytes(
        b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE" + b"fmt "
        + struct.pack("<I", 0x40000000) + fmt + _noise(64000)
    )  # fmt: skip
    return path


def wav_8mb_junk_header(d: Path) -> Path:
    """8 MB of chunks before the audio: a very long (but well-formed) header."""
    path = d / "junk8mb.wav"
    source = speechlike(d / "junk-src.wav", seconds=3.0, rate=16000)
    data = source.read_bytes()
    junk = b"JUNK" + struct.pack("<I", 8 * 1024 * 1024) + bytes(8 * 1024 * 1024)
    body = data[12:]
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(junk) + len(body)) + b"WAVE" + junk + body)
    return path


def wav_valid_then_garbage(d: Path) -> Path:
    """0.1 s of real audio, then 5 MB of garbage the header does not mention."""
    path = d / "then-garbage.wav"
    source = speechlike(d / "short-src.wav", seconds=0.1, rate=16000)
    path.write_bytes(source.read_bytes() + _noise(5 * 1024 * 1024))
    return path


def mp3_valid_then_garbage(d: Path) -> Path:
    path = d / "then-garbage.mp3"
    source = speechlike(d / "short-src.mp3", seconds=0.1, rate=44100, codec=["-c:a", "libmp3lame"])
    # This garbage holds byte runs that parse as MP3 frames of other rates and
    # layouts, which once crashed the worker's decoder mid-stream.
    path.write_bytes(source.read_bytes() + _noise(2 * 1024 * 1024, seed=14))
    return path


def flac_claims_years(d: Path) -> Path:
    """A FLAC whose STREAMINFO says 2^36 samples (years) over three seconds of audio."""
    path = d / "years.flac"
    source = speechlike(d / "years-src.flac", seconds=3.0, rate=16000, codec=["-c:a", "flac"])
    data = bytearray(source.read_bytes())
    assert data[:4] == b"fLaC"
    # STREAMINFO starts at byte 8; its 36-bit total-samples field ends at byte 8+18.
    data[21] |= 0x0F
    data[22:26] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    return path


def flac_silence_bomb(d: Path) -> Path:
    """20 minutes of digital silence in a few hundred kilobytes."""
    path = d / "bomb.flac"
    ffmpeg(
        "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "1200",
        "-c:a", "flac", "-compression_level", "0", str(path), timeout=120,
    )  # fmt: skip
    return path


def opus_silence_bomb(d: Path) -> Path:
    """5 minutes of silence in Opus at 6 kb/s with DTX: about 20 kB a minute."""
    path = d / "bomb.webm"
    ffmpeg(
        "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "300",
        "-c:a", "libopus", "-b:a", "6k", "-dtx", "1", "-application", "voip",
        str(path), timeout=120,
    )  # fmt: skip
    return path


def ogg_many_streams(d: Path) -> Path:
    """An Ogg file with 100 logical streams, each a second of audio."""
    path = d / "streams.ogg"
    maps = []
    for _ in range(100):
        maps += ["-map", "0:a"]
    ffmpeg(
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000:duration=1",
        *maps, "-c:a", "libopus", "-b:a", "6k", str(path), timeout=120,
    )  # fmt: skip
    return path


def ogg_huge_comment(d: Path) -> Path:
    """An Opus file whose comment header carries 100 kB of metadata."""
    path = d / "comment.ogg"
    ffmpeg(
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3",
        "-metadata", "title=" + "ঌ" * 30000, "-c:a", "libopus", str(path),
    )  # fmt: skip
    return path


def mp3_id3_claims_256mb(d: Path) -> Path:
    """An ID3v2 tag whose size field says 256 MB, in front of a short MP3."""
    path = d / "id3claim.mp3"
    source = speechlike(d / "id3-src.mp3", seconds=3.0, rate=44100, codec=["-c:a", "libmp3lame"])
    header = b"ID3\x04\x00\x00" + bytes([0x7F, 0x7F, 0x7F, 0x7F])
    path.write_bytes(header + source.read_bytes())
    return path


def mp3_id3_8mb(d: Path) -> Path:
    """A real 8 MB ID3v2 tag (a picture frame of garbage) before three seconds of MP3."""
    path = d / "id3big.mp3"
    source = speechlike(d / "id3b-src.mp3", seconds=3.0, rate=44100, codec=["-c:a", "libmp3lame"])
    payload = b"\x00image/png\x00\x03\x00" + _noise(8 * 1024 * 1024)
    frame = b"APIC" + _syncsafe(len(payload)) + b"\x00\x00" + payload
    tag = b"ID3\x04\x00\x00" + _syncsafe(len(frame)) + frame
    path.write_bytes(tag + source.read_bytes())
    return path


def _syncsafe(n: int) -> bytes:
    return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])


def mp4_huge_box(d: Path) -> Path:
    """An MP4 'ftyp' then a box whose 64-bit size says 8 exabytes."""
    path = d / "hugebox.m4a"
    ftyp = struct.pack(">I", 24) + b"ftypM4A " + b"\0\0\0\0" + b"M4A isom"
    box = struct.pack(">I", 1) + b"moov" + struct.pack(">Q", 2**63 - 1)
    path.write_bytes(ftyp + box + _noise(100_000))
    return path


def mp4_without_moov(d: Path) -> Path:
    """An M4A cut before its index ('moov' is written last): samples nobody can find."""
    path = d / "nomoov.m4a"
    source = speechlike(d / "nomoov-src.m4a", seconds=3.0, rate=44100, codec=["-c:a", "aac"])
    data = source.read_bytes()
    path.write_bytes(data[: data.rfind(b"moov") - 4])
    return path


def webm_truncated(d: Path) -> Path:
    path = d / "truncated.webm"
    source = speechlike(d / "trunc-src.webm", seconds=6.0, codec=["-c:a", "libopus"])
    data = source.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 5])
    return path


def webm_unknown_sizes(d: Path) -> Path:
    """A WebM EBML header, then a Segment of unknown size full of garbage elements."""
    path = d / "unknown.webm"
    source = speechlike(d / "unk-src.webm", seconds=1.0, codec=["-c:a", "libopus"])
    data = source.read_bytes()
    segment = data.find(b"\x18\x53\x80\x67")
    path.write_bytes(
        data[:segment] + b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff" + _noise(200_000)
    )
    return path


def aac_sync_then_garbage(d: Path) -> Path:
    path = d / "sync.aac"
    path.write_bytes(b"\xff\xf1\x50\x80" + _noise(300_000))
    return path


def png_named_webm(d: Path) -> Path:
    path = d / "picture.webm"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + _noise(50_000))
    return path


def html_named_wav(d: Path) -> Path:
    path = d / "page.wav"
    path.write_bytes(b"<!doctype html><html><script>alert(1)</script>" + b"<p>x</p>" * 10_000)
    return path


def zip_named_mp3(d: Path) -> Path:
    """A zip bomb in miniature (10 MB of zeros in ~10 kB), named like audio."""
    path = d / "archive.mp3"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.wav", bytes(10 * 1024 * 1024))
    path.write_bytes(buffer.getvalue())
    return path


CORPUS: dict[str, Callable[[Path], Path]] = {
    "wav: header claims 4 GB": wav_claims_4gb,
    "wav: 65535 channels at 4 GHz": wav_absurd_format,
    "wav: fmt chunk claims 1 GB": wav_fmt_claims_1gb,
    "wav: 8 MB header": wav_8mb_junk_header,
    "wav: 0.1 s then 5 MB garbage": wav_valid_then_garbage,
    "mp3: 0.1 s then 2 MB garbage": mp3_valid_then_garbage,
    "flac: header claims 2^36 samples": flac_claims_years,
    "flac: 20 min of silence (bomb)": flac_silence_bomb,
    "webm/opus: 5 min of silence (bomb)": opus_silence_bomb,
    "ogg: 100 streams": ogg_many_streams,
    "ogg: 100 kB comment": ogg_huge_comment,
    "mp3: ID3 claims 256 MB": mp3_id3_claims_256mb,
    "mp3: 8 MB ID3 tag": mp3_id3_8mb,
    "m4a: box claims 8 EB": mp4_huge_box,
    "m4a: no moov": mp4_without_moov,
    "webm: truncated at 40%": webm_truncated,
    "webm: unknown-size garbage": webm_unknown_sizes,
    "aac: sync word then garbage": aac_sync_then_garbage,
    "png named .webm": png_named_webm,
    "html named .wav": html_named_wav,
    "zip named .mp3": zip_named_mp3,
}


def _decode_one(path: Path, scratch: Path) -> dict:
    """The upload check, then the worker's decode, each giving an outcome string."""
    import time

    from recordings.audio import analysis as audio_analysis
    from recordings.audio import decode

    result: dict = {"file": path.name}
    started = time.monotonic()
    try:
        seconds = decode.measure_duration(path, max_seconds=MAX_SECONDS)
        result["upload"] = f"ok {seconds:.1f} s"
    except decode.AudioDecodeError as exc:
        result["upload"] = f"{type(exc).__name__}: {exc.reason}"
    try:
        analysis = audio_analysis.decode_and_analyse(
            path, scratch / "decoded.wav", max_seconds=MAX_SECONDS
        )
        result["worker"] = f"ok {analysis.metrics.duration:.1f} s"
    except decode.AudioDecodeError as exc:
        result["worker"] = f"{type(exc).__name__}: {exc.reason}"
    finally:
        (scratch / "decoded.wav").unlink(missing_ok=True)
    result["seconds"] = round(time.monotonic() - started, 2)
    return result


def main(argv: list[str]) -> int:
    """Decode each file under an address-space cap; one JSON line per file."""
    import json
    import resource
    import tempfile
    import threading

    import psutil

    limit = int(os.environ.get("HOSTILE_AS_LIMIT", str(2 * 1024**3)))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    me = psutil.Process()
    with tempfile.TemporaryDirectory() as tmp:
        for name in argv:
            peak = {"self": 0, "children": 0}
            stop = threading.Event()

            def sample(peak=peak, stop=stop) -> None:
                while not stop.is_set():
                    peak["self"] = max(peak["self"], me.memory_info().rss)
                    kids = 0
                    for child in me.children(recursive=True):
                        # Only ffmpeg: a child between fork and exec is a copy of us.
                        with contextlib.suppress(psutil.Error):
                            if "ffmpeg" in child.name():
                                kids += child.memory_info().rss
                    peak["children"] = max(peak["children"], kids)
                    stop.wait(0.01)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            try:
                result = _decode_one(Path(name), Path(tmp))
            except MemoryError:
                result = {"file": Path(name).name, "upload": "MemoryError", "worker": "-"}
            finally:
                stop.set()
                sampler.join()
            result["rss_mb"] = round(peak["self"] / 2**20, 1)
            result["ffmpeg_rss_mb"] = round(peak["children"] / 2**20, 1)
            print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
