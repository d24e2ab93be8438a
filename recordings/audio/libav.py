"""In-process decoding with libav (PyAV) for the processing worker.

Uploads are checked by the ffmpeg binary in ``decode`` (a child process with a
watchdog, strict about damaged packets) before a Recording exists. The worker
then decodes the same bytes once more to cut chunks; doing that in-process is
what makes processing cost little more than the decode itself:

- the ffmpeg command line runs demuxer, decoder, filter and muxer in separate
  threads that hand over every 20 ms Opus packet, so on two cores about half
  its CPU time is spent in futex hand-offs, competing with the analysis;
- libav called from one thread decodes with almost no system time, and it
  releases the GIL, so the analysis runs on the other core meanwhile.

The decoder is the one step that cannot share its work among threads: a long
Opus file has its second half decoded by a child process (``_SecondHalf``)
while this process decodes the first, joined to the sample, so on two cores
the hour-long reading decodes in about two thirds of the time one decoder
takes.

The same defences hold: the demuxer is forced from the file's first bytes
(never guessed from its name), the codec must be on the allow-list, decoded
seconds are capped and the wall-clock time is checked between frames (the
Celery hard time limit bounds a single stuck call), and the container is always
closed. Damaged packets are skipped as the ffmpeg command line does.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .decode import (
    MAX_STREAMS,
    AudioCorruptError,
    AudioDecodeTimeoutError,
    BlockStream,
    UnsupportedAudioError,
    check_codec,
    demuxer_of,
)

__all__ = [
    "Gatherer",
    "LibavStream",
    "decode_second_half",
    "decode_threads",
    "frame_samples",
    "iter_pcm",
    "resampler",
    "to_mono",
    "to_pcm16",
    "usable_cores",
]

# Decoded frames are handed on in pieces of two seconds, at most four ahead
# of the resampler (1.5 MB of 48 kHz mono). Pieces of half a second took a
# fifth longer: every hand-over and every NumPy call on the other side is the
# GIL changing hands, and the decoder thread waits for it each time.
AHEAD = 4
GATHER_SECONDS = 2.0


# Opus files of this size or more are decoded in two halves at once, the
# second by a child process (``_SecondHalf``): about five minutes of a
# browser's recording. Below it, starting the child costs more than it saves.
SPLIT_BYTES = 1_000_000
# RFC 7845 asks for 80 ms of pre-roll before a seek point; that left
# differences of up to a third of full scale in voiced speech. From half a
# second on, a fresh decoder's samples differ from those of a decoder that
# read the whole stream by under half a 16-bit step.
PREROLL_SECONDS = 0.5
# How far past the split this process decodes, so that its resampler gives
# every sample up to the split as it would mid-stream (its filter reaches a
# few milliseconds ahead).
LOOKAHEAD_SECONDS = 0.2


def decode_threads() -> int:
    """1 to decode in the consuming thread, 2 to decode ahead in a thread of
    its own (and a long file's second half in a child process): worth it
    wherever there is a second core for it."""
    return 2 if usable_cores() > 1 else 1


def usable_cores(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The cores this process may use: its CPU affinity, capped by its
    cgroup's CPU quota. A container limited to one core (the Kubernetes audio
    worker's) still sees every core of its node in its affinity, and a second
    decoder there would only take turns with the first."""
    cores = len(os.sched_getaffinity(0))
    quota = None
    with contextlib.suppress(OSError, ValueError):
        limit, period = (cgroup / "cpu.max").read_text().split()[:2]  # v2: "max 100000"
        quota = None if limit == "max" else int(limit) / int(period)
    if quota is None:
        with contextlib.suppress(OSError, ValueError):
            limit = int((cgroup / "cpu" / "cpu.cfs_quota_us").read_text())  # v1: -1 for none
            period = int((cgroup / "cpu" / "cpu.cfs_period_us").read_text())
            quota = limit / period if limit > 0 else None
    return cores if quota is None else max(1, min(cores, math.ceil(quota)))


class LibavStream(BlockStream):
    """Blocks of mono float32 PCM at ``sample_rate``; see ``iter_pcm``.

    Use it as a context manager (or exhaust it): leaving the block closes the
    container. Not thread-safe: consume it from one thread.
    """

    def __init__(
        self,
        path: Path,
        *,
        sample_rate: int,
        block_seconds: float,
        max_seconds: float | None,
        timeout: float,
        threads: int,
        split_bytes: int | None,
    ) -> None:
        import av

        super().__init__(
            sample_rate=sample_rate,
            block_seconds=block_seconds,
            max_seconds=max_seconds,
            timeout=timeout,
        )
        container, demuxer = demuxer_of(path)
        self._deadline = time.monotonic() + timeout
        try:
            # The same stream cap as the ffmpeg binary's checks: a container
            # declaring hundreds of streams is refused before any is set up.
            self._input = av.open(
                str(path), format=demuxer, options={"max_streams": str(MAX_STREAMS)}
            )
        except av.FFmpegError as exc:
            raise AudioCorruptError(f"the audio file cannot be read ({_describe(exc)})") from None
        try:
            if not self._input.streams.audio:
                raise UnsupportedAudioError("the file has no audio stream")
            self._stream = self._input.streams.audio[0]
            self._codec_name = self._stream.codec_context.codec.canonical_name
            check_codec(container, self._codec_name)
        except BaseException:
            self._input.close()
            raise
        self._ahead = threads > 1
        self._half: _SecondHalf | None = None
        if (
            self._ahead
            and split_bytes is not None
            and self._codec_name == "opus"
            and 48000 % sample_rate == 0
            and path.stat().st_size >= max(split_bytes, 1)
        ):
            # Without a child (no process or scratch space left) one decoder it is.
            with contextlib.suppress(OSError):
                self._half = _SecondHalf(
                    path, demuxer, sample_rate=sample_rate, max_seconds=max_seconds, timeout=timeout
                )
        # 2 once the child's second half is used (for tests and the worker's log).
        self.halves = 1
        self._decoder: threading.Thread | None = None
        self._stop = threading.Event()
        self._frames = self._resampled()
        self._pending: list[np.ndarray] = []
        self._pending_samples = 0
        self._done = False

    def _packets(self) -> Iterator:
        return _before(self._deadline, self._timeout, self._input.demux(self._stream))

    def _pieces(self) -> Iterator[tuple[tuple, np.ndarray]]:
        """Mono float32 samples at the file's own rate, in order, each piece
        with its (rate, format, channels)."""
        if self._half is not None:
            return self._decoded_ahead(self._split_pieces(self._half))
        pieces = _gathered(_decoded(self._stream.codec_context, self._packets()))
        return self._decoded_ahead(pieces) if self._ahead else pieces

    def _split_pieces(self, half: _SecondHalf) -> Iterator:
        """The pieces of the first half, then the second half's samples from
        the child (``_Part``), marking the split for the resampler; or, if the
        child's samples cannot be used, the rest decoded here."""
        import av

        decoder = self._stream.codec_context
        gather = Gatherer()
        before = 0  # samples decoded from the packets before the split
        past = None  # samples decoded from the split on, once there
        lookahead = 0
        for packet in self._packets():
            if past is None and packet.size and packet.pos >= half.offset:
                if piece := gather.flush():
                    yield piece
                yield _Split(before)
                past = 0
                lookahead = round(LOOKAHEAD_SECONDS * (gather.shape or (48000,))[0])
            try:
                frames = decoder.decode(packet)
            except av.InvalidDataError:
                continue
            for frame in frames:
                if past is None:
                    before += frame.samples
                else:
                    past += frame.samples
                if piece := gather.add(frame):
                    yield piece
            if past is not None and past >= lookahead and lookahead:
                lookahead = 0  # decided once
                if piece := gather.flush():
                    yield piece
                part = half.result(before, gather.shape)
                if part is not None:
                    yield part
                    return
                yield _FALLBACK
        if piece := gather.flush():
            yield piece
        if lookahead:
            yield _FALLBACK  # the file ended within the look-ahead

    def _decoded_ahead(self, pieces: Iterator) -> Iterator[tuple[tuple, np.ndarray]]:
        """``pieces`` produced by a thread of their own, a few ahead.

        Demuxing and decoding take a core; resampling, converting and
        whatever the consumer does with the blocks (the worker's analysis)
        take the other. The decoder thread alone uses and closes the
        container: closing it while a frame is being decoded is not safe.
        """
        ahead: queue.Queue = queue.Queue(maxsize=AHEAD)
        done = object()

        def handed(item) -> bool:
            while not self._stop.is_set():
                try:
                    ahead.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def decode() -> None:
            try:
                for piece in pieces:
                    if not handed(piece):
                        return
                handed(done)
            except BaseException as exc:  # re-raised in the consuming thread
                handed(exc)
            finally:
                self._input.close()

        self._decoder = threading.Thread(target=decode, name="libav-decode", daemon=True)
        self._decoder.start()
        while (item := ahead.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item

    def _resampled(self) -> Iterator[np.ndarray]:
        """16-bit mono samples at the output rate, resampled by soxr as one
        continuous stream.

        Frames are gathered before resampling: libav's resampler would be
        called once per 20 ms Opus frame, and that per-call overhead cost more
        than the decoding itself.
        """
        shape = None
        stream = None
        cap = None  # output samples up to the split, once it is reached
        surplus: list[np.ndarray] = []  # what the resampler gave past it
        produced = 0
        for item in self._pieces():
            if type(item) is _Split:
                if shape is not None:
                    cap = -(-item.samples * self.sample_rate // shape[0])
                continue
            if type(item) is _Part:
                if cap is not None and produced < cap and stream is not None:
                    tail = to_pcm16(stream.resample_chunk(np.zeros(0, np.float32), last=True))
                    yield tail[: cap - produced]
                self.halves = 2
                yield from item.samples()
                return
            if item is _FALLBACK:
                yield from surplus
                surplus, cap = [], None
                continue
            key, mono = item
            if shape is None:
                shape = key
                stream = resampler(key[0], self.sample_rate)
            elif key != shape:
                raise _changes_format()
            out = to_pcm16(_resample(stream, mono, last=False))
            if cap is not None and produced + out.size > cap:
                keep = max(0, cap - produced)
                surplus.append(out[keep:])
                out = out[:keep]
            produced += out.size
            yield out
        yield from surplus
        if stream is not None:
            yield to_pcm16(stream.resample_chunk(np.zeros(0, np.float32), last=True))

    def __next__(self) -> np.ndarray:
        import av

        if self._done:
            raise StopIteration
        try:
            if self._pending_samples >= self._block:
                return self._emit()  # frames longer than a block leave whole blocks behind
            for pcm in self._frames:
                self._pending.append(pcm)
                self._pending_samples += pcm.size
                if self._pending_samples >= self._block:
                    return self._emit()
            if self._pending_samples:
                return self._emit()
            self._done = True
            if self.samples == 0:
                raise AudioCorruptError("the audio file contains no decodable audio")
            self.close()
            raise StopIteration
        except av.FFmpegError as exc:
            self.close()
            raise AudioCorruptError(f"the audio could not be decoded ({_describe(exc)})") from None
        except BaseException:
            self.close()
            raise

    def _emit(self) -> np.ndarray:
        data = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        rest = data[self._block :]
        self._pending, self._pending_samples = ([rest], rest.size) if rest.size else ([], 0)
        block = data[: self._block].astype(np.float32)
        block *= 1.0 / 32768.0
        return self._counted(block)

    def close(self) -> None:
        self._done = True
        if self._half is not None:
            self._half.kill()  # the decoder thread may be waiting for it
        if self._decoder is None:
            self._input.close()
        else:
            # The decoder thread stops at its next piece and closes the container.
            self._stop.set()
            self._decoder.join(timeout=5)
        if self._half is not None:
            self._half.close()


def _before(deadline: float, timeout: float, packets: Iterable) -> Iterator:
    """``packets``, with the wall clock checked against ``deadline`` every 64."""
    for number, packet in enumerate(packets):
        if number % 64 == 0 and time.monotonic() > deadline:
            raise AudioDecodeTimeoutError(f"decoding took longer than {timeout:g} s")
        yield packet


def _decoded(decoder, packets: Iterable) -> Iterator:
    """Frames of ``packets`` (``None`` or an empty packet drains the decoder);
    a damaged packet is skipped, as the ffmpeg command line does."""
    import av

    for packet in packets:
        try:
            frames = decoder.decode(packet)
        except av.InvalidDataError:
            continue
        yield from frames


class Gatherer:
    """Frames gathered into mono pieces, each with the (rate, format,
    channels) of its frames; a frame of another format raises.

    ``add`` hands back a piece once ``seconds`` are gathered (``None``: only
    ``flush`` does, as the live decoder wants whenever its input runs dry).
    """

    def __init__(self, seconds: float | None = GATHER_SECONDS) -> None:
        self._seconds = seconds
        self.shape: tuple | None = None
        self._frames: list[np.ndarray] = []
        self._count = 0
        self._last = None

    def add(self, frame) -> tuple[tuple, np.ndarray] | None:
        key = (frame.sample_rate, frame.format.name, frame.layout.nb_channels)
        if self.shape is None:
            self.shape = key
        elif key != self.shape:
            raise _changes_format()
        self._frames.append(frame_samples(frame))
        self._count += frame.samples
        self._last = frame
        if self._seconds is None or self._count < key[0] * self._seconds:
            return None
        return self.flush()

    def flush(self) -> tuple[tuple, np.ndarray] | None:
        if not self._frames:
            return None
        piece = (self.shape, to_mono(self._frames, self._last))
        self._frames, self._count = [], 0
        return piece


def _gathered(frames: Iterable) -> Iterator[tuple[tuple, np.ndarray]]:
    gather = Gatherer()
    for frame in frames:
        if piece := gather.add(frame):
            yield piece
    if piece := gather.flush():
        yield piece


def _changes_format() -> AudioCorruptError:
    # A damaged or spliced file (garbage that looks like frames of another
    # format), not a recording.
    return AudioCorruptError("the audio changes its sample rate or channels mid-stream")


@dataclass(frozen=True)
class _Split:
    """Where the second half begins: the samples decoded before it."""

    samples: int


_FALLBACK = object()  # the child's half is not used: the rest is decoded here


@dataclass(frozen=True)
class _Part:
    """The second half as the child wrote it: 16-bit samples at the output rate."""

    path: Path

    def samples(self) -> Iterator[np.ndarray]:
        with open(self.path, "rb") as fh:
            fh.seek(_HEADER_BYTES)
            while data := fh.read(1 << 18):
                yield np.frombuffer(data, "<i2").astype(np.int16)


# The child's output file: the samples before the split (int64), the decoded
# frames' rate and channels (int32 each) and format name (8 bytes), then the
# 16-bit samples from the split on.
_HEADER_BYTES = 24


def _header(before: int, shape: tuple) -> bytes:
    rate, fmt, channels = shape
    return (
        before.to_bytes(8, "little", signed=True)
        + rate.to_bytes(4, "little")
        + channels.to_bytes(4, "little")
        + fmt.encode("ascii")[:8].ljust(8, b"\0")
    )


class _SecondHalf:
    """A child process decoding an Opus file's second half while this process
    decodes the first.

    One decoder keeps one core busy, and libav hands its frames over one 20 ms
    packet at a time: two decoder threads in one process spent more time
    passing the GIL between them than they saved. A process of its own
    decodes the half from ``offset`` on (the first packet stored at or after
    the file's middle byte), starting with the ``PREROLL_SECONDS`` of packets
    before it, resamples it exactly as this process would have (the
    resampler, fed from a sample index divisible by the rate ratio, gives the
    same samples from a few milliseconds on) and writes it to a file.

    Its samples are used only if they start where this process's decoding
    reached (the sample counts before the split agree) and are of the same
    format; otherwise, or if it failed or ran out of time, this process
    decodes the rest itself, as if there had been no child.
    """

    def __init__(
        self,
        path: Path,
        demuxer: str,
        *,
        sample_rate: int,
        max_seconds: float | None,
        timeout: float,
    ) -> None:
        self.offset = path.stat().st_size // 2
        self._deadline = time.monotonic() + timeout
        self._dir = tempfile.TemporaryDirectory(prefix="shrutik-half-")
        self._out = Path(self._dir.name) / "half.pcm"
        root = str(Path(__file__).resolve().parents[2])
        try:
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "import sys; sys.path.insert(0, sys.argv[1]); "
                    "from recordings.audio.libav import decode_second_half; "
                    "decode_second_half(*sys.argv[2:])",
                    root,
                    str(path),
                    demuxer,
                    str(self.offset),
                    str(sample_rate),
                    str(max_seconds or 0),
                    str(timeout),
                    str(self._out),
                    str(os.getpid()),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            self._dir.cleanup()
            raise

    def result(self, before: int, shape: tuple | None) -> _Part | None:
        """The child's half, if it starts after ``before`` samples of ``shape``."""
        try:
            code = self._proc.wait(timeout=max(0.0, self._deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        if code != 0 or shape is None:
            return None
        with open(self._out, "rb") as fh:
            header = fh.read(_HEADER_BYTES)
        return _Part(self._out) if header == _header(before, shape) else None

    def kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()

    def close(self) -> None:
        self.kill()
        self._dir.cleanup()


def decode_second_half(
    path: str,
    demuxer: str,
    offset: str,
    rate: str,
    max_seconds: str,
    timeout: str,
    out: str,
    parent: str,
) -> None:
    """The child's side of ``_SecondHalf`` (run as ``python -c``; a non-zero
    exit tells the parent to decode the half itself)."""
    _die_with(int(parent))
    import av

    deadline = time.monotonic() + float(timeout)
    first, rate = int(offset), int(rate)
    limit = float(max_seconds) * rate if float(max_seconds) else float("inf")
    with av.open(path, format=demuxer, options={"max_streams": str(MAX_STREAMS)}) as container:
        stream = container.streams.audio[0]
        decoder = stream.codec_context
        # A decoder past its deadline exits non-zero, like any failure here.
        packets = _before(deadline, float(timeout), container.demux(stream))
        # Samples before each packet, from the packets' own table of contents
        # (the decoder trims its pre-skip from the stream's first samples).
        before = -decoder.delay
        preroll: deque[tuple[object, int]] = deque()
        held = 0
        for packet in packets:
            if packet.size and packet.pos >= first:
                break
            n = _opus_samples(bytes(packet))
            before += n
            preroll.append((packet, n))
            held += n
            while held - preroll[0][1] >= PREROLL_SECONDS * 48000:
                held -= preroll.popleft()[1]
        else:
            sys.exit("no packet past the split")
        warm = list(_gathered(_decoded(decoder, [p for p, _ in preroll])))
        if not warm or warm[0][0][0] % rate:
            sys.exit("the preroll decoded to nothing, or at a rate not a multiple of the output's")
        shape = warm[0][0]
        factor = shape[0] // rate
        mono = np.concatenate([m for _, m in warm])
        start = before - mono.size  # the stream index of the first sample decoded here
        drop = -start % factor
        skip = -(-before // factor) - (start + drop) // factor
        stream = resampler(shape[0], rate)
        written = 0
        with open(out, "wb") as fh:
            fh.write(_header(before, shape))

            def write(pcm: np.ndarray) -> None:
                nonlocal skip, written
                if skip:
                    cut = min(skip, pcm.size)
                    pcm, skip = pcm[cut:], skip - cut
                fh.write(pcm.astype("<i2").tobytes())
                written += pcm.size

            write(to_pcm16(_resample(stream, mono[drop:], last=False)))
            rest = _decoded(decoder, itertools.chain([packet], packets))
            for key, piece in _gathered(rest):
                if key != shape:
                    sys.exit("the audio changes format")
                write(to_pcm16(_resample(stream, piece, last=False)))
                if written > limit:
                    return  # the parent reports the recording too long
            write(to_pcm16(_resample(stream, np.zeros(0, np.float32), last=True)))


def _die_with(parent: int) -> None:
    """Be killed with the worker (Linux): a worker killed at its task's hard
    time limit must not leave a decoder running on."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        sys.exit("the worker is gone")


# Samples per frame at 48 kHz for each Opus configuration (RFC 6716, 3.1):
# SILK 10/20/40/60 ms, hybrid 10/20 ms, CELT 2.5/5/10/20 ms.
_OPUS_FRAME = [480, 960, 1920, 2880] * 3 + [480, 960] * 2 + [120, 240, 480, 960] * 4


def _opus_samples(data: bytes) -> int:
    """Samples at 48 kHz in an Opus packet, from its table-of-contents byte."""
    if not data:
        return 0
    toc = data[0]
    frames = (1, 2, 2, data[1] & 0x3F if len(data) > 1 else 0)[toc & 3]
    return frames * _OPUS_FRAME[toc >> 3]


# Full scale of each integer sample format, to bring samples to [-1, 1).
_FULL_SCALE = {"u8": 128.0, "s16": 32768.0, "s32": 2147483648.0, "s64": 9.223372036854775808e18}


_DTYPES = {"u8": np.uint8, "s16": np.int16, "s32": np.int32, "s64": np.int64}
_DTYPES.update(flt=np.float32, dbl=np.float64)


def frame_samples(frame) -> np.ndarray:
    """A frame's samples as (channels, n), viewing its planes without a copy.

    ``AudioFrame.to_ndarray`` stacks the planes with numpy for every 20 ms
    frame, which cost a third of the decoding time.
    """
    n = frame.samples
    fmt = frame.format
    dtype = _DTYPES[fmt.name.rstrip("p")]
    channels = frame.layout.nb_channels
    if fmt.is_planar and channels > 1:
        return np.stack([np.frombuffer(plane, dtype, count=n) for plane in frame.planes[:channels]])
    if fmt.is_planar:
        return np.frombuffer(frame.planes[0], dtype, count=n)[None, :]
    return np.frombuffer(frame.planes[0], dtype, count=n * channels)[None, :]


def to_mono(pieces: list[np.ndarray], frame) -> np.ndarray:
    """Decoded frames (of ``frame``'s format) as one mono float32 array in [-1, 1).

    Converted once per gathered piece rather than per frame; channels are
    averaged, as ``-ac 1`` does.
    """
    channels = frame.layout.nb_channels
    if not pieces:
        return np.zeros(0, np.float32)
    data = np.concatenate(pieces, axis=1)  # planar (channels, n), packed (1, n * channels)
    fmt = frame.format
    if not fmt.is_planar:
        data = data.reshape(-1, channels).T
    name = fmt.name.rstrip("p")
    if name != "flt":
        data = data.astype(np.float32)
        if name == "u8":
            data -= 128.0
        if name in _FULL_SCALE:
            data *= 1.0 / _FULL_SCALE[name]
    return data[0] if channels == 1 else data.mean(axis=0, dtype=np.float32)


def resampler(rate: int, to_rate: int):
    """The streaming resampler every decoder here uses (None: the rates agree).

    One setting for all: the worker's two halves join to the sample only if
    both resample alike, and the live feedback matches what the worker cuts.
    """
    if rate == to_rate:
        return None
    import soxr

    return soxr.ResampleStream(rate, to_rate, 1, dtype="float32", quality="HQ")


def _resample(resampler, data: np.ndarray, *, last: bool) -> np.ndarray:
    if resampler is None:
        return data
    return resampler.resample_chunk(data, last=last)


def to_pcm16(data: np.ndarray) -> np.ndarray:
    """Rounded and clipped to 16 bits, as the command line's s16 output is."""
    return np.clip(np.rint(data * 32768.0), -32768, 32767).astype(np.int16)


def _describe(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or exc.__class__.__name__


def iter_pcm(
    path: str | os.PathLike[str],
    *,
    sample_rate: int = 16000,
    block_seconds: float = 1.0,
    max_seconds: float | None = None,
    timeout: float = 300.0,
    threads: int | None = None,
    split_bytes: int | None = SPLIT_BYTES,
) -> LibavStream:
    """Decode in this process to mono float32 blocks of ``block_seconds``.

    The same contract as ``decode.iter_pcm`` (the blocks, ``AudioTooLongError``
    past ``max_seconds``, ``AudioDecodeTimeoutError``, ``AudioCorruptError``,
    ``UnsupportedAudioError``), for files that already passed upload checks.
    With ``threads`` 2 (``decode_threads()`` on a machine of two cores or
    more) a thread of its own decodes ahead of the consumer, and an Opus file
    of ``split_bytes`` or more has its second half decoded by a child process
    at the same time (``_SecondHalf``; ``None`` never splits).
    """
    return LibavStream(
        Path(path),
        sample_rate=sample_rate,
        block_seconds=block_seconds,
        max_seconds=max_seconds,
        timeout=timeout,
        threads=decode_threads() if threads is None else threads,
        split_bytes=split_bytes,
    )
