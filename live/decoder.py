"""Decoding a growing WebM/Ogg stream while it arrives: one ffmpeg per connection.

A MediaRecorder stream is decodable as it grows, so one long-lived ffmpeg fed
the frames on stdin and read as 16 kHz mono s16le on stdout costs one process
start per connection and a few milliseconds per frame. Re-decoding the tail for
each frame would need the header and codec state again every time. The process
only serves feedback: what becomes the Recording is the staged bytes, decoded
and validated again at the end, so a decoder that dies costs feedback, never
audio.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import numpy as np

from recordings.audio.decode import ffmpeg_exe

SAMPLE_RATE = 16000
READ_BYTES = 16384


class StreamDecoder:
    """Feed container bytes with ``feed``; ``on_pcm`` receives int16 sample blocks."""

    def __init__(self, on_pcm: Callable[[np.ndarray], Awaitable[None]], *, container: str):
        self.on_pcm = on_pcm
        self.container = container
        self.proc: asyncio.subprocess.Process | None = None
        self.reader: asyncio.Task | None = None
        self.failed = False

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
                await self.on_pcm(np.frombuffer(data[:whole], dtype="<i2"))

    async def feed(self, data: bytes) -> bool:
        """Pass bytes on; False once the decoder has given up (bad stream)."""
        if self.failed or self.proc is None or self.proc.stdin is None:
            return False
        try:
            self.proc.stdin.write(data)
            await self.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            self.failed = True
            return False
        return True

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
