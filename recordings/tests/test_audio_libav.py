"""recordings.audio.libav: the worker's in-process decoder agrees with the ffmpeg binary."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from recordings.audio import analysis, decode, libav
from recordings.tests.audio_files import EXPECTED, tone


def _decode_all(module, path: Path, **kwargs) -> np.ndarray:
    with module.iter_pcm(path, **kwargs) as stream:
        return np.concatenate(list(stream))


@pytest.mark.parametrize("kind", [*sorted(EXPECTED), "stereo96k", "mono8k"])
def test_same_samples_as_the_ffmpeg_binary(media: dict[str, Path], kind: str) -> None:
    ours = _decode_all(libav, media[kind], block_seconds=0.5)
    reference = _decode_all(decode, media[kind], block_seconds=0.5)
    assert ours.dtype == np.float32
    # Both resample with libswresample. The command line also trims AAC's
    # trailing padding frame (M4A), so the ends may differ by up to 25 ms.
    assert abs(ours.size - reference.size) <= 400
    n = min(ours.size, reference.size)
    # Decoder builds may round differently (AAC); the difference stays > 40 dB down.
    residual = np.sum((ours[:n] - reference[:n]) ** 2) / np.sum(reference[:n] ** 2)
    assert 10 * np.log10(residual + 1e-20) < -40


def test_blocks_have_the_requested_size(media: dict[str, Path]) -> None:
    with libav.iter_pcm(media["flac"], block_seconds=0.25) as stream:
        sizes = [block.size for block in stream]
    assert set(sizes[:-1]) == {4000}
    assert 0 < sizes[-1] <= 4000
    # Blocks shorter than a decoded frame: still exact, and nothing is lost.
    with libav.iter_pcm(media["flac"], block_seconds=0.005) as stream:
        sizes = [block.size for block in stream]
    assert set(sizes[:-1]) == {80}
    assert sum(sizes) == _decode_all(libav, media["flac"]).size


def test_stops_at_the_cap_without_decoding_the_rest(hour_of_silence: Path) -> None:
    with pytest.raises(decode.AudioTooLongError) as caught:
        _decode_all(libav, hour_of_silence, max_seconds=30, block_seconds=1.0)
    # Within one block past the cap: the rest of the hour was never decoded.
    assert 30 < caught.value.seconds <= 31


def test_a_deadline_already_passed_stops_decoding(media: dict[str, Path]) -> None:
    with pytest.raises(decode.AudioDecodeTimeoutError):
        _decode_all(libav, media["webm"], timeout=-1)


def test_refuses_what_upload_checks_refuse(media: dict[str, Path], tmp_path: Path) -> None:
    html = tmp_path / "page.webm"
    html.write_bytes(b"<!doctype html><html><body>not audio</body></html>")
    with pytest.raises(decode.UnsupportedAudioError):
        libav.iter_pcm(html)
    pcm_in_flac = tmp_path / "a.flac"
    pcm_in_flac.write_bytes(media["wav"].read_bytes()[:0] + b"fLaC" + b"\0" * 60)
    with pytest.raises(decode.AudioDecodeError):
        _decode_all(libav, pcm_in_flac)
    mp3_in_wav = tmp_path / "mp3.wav"
    tone(mp3_in_wav, codec=("-c:a", "libmp3lame"), fmt=("-f", "wav"))
    with pytest.raises(decode.UnsupportedAudioError, match="mp3 codec"):
        libav.iter_pcm(mp3_in_wav)


def test_a_truncated_file_yields_what_can_be_decoded(media: dict[str, Path], tmp_path: Path):
    data = media["webm"].read_bytes()
    cut = tmp_path / "cut.webm"
    cut.write_bytes(data[: len(data) * 2 // 3])
    samples = _decode_all(libav, cut).size
    assert 0.5 * 16000 < samples < 2.0 * 16000


def test_decode_and_analyse_writes_the_samples_exactly(media: dict[str, Path], tmp_path: Path):
    import soundfile

    wav = tmp_path / "out.wav"
    measured = analysis.decode_and_analyse(media["ogg_opus"], wav)
    written, rate = soundfile.read(str(wav), dtype="int16")
    decoded = _decode_all(libav, media["ogg_opus"], block_seconds=2.0)
    assert rate == 16000
    assert np.array_equal(written, (decoded * 32768).astype(np.int16))
    assert measured.metrics.duration == pytest.approx(2.0, abs=0.06)


def test_decode_and_analyse_leaves_no_partial_wav(media: dict[str, Path], tmp_path: Path):
    wav = tmp_path / "out.wav"
    with pytest.raises(decode.AudioTooLongError):
        analysis.decode_and_analyse(media["webm"], wav, max_seconds=0.5, block_seconds=0.1)
    assert not wav.exists()


FIXTURES = Path(__file__).parent / "fixtures"
ONE_STEP = 1 / 32768  # one 16-bit step


@pytest.mark.parametrize("name", ["bn_read_fluent.webm", "en_read_noisy.ogg"])
def test_a_second_half_decoded_by_a_child_joins_the_first(name: str) -> None:
    # Real speech, so the decoder's state at the split is that of a voice.
    path = FIXTURES / name
    whole = _decode_all(libav, path, threads=1)
    with libav.iter_pcm(path, split_bytes=0) as stream:
        halves = np.concatenate(list(stream))
        assert stream.halves == 2
    assert halves.size == whole.size
    # The child's decoder starts fresh half a second before the split: a few
    # samples round the other way, none by more than one step.
    assert np.abs(halves - whole).max() <= ONE_STEP
    assert np.mean(halves != whole) < 0.01
    # Files under the threshold are decoded by this process alone.
    with libav.iter_pcm(path) as stream:
        assert np.array_equal(np.concatenate(list(stream)), whole)
        assert stream.halves == 1


def test_the_rest_is_decoded_here_when_the_child_fails(monkeypatch) -> None:
    # A child that exits at once with an error, as one that crashed would.
    monkeypatch.setattr(sys, "executable", "/bin/false")
    path = FIXTURES / "bn_read_fluent.webm"
    whole = _decode_all(libav, path, threads=1)
    with libav.iter_pcm(path, split_bytes=0) as stream:
        halves = np.concatenate(list(stream))
        assert stream.halves == 1
    assert np.array_equal(halves, whole)


def _with_a_damaged_packet(source: Path, out: Path, index: int) -> None:
    """``source`` (Ogg Opus) remuxed with packet ``index`` made invalid: a
    two-frame packet (code 1) whose frames cannot be of equal size. (The WebM
    demuxer would drop it; Ogg passes it on to the decoder, which rejects it.)"""
    import av

    with av.open(str(source)) as src, av.open(str(out), "w", format="ogg") as dst:
        stream = dst.add_stream_from_template(src.streams.audio[0])
        for number, packet in enumerate(src.demux(src.streams.audio[0])):
            if not packet.size:
                continue
            if number == index:
                data = bytes(packet)
                payload = data[1:] if len(data) % 2 == 0 else data[1:-1]
                damaged = av.Packet(bytes([(data[0] & ~3) | 1]) + payload)
                damaged.time_base = packet.time_base
                damaged.pts, damaged.dts = packet.pts, packet.dts
                damaged.duration = packet.duration
                packet = damaged
            packet.stream = stream
            dst.mux(packet)


def test_the_rest_is_decoded_here_when_the_child_would_start_elsewhere(tmp_path: Path):
    # The damaged packet before the split decodes to nothing here while its
    # header promises two frames: the child's count of the samples before
    # the split disagrees with the decoder's, so its half is not used.
    damaged = tmp_path / "damaged.ogg"
    _with_a_damaged_packet(FIXTURES / "en_read_noisy.ogg", damaged, index=50)
    whole = _decode_all(libav, damaged, threads=1)
    with libav.iter_pcm(damaged, split_bytes=0) as stream:
        halves = np.concatenate(list(stream))
        assert stream.halves == 1
    assert np.array_equal(halves, whole)


def _children_decoding(parent: int | None = None) -> list[int]:
    parent = os.getpid() if parent is None else parent
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
        if ppid == parent and b"decode_second_half" in cmdline:
            found.append(int(pid))
    return found


def test_stopping_early_stops_the_child(hour_of_silence: Path) -> None:
    stream = libav.iter_pcm(hour_of_silence, max_seconds=30, split_bytes=0)
    assert _children_decoding()  # started with the stream, to decode beside it
    with pytest.raises(decode.AudioTooLongError), stream:
        for _ in stream:
            pass
    assert not _children_decoding()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie waits for whoever adopted it to reap it


def test_the_child_dies_with_the_worker(hour_of_silence: Path, tmp_path: Path) -> None:
    # A worker killed at its task's hard time limit takes the child with it.
    # Three hours of silence: the child's half alone takes seconds to decode.
    import subprocess
    import time

    from recordings.tests.audio_files import ffmpeg

    long = tmp_path / "three-hours.opus"
    ffmpeg("-stream_loop", "2", "-i", str(hour_of_silence), "-c", "copy", str(long))
    root = Path(__file__).resolve().parents[2]
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; sys.path.insert(0, sys.argv[1]); "
            "from recordings.audio import libav; "
            "stream = libav.iter_pcm(sys.argv[2], split_bytes=0); "
            "print('started', flush=True); time.sleep(60)",
            str(root),
            str(long),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert worker.stdout.readline().strip() == b"started"
        children = _children_decoding(worker.pid)
        assert children
    finally:
        worker.kill()
        worker.wait()
    deadline = time.monotonic() + 1.0
    while any(_alive(pid) for pid in children):
        assert time.monotonic() < deadline, "the child outlived its worker"
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        ({"cpu.max": "100000 100000\n"}, 1),  # cgroup v2, one core
        ({"cpu.max": "150000 100000\n"}, 2),  # a core and a half: the second is worth using
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1),  # v1
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),  # no cgroup files: the affinity decides
    ],
)
def test_usable_cores_follow_the_cgroup_quota(tmp_path: Path, files: dict, quota) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    affinity = len(os.sched_getaffinity(0))
    expected = affinity if quota is None else min(affinity, quota)
    assert libav.usable_cores(tmp_path) == expected
