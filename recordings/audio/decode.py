"""Decoding uploaded audio with the ffmpeg binary shipped by ``imageio-ffmpeg``.

Everything here treats the upload as hostile: the container is recognised from
its first bytes (never from the file name), the codec is checked against an
allow-list, decoding runs in a child process whose output is capped in decoded
seconds and in wall-clock time, and the child is always killed and reaped, so a
crafted file can neither exhaust memory nor hang a web or worker process.

We use only ``imageio_ffmpeg.get_ffmpeg_exe()``: a pinned, known build that is the
same on every machine, instead of whatever ``ffmpeg`` a host happens to have.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import os
import re
import resource
import subprocess
import threading
from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "DEFAULT_SAMPLE_RATE",
    "AudioCorruptError",
    "AudioDecodeError",
    "AudioDecodeTimeoutError",
    "AudioInfo",
    "AudioTooLongError",
    "BlockStream",
    "PcmStream",
    "UnsupportedAudioError",
    "check_codec",
    "decode_to_wav",
    "demuxer_of",
    "ffmpeg_exe",
    "iter_pcm",
    "measure_duration",
    "probe",
    "sniff_container",
]

DEFAULT_SAMPLE_RATE = 16000

# Containers we accept, keyed by the short name ``sniff_container`` returns, with
# the ffmpeg demuxer forced for it and the codecs allowed inside. Forcing the
# demuxer means ffmpeg never falls back to guessing from the extension.
_CONTAINERS: dict[str, tuple[str, frozenset[str]]] = {
    "webm": ("matroska", frozenset({"opus", "vorbis", "flac"})),
    "ogg": ("ogg", frozenset({"opus", "vorbis", "flac"})),
    "wav": ("wav", frozenset()),  # any pcm_* codec, checked by prefix below
    "flac": ("flac", frozenset({"flac"})),
    "mp3": ("mp3", frozenset({"mp3"})),
    "mp4": ("mov", frozenset({"aac", "alac", "mp3", "opus", "flac"})),
    "aac": ("aac", frozenset({"aac"})),
}

SUPPORTED_DESCRIPTION = "WebM/Opus, Ogg (Opus/Vorbis), WAV, FLAC, MP3 or M4A/AAC"

# A recording has one audio stream (a phone's M4A may add a few data tracks);
# the demuxer refuses files with more instead of setting up thousands of them.
MAX_STREAMS = 8
# Address space an ffmpeg child may map. ffmpeg maps 150-250 MB (thread stacks,
# tables) before reading a byte and keeps a few tens of MB resident to decode one
# audio stream; a crafted file that makes it allocate far more fails inside the
# child instead of pushing the web or worker host into swap.
FFMPEG_ADDRESS_SPACE_BYTES = 2 * 1024 * 1024 * 1024

# Error lines ffmpeg prints for damaged input; any of them during a strict
# measurement means the stored audio would not be what the contributor recorded.
_CORRUPTION_PATTERNS = re.compile(
    r"ended prematurely|Invalid data found|Error while decoding|corrupt|"
    r"Truncating packet|invalid frame|Error submitting packet|Packet mismatch",
    re.IGNORECASE,
)


class AudioDecodeError(Exception):
    """The file cannot be used as audio; ``reason`` is safe to show to the uploader."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnsupportedAudioError(AudioDecodeError):
    """Not audio at all, or a container/codec we do not accept (HTTP 415)."""


class AudioCorruptError(AudioDecodeError):
    """A supported container whose content is damaged, truncated or empty (HTTP 400)."""


class AudioTooLongError(AudioDecodeError):
    """More decoded audio than the caller allows; ``seconds`` is the measured figure."""

    def __init__(self, reason: str, *, seconds: float, max_seconds: float) -> None:
        super().__init__(reason)
        self.seconds = seconds
        self.max_seconds = max_seconds


class AudioDecodeTimeoutError(AudioDecodeError):
    """ffmpeg did not finish within the wall-clock limit and was killed."""


@dataclass(frozen=True)
class AudioInfo:
    """What the file is, as found by ffmpeg reading it (not by its name)."""

    container: str  # from sniff_container: webm, ogg, wav, flac, mp3, mp4 (m4a), aac
    format_name: str  # ffmpeg's demuxer name, e.g. "matroska,webm"
    codec: str  # e.g. "opus", "pcm_s16le"
    channels: int
    sample_rate: int
    duration: float | None  # from the header; None when absent (MediaRecorder webm)
    duration_estimated: bool = False  # ffmpeg guessed it from the bitrate (VBR mp3)


@functools.cache
def ffmpeg_exe() -> str:
    """Path of the pinned ffmpeg binary from imageio-ffmpeg (never the system one)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def sniff_container(head: bytes) -> str | None:
    """Recognise a supported container from the first bytes of a file, or None."""
    if len(head) < 4:
        return None
    if head[:4] == b"\x1a\x45\xdf\xa3":
        # EBML: only the WebM profile (what browsers record); generic Matroska
        # (.mkv) is a video container we do not accept.
        return "webm" if b"webm" in head[:64] else None
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:3] == b"ID3":
        return "mp3"
    if head[0] == 0xFF and len(head) >= 2:
        # Both MPEG audio and ADTS start with a 12-bit sync word; the two layer
        # bits are 00 for ADTS (AAC) and non-zero for MPEG layer I-III.
        if head[1] & 0xF6 == 0xF0:
            return "aac"
        if head[1] & 0xE0 == 0xE0 and (head[1] >> 1) & 0x3:
            return "mp3"
    return None


def _read_head(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(64)
    except FileNotFoundError as exc:
        raise AudioCorruptError("the audio file is missing") from exc
    except OSError as exc:
        raise AudioCorruptError(f"the audio file cannot be read ({exc.strerror})") from exc


def _container_of(path: Path) -> str:
    head = _read_head(path)
    if not head:
        raise UnsupportedAudioError("the file is empty")
    container = sniff_container(head)
    if container is None:
        raise UnsupportedAudioError(
            f"the file is not audio in a supported format ({SUPPORTED_DESCRIPTION})"
        )
    return container


def demuxer_of(path: Path) -> tuple[str, str]:
    """The container recognised from the file's first bytes, and the demuxer to force."""
    container = _container_of(path)
    return container, _CONTAINERS[container][0]


def check_codec(container: str, codec: str) -> None:
    """Raise ``UnsupportedAudioError`` unless ``codec`` is allowed in ``container``."""
    allowed = _CONTAINERS[container][1]
    codec_ok = codec.startswith("pcm_") if container == "wav" else codec in allowed
    if not codec_ok:
        raise UnsupportedAudioError(
            f"the {container} file uses the {codec} codec, which is not supported "
            f"({SUPPORTED_DESCRIPTION})"
        )


class _Child:
    """An ffmpeg child process with a drained stderr and a wall-clock watchdog.

    stderr is read by a thread into bounded buffers (its first and last lines:
    the header description and the final errors): if nobody drained it, a
    chatty ffmpeg would fill the pipe and block forever while we wait on stdout.
    The watchdog kills the process at the deadline, which also unblocks any read
    on stdout, so no caller can hang on a stuck decoder.
    """

    def __init__(self, args: list[str], timeout: float, capture_stdout: bool) -> None:
        self.timed_out = False
        self._stderr_head: list[str] = []
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=200)
        self.proc = subprocess.Popen(
            [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture_stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        # Set from here rather than in a preexec_fn, which is unsafe in the
        # threaded web and worker processes; ffmpeg has barely started by now.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            limit = FFMPEG_ADDRESS_SPACE_BYTES
            resource.prlimit(self.proc.pid, resource.RLIMIT_AS, (limit, limit))
        self._reader = threading.Thread(target=self._drain_stderr, daemon=True)
        self._reader.start()
        self._timer = threading.Timer(timeout, self._on_timeout)
        self._timer.daemon = True
        self._timer.start()

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if len(self._stderr_head) < 200:
                self._stderr_head.append(line)
            else:
                self._stderr_tail.append(line)

    def _on_timeout(self) -> None:
        self.timed_out = True
        self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()

    def finish(self) -> int:
        """Kill if still running, reap, and return the exit code."""
        self._timer.cancel()
        self.kill()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        code = self.proc.wait()
        self._reader.join(timeout=5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        return code

    def wait(self) -> int:
        """Wait for a normal exit (the watchdog bounds the wait), then reap."""
        self.proc.wait()
        return self.finish()

    @property
    def stderr(self) -> str:
        return "\n".join([*self._stderr_head, *self._stderr_tail])


def _ffmpeg_failure(stderr: str, fallback: str, code: int | None = None) -> AudioDecodeError:
    """Turn ffmpeg's complaint about a sniffed-as-supported file into an error."""
    # Killed by a signal we did not send (the watchdog's is reported as a
    # timeout): out of its address space, or crashed on the file. Under the
    # address-space cap the loader itself can fail too, before ffmpeg runs.
    if (code is not None and code < 0) or "error while loading shared libraries" in stderr:
        return AudioCorruptError(
            "decoding the file ran out of memory or crashed the decoder; it is not usable audio"
        )
    lines = [line for line in stderr.splitlines() if line.strip()]
    detail = lines[-1] if lines else fallback
    detail = re.sub(r"^\[[^\]]*\]\s*", "", detail)
    if "exceeds max_streams" in stderr:
        return UnsupportedAudioError(
            f"the file has more than {MAX_STREAMS} streams; upload a recording "
            "with one audio stream"
        )
    if "Cannot allocate memory" in stderr:
        return AudioCorruptError("the audio file needs more memory to decode than a recording can")
    return AudioCorruptError(f"the audio file is damaged or truncated ({detail})")


_DURATION_RE = re.compile(r"Duration:\s*(N/A|(\d+):(\d{2}):(\d{2}(?:\.\d+)?))")
_INPUT_RE = re.compile(r"Input #0, ([^ ]+), from")
_AUDIO_RE = re.compile(
    r"Stream #0:\d+(?:\[[^\]]*\])?(?:\([^)]*\))?: "
    r"Audio: ([A-Za-z0-9_]+)[^,]*,\s*(\d+) Hz,\s*([^,]+)"
)
_LAYOUT_CHANNELS = {
    "mono": 1,
    "stereo": 2,
    "downmix": 2,
    "2.1": 3,
    "3.0": 3,
    "quad": 4,
    "4.0": 4,
    "5.0": 5,
    "5.1": 6,
    "6.1": 7,
    "7.1": 8,
}


def _channels_of(layout: str) -> int:
    layout = layout.strip()
    match = re.match(r"(\d+) channels", layout)
    if match:
        return int(match.group(1))
    base = layout.split("(")[0].strip()
    if base in _LAYOUT_CHANNELS:
        return _LAYOUT_CHANNELS[base]
    match = re.match(r"(\d+)\.(\d+)", base)
    if match:
        return int(match.group(1)) + int(match.group(2))
    raise AudioCorruptError(f"unrecognised channel layout {layout!r}")


def _parse_probe(container: str, stderr: str) -> AudioInfo:
    if "exceeds max_streams" in stderr:
        raise _ffmpeg_failure(stderr, "too many streams")
    audio = _AUDIO_RE.search(stderr)
    if audio is None:
        if "Stream #0" in stderr:
            raise UnsupportedAudioError("the file has no audio stream")
        raise _ffmpeg_failure(stderr, "no stream found")
    codec = audio.group(1)
    check_codec(container, codec)
    fmt = _INPUT_RE.search(stderr)
    duration: float | None = None
    dur = _DURATION_RE.search(stderr)
    if dur and dur.group(1) != "N/A":
        duration = int(dur.group(2)) * 3600 + int(dur.group(3)) * 60 + float(dur.group(4))
    return AudioInfo(
        container=container,
        format_name=fmt.group(1) if fmt else _CONTAINERS[container][0],
        codec=codec,
        channels=_channels_of(audio.group(3)),
        sample_rate=int(audio.group(2)),
        duration=duration,
        duration_estimated="Estimating duration from bitrate" in stderr,
    )


def probe(path: str | os.PathLike[str], *, timeout: float = 30.0) -> AudioInfo:
    """Identify an audio file by reading it with ffmpeg.

    Raises ``UnsupportedAudioError`` (not audio, unknown container, disallowed
    codec, no audio stream), ``AudioCorruptError`` (recognised but unreadable),
    ``AudioDecodeTimeoutError``.
    """
    path = Path(path)
    container = _container_of(path)
    # No output file: ffmpeg prints the input description and exits non-zero
    # ("At least one output file must be specified"), which is all we need.
    child = _Child(
        ["-max_streams", str(MAX_STREAMS), "-f", _CONTAINERS[container][0], "-i", str(path)],
        timeout,
        False,
    )
    code = child.wait()
    if child.timed_out:
        raise AudioDecodeTimeoutError(f"reading the audio header took longer than {timeout:g} s")
    if code < 0:
        raise _ffmpeg_failure(child.stderr, "", code)
    return _parse_probe(container, child.stderr)


def _input_args(path: Path, container: str) -> list[str]:
    return [
        *("-max_streams", str(MAX_STREAMS), "-f", _CONTAINERS[container][0], "-i", str(path)),
        *("-map", "0:a:0", "-vn", "-sn"),
    ]


def _too_long(seconds: float, max_seconds: float, info: AudioInfo | None) -> AudioTooLongError:
    claim = ""
    if info is not None and info.duration is not None and info.duration > max_seconds:
        claim = f"; its header says {info.duration:.0f} s"
    return AudioTooLongError(
        f"the recording is longer than the {max_seconds:g} s limit "
        f"(more than {seconds:.1f} s decoded{claim})",
        seconds=seconds,
        max_seconds=max_seconds,
    )


class BlockStream(Iterator[np.ndarray]):
    """What every decoder's stream of mono float32 blocks shares: the block
    size, the count of decoded samples against the cap, and closing on exit."""

    def __init__(
        self, *, sample_rate: int, block_seconds: float, max_seconds: float | None, timeout: float
    ) -> None:
        self.sample_rate = sample_rate
        self.samples = 0
        self._timeout = timeout
        self._max_seconds = max_seconds
        self._limit = None if max_seconds is None else round(max_seconds * sample_rate)
        self._block = max(1, round(block_seconds * sample_rate))

    @property
    def seconds(self) -> float:
        return self.samples / self.sample_rate

    def _counted(self, block: np.ndarray) -> np.ndarray:
        """Count ``block`` as decoded; past the cap, raise ``AudioTooLongError``."""
        self.samples += block.size
        if self._limit is not None and self.samples > self._limit:
            raise _too_long(self.seconds, float(self._max_seconds or 0.0), None)
        return block

    @abstractmethod
    def close(self) -> None:
        """Release the decoder (a child process, an open container)."""

    def __iter__(self) -> BlockStream:
        return self

    def __enter__(self) -> BlockStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PcmStream(BlockStream):
    """Blocks of mono float32 PCM decoded by an ffmpeg child; see ``iter_pcm``.

    A context manager and an iterator: leaving the ``with`` block, exhausting it
    or calling ``close()`` kills and reaps ffmpeg.
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
        super().__init__(
            sample_rate=sample_rate,
            block_seconds=block_seconds,
            max_seconds=max_seconds,
            timeout=timeout,
        )
        container = _container_of(path)
        args = _input_args(path, container)
        if max_seconds is not None:
            # ffmpeg stops on its own a little past the cap, so even a stalled
            # reader cannot make the child produce unbounded output.
            args += ["-t", f"{max_seconds + 1.0:.3f}"]
        # 16-bit samples through the pipe: half the bytes of float32, and ffmpeg
        # clips overshooting samples itself; numpy widens them to float32 here.
        args += ["-ac", "1", "-ar", str(sample_rate), "-f", "s16le", "pipe:1"]
        self._block_bytes = self._block * 2
        self._pending = b""
        self._done = False
        self._child = _Child(args, timeout, True)

    @property
    def stderr(self) -> str:
        """ffmpeg's last messages (complete once the stream is exhausted)."""
        return self._child.stderr

    @property
    def running(self) -> bool:
        """Whether the ffmpeg child is still alive (False once closed: reaped)."""
        return self._child.proc.poll() is None

    def __next__(self) -> np.ndarray:
        if self._done:
            raise StopIteration
        try:
            assert self._child.proc.stdout is not None
            data = self._child.proc.stdout.read(self._block_bytes)
            if not data:
                self._finish_ok()
                raise StopIteration
            if self._pending:
                data = self._pending + data
            usable = len(data) - len(data) % 2
            self._pending = data[usable:]
            block = np.frombuffer(data, dtype="<i2", count=usable // 2).astype(np.float32)
            block *= 1.0 / 32768.0
            return self._counted(block)
        except BaseException:
            self.close()
            raise

    def _finish_ok(self) -> None:
        code = self._child.wait()
        self._done = True
        if self._child.timed_out:
            raise AudioDecodeTimeoutError(f"decoding took longer than {self._timeout:g} s")
        if self.samples == 0 and code == 0:
            raise AudioCorruptError("the audio file contains no decodable audio")
        if code != 0:
            raise _ffmpeg_failure(self._child.stderr, f"ffmpeg exit code {code}", code)

    def close(self) -> None:
        self._done = True
        self._child.finish()

    def __del__(self) -> None:
        # Last resort for a caller that dropped the stream half-read.
        child = getattr(self, "_child", None)
        if child is not None:
            child.finish()


def iter_pcm(
    path: str | os.PathLike[str],
    *,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    block_seconds: float = 1.0,
    max_seconds: float | None = None,
    timeout: float = 300.0,
) -> PcmStream:
    """Decode to mono float32 at ``sample_rate``, yielding blocks of ``block_seconds``.

    Memory stays at one block whatever the file length. Decoding stops (and
    ffmpeg is killed) as soon as more than ``max_seconds`` have been decoded,
    raising ``AudioTooLongError``; the whole decode is bounded by ``timeout``
    wall-clock seconds (``AudioDecodeTimeoutError``). A file ffmpeg cannot read
    raises ``AudioCorruptError``; the container check raises like ``probe``.
    Use it as a context manager (or exhaust it) to release ffmpeg promptly.
    """
    return PcmStream(
        Path(path),
        sample_rate=sample_rate,
        block_seconds=block_seconds,
        max_seconds=max_seconds,
        timeout=timeout,
    )


def measure_duration(
    path: str | os.PathLike[str],
    max_seconds: float,
    *,
    timeout: float = 120.0,
    strict: bool = True,
) -> float:
    """Decode the whole file (up to ``max_seconds``) and return its true duration.

    Headers lie or are absent (MediaRecorder WebM has no duration), so the
    figure is the count of decoded samples. Decoding at 8 kHz keeps the pipe
    traffic small; the count is exact to 1/8000 s.

    With ``strict`` (upload validation), ffmpeg reporting damaged packets or a
    premature end, or a header duration far above the decoded one, raises
    ``AudioCorruptError``: the stored recording would silently miss its end.
    Raises ``AudioTooLongError`` past ``max_seconds`` (with the header's claim
    in the message when it has one) and the errors of ``probe``.
    """
    path = Path(path)
    info = probe(path, timeout=min(timeout, 30.0))
    stream = iter_pcm(
        path, sample_rate=8000, block_seconds=10.0, max_seconds=max_seconds, timeout=timeout
    )
    try:
        with stream:
            for _block in stream:
                pass
            errors = stream.stderr
    except AudioTooLongError as exc:
        raise _too_long(exc.seconds, max_seconds, info) from None
    seconds = stream.seconds
    if strict:
        bad = [line for line in errors.splitlines() if _CORRUPTION_PATTERNS.search(line)]
        if bad:
            raise _ffmpeg_failure(bad[0], "damaged packets")
        if (
            info.duration is not None
            and not info.duration_estimated
            and info.duration - seconds > max(2.0, 0.1 * info.duration)
        ):
            raise AudioCorruptError(
                f"the audio file is truncated: its header says {info.duration:.1f} s "
                f"but only {seconds:.1f} s could be decoded"
            )
    return seconds


def decode_to_wav(
    path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    max_seconds: float | None = None,
    timeout: float = 300.0,
) -> float:
    """Decode to a mono 16-bit PCM WAV at ``sample_rate`` in one ffmpeg pass.

    Returns the duration in seconds. ffmpeg writes the file itself, so memory
    stays flat; ``-t`` bounds the disk it can use. On any failure the partial
    output is removed. Raises ``AudioTooLongError`` (more than ``max_seconds``),
    ``AudioDecodeTimeoutError`` and the errors of ``probe``.
    """
    import soundfile

    path, out_path = Path(path), Path(out_path)
    container = _container_of(path)
    args = ["-y", *_input_args(path, container)]
    if max_seconds is not None:
        args += ["-t", f"{max_seconds + 1.0:.3f}"]
    args += ["-ac", "1", "-ar", str(sample_rate), "-c:a", "pcm_s16le", "-f", "wav", str(out_path)]
    child = _Child(args, timeout, False)
    ok = False
    try:
        code = child.wait()
        if child.timed_out:
            raise AudioDecodeTimeoutError(f"decoding took longer than {timeout:g} s")
        if code != 0 or not out_path.exists():
            raise _ffmpeg_failure(child.stderr, f"ffmpeg exit code {code}", code)
        frames = soundfile.info(str(out_path)).frames
        if frames == 0:
            raise AudioCorruptError("the audio file contains no decodable audio")
        seconds = frames / sample_rate
        if max_seconds is not None and seconds > max_seconds:
            raise _too_long(seconds, max_seconds, None)
        ok = True
        return seconds
    finally:
        child.finish()
        if not ok:
            out_path.unlink(missing_ok=True)
