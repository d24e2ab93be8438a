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

The same defences hold: the demuxer is forced from the file's first bytes
(never guessed from its name), the codec must be on the allow-list, decoded
seconds are capped and the wall-clock time is checked between frames (the
Celery hard time limit bounds a single stuck call), and the container is always
closed. Damaged packets are skipped as the ffmpeg command line does.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
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

__all__ = ["LibavStream", "iter_pcm"]


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
            check_codec(container, self._stream.codec_context.codec.canonical_name)
        except BaseException:
            self._input.close()
            raise
        self._frames = self._resampled()
        self._pending: list[np.ndarray] = []
        self._pending_samples = 0
        self._done = False

    def _decoded_frames(self) -> Iterator:
        import av

        for number, packet in enumerate(self._input.demux(self._stream)):
            if number % 64 == 0 and time.monotonic() > self._deadline:
                raise AudioDecodeTimeoutError(f"decoding took longer than {self._timeout:g} s")
            try:
                frames = packet.decode()  # a flush packet (at the end) drains the decoder
            except av.InvalidDataError:
                continue  # a damaged packet: skipped, as the ffmpeg command line does
            yield from frames

    def _resampled(self) -> Iterator[np.ndarray]:
        """16-bit mono samples at the output rate, in pieces of about half a second.

        Frames are gathered before resampling: libav's resampler would be
        called once per 20 ms Opus frame, and that per-call overhead cost more
        than the decoding itself. soxr resamples the gathered pieces as one
        continuous stream.
        """
        import soxr

        shape = None
        resampler = None
        gathered: list[np.ndarray] = []
        count = 0
        for frame in self._decoded_frames():
            key = (frame.sample_rate, frame.format.name, frame.layout.nb_channels)
            if shape is None:
                shape = key
                if frame.sample_rate != self.sample_rate:
                    resampler = soxr.ResampleStream(
                        frame.sample_rate, self.sample_rate, 1, dtype="float32", quality="HQ"
                    )
            elif key != shape:
                # A damaged or spliced file (garbage that looks like frames of
                # another format), not a recording.
                raise AudioCorruptError("the audio changes its sample rate or channels mid-stream")
            gathered.append(_samples(frame))
            count += frame.samples
            if count >= shape[0] // 2:
                yield _pcm16(_resample(resampler, _mono(gathered, frame), last=False))
                gathered, count = [], 0
        if shape is not None:
            yield _pcm16(_resample(resampler, _mono(gathered, frame), last=True))

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
        self._input.close()


# Full scale of each integer sample format, to bring samples to [-1, 1).
_FULL_SCALE = {"u8": 128.0, "s16": 32768.0, "s32": 2147483648.0, "s64": 9.223372036854775808e18}


_DTYPES = {"u8": np.uint8, "s16": np.int16, "s32": np.int32, "s64": np.int64}
_DTYPES.update(flt=np.float32, dbl=np.float64)


def _samples(frame) -> np.ndarray:
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


def _mono(pieces: list[np.ndarray], frame) -> np.ndarray:
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


def _resample(resampler, data: np.ndarray, *, last: bool) -> np.ndarray:
    if resampler is None:
        return data
    return resampler.resample_chunk(data, last=last)


def _pcm16(data: np.ndarray) -> np.ndarray:
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
) -> LibavStream:
    """Decode in this process to mono float32 blocks of ``block_seconds``.

    The same contract as ``decode.iter_pcm`` (the blocks, ``AudioTooLongError``
    past ``max_seconds``, ``AudioDecodeTimeoutError``, ``AudioCorruptError``,
    ``UnsupportedAudioError``), for files that already passed upload checks.
    """
    return LibavStream(
        Path(path),
        sample_rate=sample_rate,
        block_seconds=block_seconds,
        max_seconds=max_seconds,
        timeout=timeout,
    )
