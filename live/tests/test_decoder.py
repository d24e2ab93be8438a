"""live.decoder: a growing stream decoded in-process as its frames arrive."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import numpy as np
import pytest

from live.decoder import MAX_BYTES_PER_SECOND, SAMPLE_RATE, StreamDecoder
from live.tests.conftest import frames_of
from recordings.audio import decode, libav
from recordings.tests.audio_files import FIXTURES
from shrutik.testing import run_coroutine

READING = FIXTURES / "bn_read_fluent.webm"
OGG_READING = FIXTURES / "en_read_noisy.ogg"
WAIT = 30  # seconds: only a broken decoder waits this long


class Collected:
    """``on_pcm`` for a test: keeps the blocks and wakes whoever waits for more."""

    def __init__(self) -> None:
        self.blocks: list[np.ndarray] = []
        self.arrived = asyncio.Event()

    async def __call__(self, block: np.ndarray) -> None:
        assert block.dtype == np.int16 and block.ndim == 1
        self.blocks.append(block)
        self.arrived.set()

    async def more(self) -> None:
        self.arrived.clear()
        await asyncio.wait_for(self.arrived.wait(), WAIT)

    def pcm(self) -> np.ndarray:
        return np.concatenate(self.blocks) if self.blocks else np.zeros(0, np.int16)


def reference(path: Path) -> np.ndarray:
    """The processing worker's decoding of the whole file, as 16-bit samples."""
    with libav.iter_pcm(path, block_seconds=1.0) as stream:
        pcm = np.concatenate(list(stream))
    return np.rint(pcm * 32768).astype(np.int16)


async def decode_in_pieces(
    path: Path, pieces: list[bytes], *, container: str, each_piece_decodes: bool = True
) -> np.ndarray:
    """Feed ``pieces`` one by one; after each from the second on, wait for its audio
    before feeding the next, as a reader's frames arrive a second apart."""
    collected = Collected()
    decoder = StreamDecoder(collected, container=container)
    await decoder.start()
    try:
        for number, piece in enumerate(pieces):
            assert await decoder.feed(piece)
            if each_piece_decodes and number and number < len(pieces) - 1:
                # Each piece's audio comes out before the next arrives: the
                # decoder works on what it has, it does not wait for more.
                await collected.more()
        total = reference(path).size
        while decoder.decoded_samples < total - SAMPLE_RATE // 40:
            await collected.more()
        assert decoder.decoded_samples == collected.pcm().size
        assert decoder.fed_bytes == sum(len(piece) for piece in pieces)
        assert not decoder.failed
    finally:
        await decoder.close()
    assert not decoder.thread.is_alive()
    return collected.pcm()


def assert_same_audio(ours: np.ndarray, path: Path) -> None:
    expected = reference(path)
    # The same samples as the worker will cut chunks from, except the last few
    # milliseconds, which the resampler holds back until the stream ends (and
    # a reader's stream has not ended while it is being decoded).
    assert 0 <= expected.size - ours.size <= SAMPLE_RATE // 40
    assert np.array_equal(ours, expected[: ours.size])
    # And what the upload checks decode (the ffmpeg binary), up to resampling.
    with decode.iter_pcm(path, block_seconds=1.0) as stream:
        checked = np.concatenate(list(stream))[: ours.size]
    residual = np.sum((ours / 32768 - checked) ** 2) / np.sum(checked**2)
    assert 10 * np.log10(residual) < -40


@pytest.mark.parametrize("piece_seconds", [1.0, 0.25])
def test_a_webm_stream_fed_frame_by_frame_decodes_as_it_arrives(piece_seconds):
    data = READING.read_bytes()
    expected = reference(READING)
    pieces = frames_of(data, expected.size / SAMPLE_RATE, piece_seconds=piece_seconds)
    ours = run_coroutine(lambda: decode_in_pieces(READING, pieces, container="webm"))
    assert_same_audio(ours, READING)


def test_pieces_of_any_size_give_the_same_samples():
    """Cut anywhere, even inside the header or a block: the same audio comes out."""
    data = READING.read_bytes()
    seconds = reference(READING).size / SAMPLE_RATE
    whole = run_coroutine(
        lambda: decode_in_pieces(READING, frames_of(data, seconds), container="webm")
    )

    async def in_tiny_pieces():
        collected = Collected()
        decoder = StreamDecoder(collected, container="webm")
        await decoder.start()
        for start in range(0, len(data), 397):
            await decoder.feed(data[start : start + 397])
        while decoder.decoded_samples < whole.size:
            await collected.more()
        await decoder.close()
        return collected.pcm()

    tiny = run_coroutine(in_tiny_pieces)
    assert np.array_equal(tiny[: whole.size], whole)


def test_an_ogg_stream_decodes_too():
    data = OGG_READING.read_bytes()
    expected = reference(OGG_READING)
    pieces = frames_of(data, expected.size / SAMPLE_RATE)
    # This file's Ogg pages hold about a second each, and its cuts fall
    # anywhere in them, so not every piece completes a page.
    ours = run_coroutine(
        lambda: decode_in_pieces(OGG_READING, pieces, container="ogg", each_piece_decodes=False)
    )
    assert_same_audio(ours, OGG_READING)


def test_junk_decodes_to_nothing_and_earns_no_allowance():
    junk = random.Random(1).randbytes(64 * 1024)

    async def scenario():
        collected = Collected()
        decoder = StreamDecoder(collected, container="webm")
        await decoder.start()
        await decoder.feed(junk)
        # The decoder gives up on a stream with no WebM header.
        await asyncio.wait_for(decoder._finished.wait(), WAIT)
        fed_after = await decoder.feed(b"more junk")
        allowance = decoder.undecoded_allowance(100_000)
        await decoder.close()
        return decoder, collected, fed_after, allowance

    decoder, collected, fed_after, allowance = run_coroutine(scenario)
    assert decoder.failed and not fed_after
    assert collected.blocks == [] and decoder.decoded_samples == 0
    assert allowance == 100_000 - len(junk) - len(b"more junk")
    assert not decoder.thread.is_alive()


def test_the_allowance_grows_with_decoded_audio_only():
    data = READING.read_bytes()

    async def scenario():
        collected = Collected()
        decoder = StreamDecoder(collected, container="webm")
        await decoder.start()
        await decoder.feed(data)
        while decoder.decoded_samples < 5 * SAMPLE_RATE:
            await collected.more()
        # Random bytes after valid audio: whatever the demuxer makes of them,
        # the audio they add earns no more than its own seconds.
        await decoder.feed(random.Random(2).randbytes(256 * 1024))
        allowance = decoder.undecoded_allowance(0)
        await decoder.close()
        return decoder, allowance

    decoder, allowance = run_coroutine(scenario)
    earned = decoder.decoded_samples * MAX_BYTES_PER_SECOND // SAMPLE_RATE
    assert allowance == earned - decoder.fed_bytes


@pytest.mark.parametrize("fed", ["nothing", "a header", "a whole reading"])
def test_close_stops_the_thread_wherever_it_is(fed):
    """Waiting for its first bytes, inside the header, or in the middle of
    decoding minutes of audio: close returns, the thread ends, no block follows."""
    data = READING.read_bytes()
    feed = {"nothing": b"", "a header": data[:200], "a whole reading": data * 8}[fed]

    async def scenario():
        collected = Collected()
        decoder = StreamDecoder(collected, container="webm")
        await decoder.start()
        if feed:
            await decoder.feed(feed)
        await decoder.close()
        after_close = len(collected.blocks)
        await decoder.close()  # twice is harmless
        fed_after = await decoder.feed(data)
        await asyncio.sleep(0)
        return decoder, collected, after_close, fed_after

    decoder, collected, after_close, fed_after = run_coroutine(scenario)
    assert not decoder.thread.is_alive()
    assert len(collected.blocks) == after_close
    assert not fed_after
    assert not decoder.failed  # closing is not a bad stream


def test_a_failing_listener_does_not_leave_the_thread_running():
    data = READING.read_bytes()

    async def scenario():
        async def on_pcm(block):
            raise RuntimeError("the socket went away")

        decoder = StreamDecoder(on_pcm, container="webm")
        await decoder.start()
        await decoder.feed(data)
        with pytest.raises(RuntimeError):
            await asyncio.wait_for(decoder.reader, WAIT)
        await decoder.close()
        return decoder

    decoder = run_coroutine(scenario)
    assert not decoder.thread.is_alive()


def test_finishing_delivers_everything_fed_before_it_closes():
    """A reading's last frames often arrive together (a reconnection sends what
    it kept) just before it ends: their audio still reaches ``on_pcm``."""

    async def scenario():
        collected = Collected()
        decoder = StreamDecoder(collected, container="webm")
        await decoder.start()
        for piece in frames_of(READING.read_bytes(), 15.0):
            assert await decoder.feed(piece)
        await decoder.finish(WAIT)
        return decoder, collected

    decoder, collected = run_coroutine(scenario)
    assert not decoder.thread.is_alive() and not decoder.failed
    assert_same_audio(collected.pcm(), READING)
    assert decoder.decoded_samples == collected.pcm().size > 0
