"""Decoding a growing WebM/Ogg stream while it arrives: one ffmpeg per connection.

A MediaRecorder stream is decodable as it grows, so one long-lived ffmpeg fed
the frames on stdin and read as 16 kHz mono s16le on stdout costs one process
start per connection and a few milliseconds per frame. Re-decoding the tail for
each frame would need the header and codec state again every time. What
becomes the Recording is the staged bytes, decoded and validated again at the
end; the process gives feedback and, by the audio it produces, tells a stream
from junk while it arrives (``undecoded_allowance``), so junk is refused before
it fills the staging rather than at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import numpy as np

from recordings.audio.decode import ffmpeg_exe

SAMPLE_RATE = 16000
READ_BYTES = 16384
# The most stream a second of decoded audio can account for. libopus, which
# MediaRecorder uses, encodes at most 510 kbit/s (RFC 6716, 2.1.1), about 62 KiB
# a second, and WebM or Ogg framing adds well under 1 KiB; the record page asks
# for 64 kbit/s (8 KB a second). A stream that brings more bytes than this per
# second it decodes to is carrying something that is not the recording.
MAX_BYTES_PER_SECOND = 80 * 1024


class StreamDecoder:
    """Feed container bytes with ``feed``; ``on_pcm`` receives int16 sample blocks."""

    def __init__(self, on_pcm: Callable[[np.ndarray], Awaitable[None]], *, container: str):
        self.on_pcm = on_pcm
        self.container = container
        self.proc: asyncio.subprocess.Process | None = None
        self.reader: asyncio.Task | None = None
        self.failed = False
        self.fed_bytes = 0
        self.decoded_samples = 0

    async def start(self) -> None:
        demuxer = "ogg" if self.container == "ogg" else "matroska"
        self.proc = await asyncio.create_subprocess_exec(
            ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error",
            # No probing: the format is known and feedback must not wait for
            # seconds of input before the first sample comes out.
            "-probesize", "32", "-analyzeduration", "0", "-fflags", "nobuffer",
            "-f", demuxer, "-i", "pipe:0",
            "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "-flush_packets", "1",
            "pipe:1",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        carry = b""
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            data = await self.proc.stdout.read(READ_BYTES)
            if not data:
                break
            data = carry + data
            whole = len(data) - len(data) % 2
            carry = data[whole:]
            if whole:
                self.decoded_samples += whole // 2
                await self.on_pcm(np.frombuffer(data[:whole], dtype="<i2"))

    async def feed(self, data: bytes) -> bool:
        """Pass bytes on; False once the decoder has given up (bad stream)."""
        # Counted even when the decoder is gone: bytes it never turned into
        # audio are exactly what ``undecoded_allowance`` is about.
        self.fed_bytes += len(data)
        if self.failed or self.proc is None or self.proc.stdin is None:
            return False
        try:
            self.proc.stdin.write(data)
            await self.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            self.failed = True
            return False
        return True

    def undecoded_allowance(self, tolerance: int) -> int:
        """How many more bytes the stream may bring before its audio must catch up.

        Every second decoded earns ``MAX_BYTES_PER_SECOND``; ``tolerance`` covers
        the container header and what is still on its way through the pipes and
        ffmpeg's buffers when the next frame arrives. Junk decodes to nothing, so
        no more than ``tolerance`` of it gets in, and valid audio sent first earns
        only its own seconds' worth: the decoder has to keep producing audio in
        proportion to what is received, all the way through.
        """
        earned = self.decoded_samples * MAX_BYTES_PER_SECOND // SAMPLE_RATE
        return tolerance + earned - self.fed_bytes

    async def close(self) -> None:
        """Stop the process and reap it; safe to call more than once."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        await proc.wait()
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.reader
