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
    AudioTooLongError,
    UnsupportedAudioError,
    check_codec,
    demuxer_of,
)

__all__ = ["LibavStream", "iter_pcm"]


class LibavStream(Iterator[np.ndarray]):
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

        container, demuxer = demuxer_of(path)
        self.sample_rate = sample_rate
        self.samples = 0
        self._max_seconds = max_seconds
        self._limit = None if max_seconds is None else round(max_seconds * sample_rate)
        self._block = max(1, round(block_seconds * sample_rate))
        self._deadline = time.monotonic() + timeout
        self._timeout = timeout
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
        # s16 like the command line's output: the same clipping of overshooting
        # lossy samples, and the same resampler (libswresample's defaults).
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
        self._frames = self._decoded_frames()
        self._pending: list[np.ndarray] = []
        self._pending_samples = 0
        self._done = False

    @property
    def seconds(self) -> float:
        return self.samples / self.sample_rate

    def _decoded_frames(self) -> Iterator:
        import av

        for packet in self._input.demux(self._stream):
            if time.monotonic() > self._deadline:
                raise AudioDecodeTimeoutError(f"decoding took longer than {self._timeout:g} s")
            try:
                frames = packet.decode()  # a flush packet (at the end) drains the decoder
            except av.InvalidDataError:
                continue  # a damaged packet: skipped, as the ffmpeg command line does
            for frame in frames:
                try:
                    yield from self._resampler.resample(frame)
                except ValueError:
                    # PyAV's resampler refuses a frame whose rate or layout differs
                    # from the first one: a damaged or spliced file (garbage that
                    # looks like frames of another format), not a recording.
                    raise AudioCorruptError(
                        "the audio changes its sample rate or channels mid-stream"
                    ) from None
        yield from self._resampler.resample(None)

    def __iter__(self) -> LibavStream:
        return self

    def __next__(self) -> np.ndarray:
        import av

        if self._done:
            raise StopIteration
        try:
            if self._pending_samples >= self._block:
                return self._emit()  # frames longer than a block leave whole blocks behind
            for frame in self._frames:
                pcm = frame.to_ndarray().reshape(-1)
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
        self.samples += block.size
        if self._limit is not None and self.samples > self._limit:
            raise AudioTooLongError(
                f"the recording is longer than the {self._max_seconds:g} s limit "
                f"(more than {self.seconds:.1f} s decoded)",
                seconds=self.seconds,
                max_seconds=float(self._max_seconds or 0.0),
            )
        return block

    def close(self) -> None:
        self._done = True
        self._input.close()

    def __enter__(self) -> LibavStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
