"""Decoding a growing WebM/Ogg stream while it arrives: libav in a thread per connection.

A MediaRecorder stream is decodable as it grows, so one long-lived libav
demuxer and decoder per connection reads the frames as they are fed and turns
each into 16 kHz mono int16 PCM within milliseconds. Re-decoding the tail for
each frame would need the header and codec state again every time. The
demuxer pulls its input: it runs in a thread of its own, whose reads wait for
the next frame, and libav releases the GIL while it demuxes and decodes, so
the event loop never waits on it. A thread rather than an ffmpeg process per
connection: no process to start, no pipes, and no hand-offs between the
ffmpeg command line's demuxer, decoder and muxer threads for every 20 ms packet.

What becomes the Recording is the staged bytes, decoded and validated again at
the end; the decoder gives feedback and, by the audio it produces, tells a
stream from junk while it arrives (``undecoded_allowance``), so junk is refused
before it fills the staging rather than at the end.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable

import numpy as np

from recordings.audio.decode import MAX_STREAMS, AudioDecodeError, check_codec
from recordings.audio.libav import Gatherer, resampler, to_pcm16

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
# The most stream a second of decoded audio can account for. libopus, which
# MediaRecorder uses, encodes at most 510 kbit/s (RFC 6716, 2.1.1), about 62 KiB
# a second, and WebM or Ogg framing adds well under 1 KiB; the record page asks
# for 64 kbit/s (8 KB a second). A stream that brings more bytes than this per
# second it decodes to is carrying something that is not the recording.
MAX_BYTES_PER_SECOND = 80 * 1024
# libav's read buffer: what one read may ask for. A 1-second frame is a few KB.
READ_BYTES = 16384
# How long ``close`` waits for the thread to finish the packet it is decoding.
CLOSE_WAIT_SECONDS = 10.0

_DEMUXERS = {"webm": "matroska", "ogg": "ogg"}
_OPEN_OPTIONS = {
    # The same stream cap as the upload checks: a header declaring hundreds
    # of streams is refused before any is set up.
    "max_streams": str(MAX_STREAMS),
    # No probing: the format is known, and feedback must not wait for
    # seconds of input before the first sample comes out.
    "probesize": "32",
    "analyzeduration": "0",
}


def warm() -> None:
    """Load libav and the resampler (at process start: the first stream would
    otherwise wait for the import)."""
    import av

    av.CodecContext.create("opus", "r")
    resampler(48000, SAMPLE_RATE)


class _Closed(Exception):
    """The connection closed the decoder; the thread stops where it is."""


class _Input:
    """The bytes fed so far, read by libav from the decoder's thread.

    ``read`` waits until bytes arrive; before it waits it calls ``starved``,
    which is when everything fed so far has been demuxed. Closing ends the
    stream: libav sees the end of its input and the thread unwinds.
    """

    def __init__(self, starved: Callable[[], None]) -> None:
        self._chunks: collections.deque[bytes] = collections.deque()
        self._ready = threading.Condition()
        self._closed = False
        self._ended = False
        self._starved = starved

    def put(self, data: bytes) -> None:
        with self._ready:
            self._chunks.append(data)
            self._ready.notify()

    def end(self) -> None:
        """No more bytes will come: libav reads what is left, then the end."""
        with self._ready:
            self._ended = True
            self._ready.notify()

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._chunks.clear()
            self._ready.notify()

    @property
    def closed(self) -> bool:
        return self._closed

    def read(self, size: int) -> bytes:
        # libav copies the answer into a buffer of ``size`` bytes: never more.
        with self._ready:
            if not self._chunks and not self._closed and not self._ended:
                self._ready.release()
                try:
                    self._starved()
                finally:
                    self._ready.acquire()
                while not self._chunks and not self._closed and not self._ended:
                    self._ready.wait()
            if self._closed or not self._chunks:
                return b""
            data = self._chunks.popleft()
            if len(data) > size:
                self._chunks.appendleft(data[size:])
                data = data[:size]
            return data


class StreamDecoder:
    """Feed container bytes with ``feed``; ``on_pcm`` receives int16 sample blocks.

    ``on_pcm`` runs on the event loop that called ``start``, one block at a
    time and in order, each as soon as the bytes fed so far are decoded.
    """

    def __init__(self, on_pcm: Callable[[np.ndarray], Awaitable[None]], *, container: str):
        self.on_pcm = on_pcm
        self.container = container
        self.failed = False
        self.fed_bytes = 0
        self.decoded_samples = 0
        self.thread: threading.Thread | None = None
        self.reader: asyncio.Task | None = None
        self._input = _Input(self._flush)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._blocks: asyncio.Queue | None = None
        self._finished: asyncio.Event | None = None
        # Decoded, not yet resampled: the thread gathers a frame's packets and
        # resamples them in one call once it has demuxed all that was fed.
        # Flushed whenever everything fed so far is demuxed, never by size.
        self._gather = Gatherer(seconds=None)
        self._resampler = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._blocks = asyncio.Queue()
        self._finished = asyncio.Event()
        self.reader = asyncio.create_task(self._deliver())
        self.thread = threading.Thread(target=self._run, name="live-decoder", daemon=True)
        self.thread.start()

    async def feed(self, data: bytes) -> bool:
        """Pass bytes on; False once the decoder has given up (bad stream)."""
        # Counted even when the decoder is gone: bytes it never turned into
        # audio are exactly what ``undecoded_allowance`` is about.
        self.fed_bytes += len(data)
        if self.failed or self.thread is None or self._input.closed:
            return False
        self._input.put(data)
        return True

    def undecoded_allowance(self, tolerance: int) -> int:
        """How many more bytes the stream may bring before its audio must catch up.

        Every second decoded earns ``MAX_BYTES_PER_SECOND``; ``tolerance`` covers
        the container header and what is still on its way through the decoder
        when the next frame arrives. Junk decodes to nothing, so no more than
        ``tolerance`` of it gets in, and valid audio sent first earns only its
        own seconds' worth: the decoder has to keep producing audio in
        proportion to what is received, all the way through.
        """
        earned = self.decoded_samples * MAX_BYTES_PER_SECOND // SAMPLE_RATE
        return tolerance + earned - self.fed_bytes

    async def finish(self, timeout: float) -> None:
        """Decode what was fed and deliver it to ``on_pcm``, waiting at most
        ``timeout`` seconds, then close. A reading's last frames often arrive
        together (a reconnection sends what it kept), and their feedback is
        the reader's last view of the reading."""
        self._input.end()
        if self.reader is not None and self.thread is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(self.reader), timeout)
        await self.close()

    async def close(self) -> None:
        """Stop the thread and wait for it to finish; safe to call more than once."""
        self._input.close()
        if self.reader is not None:
            self.reader.cancel()
            try:
                await self.reader
            except asyncio.CancelledError:
                # Our own cancellation, or the caller's: only the latter goes on.
                if asyncio.current_task().cancelling():
                    raise
            except Exception:
                pass  # ``on_pcm`` failed earlier; its caller has seen to that
        if self._finished is not None and not self._finished.is_set():
            # The thread stops after the packet it is decoding; a crafted one
            # costs milliseconds, but a connection never waits on it for long.
            try:
                await asyncio.wait_for(self._finished.wait(), CLOSE_WAIT_SECONDS)
            except TimeoutError:
                logger.warning("Live decoder thread still busy after close")
                return
        if self.thread is not None:
            # It has posted its last call and is returning: a join of microseconds.
            self.thread.join(1.0)

    # --- on the event loop --------------------------------------------------------

    async def _deliver(self) -> None:
        while True:
            block = await self._blocks.get()
            if block is None:
                return
            self.decoded_samples += block.size
            await self.on_pcm(block)

    def _post(self, block: np.ndarray | None) -> None:
        """From the thread: hand a block (None: no more) to the event loop."""
        # RuntimeError: the loop is closed, and nobody is listening any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._blocks.put_nowait, block)

    # --- in the decoder's thread --------------------------------------------------

    def _run(self) -> None:
        import av

        try:
            self._decode(av)
        except _Closed:
            pass
        except (av.FFmpegError, AudioDecodeError) as exc:
            # Not a stream we can decode (junk, another codec): it earns no
            # audio from here on, and ``undecoded_allowance`` refuses it.
            if not self._input.closed:
                self.failed = True
                logger.info("Live stream not decodable: %s", exc)
        except Exception:
            self.failed = True
            logger.exception("Live decoder failed")
        finally:
            self._post(None)
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._finished.set)

    def _decode(self, av) -> None:
        with av.open(
            self._input,
            mode="r",
            format=_DEMUXERS[self.container],
            options=_OPEN_OPTIONS,
            buffer_size=READ_BYTES,
        ) as source:
            if not source.streams.audio:
                raise AudioDecodeError("the stream has no audio")
            stream = source.streams.audio[0]
            check_codec(self.container, stream.codec_context.codec.canonical_name)
            for packet in source.demux(stream):
                if self._input.closed:
                    raise _Closed
                try:
                    frames = packet.decode()
                except av.InvalidDataError:
                    continue  # a damaged packet: skipped, as the ffmpeg command line does
                for frame in frames:
                    # Splice or garbage that happens to parse raises here.
                    self._gather.add(frame)
            self._flush()

    def _flush(self) -> None:
        """Resample what was gathered and post it: called whenever the thread has
        demuxed everything fed so far, so each frame's audio goes out at once."""
        if self._input.closed or not (piece := self._gather.flush()):
            return
        (rate, _, _), data = piece
        if self._resampler is None:
            self._resampler = resampler(rate, SAMPLE_RATE)
        if self._resampler is not None:
            data = self._resampler.resample_chunk(data)
        if data.size:
            self._post(to_pcm16(data))
