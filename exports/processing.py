"""Export-time audio processing and train-split augmentation, framework-free.

Every step works on float64 arrays shaped ``(samples, channels)``:

- channel layout (mono downmix or duplicated stereo) and resampling (soxr, VHQ);
- leading/trailing silence trimming with a kept margin (librosa's RMS trim);
- loudness normalisation to an integrated loudness (ITU-R BS.1770 / EBU R128,
  measured with pyloudnorm) with a true-peak ceiling, the true peak measured on
  the 4x oversampled signal as BS.1770 annex 2 describes;
- speed perturbation by resampling, as Kaldi and lhotse do (pitch changes with
  the speed; the duration scales by 1 / factor);
- additive noise at a signal-to-noise ratio, from an uploaded noise set or
  generated white, pink or brown noise.

Random draws come from ``rng_for(seed, clip, name)``: a generator seeded from
the export seed, the clip and the augmentation alone, so the result never
depends on which worker processed which batch, or in what order. FLAC, WAV and
MP3 encoding through libsndfile is byte-identical for identical samples (Ogg
Opus is not: libsndfile draws a random stream serial number).
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import soundfile as sf
import soxr

# The export audio formats: container and sample encoding, and file extension.
ENCODING = {
    "flac": ("FLAC", "PCM_16"),
    "wav": ("WAV", "PCM_16"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
    "opus": ("OGG", "OPUS"),
}
EXTENSIONS = {"flac": "flac", "wav": "wav", "mp3": "mp3", "opus": "opus"}
SAMPLE_RATES = (8000, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
NOISE_COLOURS = {"white": 0.0, "pink": 1.0, "brown": 2.0}  # spectral slope: 1/f^a power
NOISE_SET = "set"
NOISE_SOURCES = (*NOISE_COLOURS, NOISE_SET)
OVERSAMPLING = 4  # true-peak measurement, ITU-R BS.1770-4 annex 2
LOUDNESS_BLOCK = 0.4  # seconds: BS.1770 gating block, the shortest measurable clip
# Quantisation to 16 bits can move the true peak by a hair: aim just below it.
PEAK_HEADROOM_DB = 0.05
LIMITER_WINDOW = 0.005  # seconds of look-ahead and release around a limited peak


class ProcessingError(Exception):
    """A clip could not be decoded."""


@dataclass(frozen=True)
class Options:
    """Validated processing options (see ``from_dict`` for the stored JSON shape)."""

    target_lufs: float | None = None
    true_peak_dbtp: float = -1.0
    trim: bool = False
    trim_top_db: float = 40.0
    trim_margin: float = 0.1
    channels: int = 1
    min_duration: float | None = None
    max_duration: float | None = None
    speeds: tuple[float, ...] = ()
    noise_source: str = ""
    noise_snrs: tuple[float, ...] = ()
    seed: int = 0

    @classmethod
    def from_dict(cls, data: dict) -> Options:
        """From the stored JSON::

        {"loudness": {"target_lufs": -23, "true_peak_dbtp": -1} | null,
         "trim": {"top_db": 40, "margin_ms": 100} | null,
         "channels": 1, "min_duration": 1.0 | null, "max_duration": 20.0 | null,
         "augment": {"speed": [0.9, 1.1],
                     "noise": {"source": "pink", "snrs": [10, 20]} | null},
         "seed": 0}
        """
        loudness = data.get("loudness") or {}
        trim = data.get("trim") or {}
        augment = data.get("augment") or {}
        noise = augment.get("noise") or {}
        return cls(
            target_lufs=loudness.get("target_lufs"),
            true_peak_dbtp=float(loudness.get("true_peak_dbtp", -1.0)),
            trim=bool(trim),
            trim_top_db=float(trim.get("top_db", 40.0)),
            trim_margin=float(trim.get("margin_ms", 100)) / 1000,
            channels=int(data.get("channels", 1)),
            min_duration=data.get("min_duration"),
            max_duration=data.get("max_duration"),
            speeds=tuple(float(s) for s in augment.get("speed") or ()),
            noise_source=noise.get("source", "") if noise.get("snrs") else "",
            noise_snrs=tuple(float(s) for s in noise.get("snrs") or ()),
            seed=int(data.get("seed", 0)),
        )

    @property
    def augments(self) -> bool:
        return bool(self.speeds or self.noise_snrs)

    @property
    def passthrough(self) -> bool:
        """Nothing but the format, rate and channels would change a clip."""
        return (
            self.target_lufs is None
            and not self.trim
            and self.min_duration is None
            and self.max_duration is None
            and not self.augments
        )


# --- building blocks ------------------------------------------------------------------


def rng_for(seed: int, clip: str, name: str) -> np.random.Generator:
    """A generator that depends only on (export seed, clip, augmentation name)."""
    digest = hashlib.sha256(f"{seed}\x1f{clip}\x1f{name}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "big"))


def decode(data: bytes) -> tuple[np.ndarray, int]:
    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise ProcessingError(str(exc)) from exc
    return samples, rate


def encode(samples: np.ndarray, rate: int, audio_format: str) -> bytes:
    container, subtype = ENCODING[audio_format]
    out = io.BytesIO()
    sf.write(out, np.clip(samples, -1.0, 1.0), rate, format=container, subtype=subtype)
    return out.getvalue()


def set_channels(samples: np.ndarray, channels: int) -> np.ndarray:
    """Mono: the mean of all channels. Stereo: mono duplicated, or the first two."""
    if channels == 1:
        return samples.mean(axis=1, keepdims=True) if samples.shape[1] != 1 else samples
    if samples.shape[1] == 1:
        return np.repeat(samples, channels, axis=1)
    return samples[:, :channels]


def resample(samples: np.ndarray, rate: float, target: float) -> np.ndarray:
    if rate == target or not len(samples):
        return samples
    return soxr.resample(samples, rate, target, quality="VHQ")


def trim_silence(
    samples: np.ndarray, rate: int, *, top_db: float, margin: float
) -> tuple[np.ndarray, float]:
    """Cut leading and trailing audio quieter than ``top_db`` below the clip's
    loudest frame, keeping ``margin`` seconds on each side. Returns the clip and
    the seconds removed. A clip with nothing above the threshold is left whole.

    The analysis frame is about 32 ms (hop 8 ms), so the kept margin is exact to
    within one frame.
    """
    import librosa

    frame = 2 ** math.ceil(math.log2(0.032 * rate))
    hop = frame // 4
    mono = samples.mean(axis=1)
    if len(mono) < frame:
        return samples, 0.0
    _, (start, end) = librosa.effects.trim(mono, top_db=top_db, frame_length=frame, hop_length=hop)
    if end <= start:
        return samples, 0.0
    keep = round(margin * rate)
    start, end = max(0, int(start) - keep), min(len(mono), int(end) + keep)
    return samples[start:end], (len(mono) - (end - start)) / rate


def integrated_loudness(samples: np.ndarray, rate: int) -> float:
    """LUFS (BS.1770 gated). A clip shorter than one gating block is measured
    looped to one block, so short clips are normalised like long ones."""
    import pyloudnorm

    if not len(samples):
        return float("-inf")
    minimum = math.ceil(LOUDNESS_BLOCK * rate) + 1
    if len(samples) < minimum:
        samples = np.resize(samples, (minimum, samples.shape[1]))
    return float(pyloudnorm.Meter(rate).integrated_loudness(samples))


def true_peak(samples: np.ndarray, rate: int) -> float:
    """Linear true peak: the largest magnitude of the 4x oversampled signal."""
    if not len(samples):
        return 0.0
    over = soxr.resample(samples, rate, rate * OVERSAMPLING, quality="VHQ")
    return float(max(np.abs(over).max(), np.abs(samples).max()))


def _peak_per_sample(samples: np.ndarray, rate: int) -> np.ndarray:
    """The true peak around each sample (over its 4 oversampled points and channels)."""
    n = len(samples)
    over = np.abs(soxr.resample(samples, rate, rate * OVERSAMPLING, quality="VHQ")).max(axis=1)
    grid = np.zeros(n * OVERSAMPLING)
    grid[: min(len(over), len(grid))] = over[: len(grid)]
    # Linked channels: one gain for all, so a stereo image stays where it was.
    return np.maximum(grid.reshape(n, OVERSAMPLING).max(axis=1), np.abs(samples).max(axis=1))


def limit_true_peak(samples: np.ndarray, rate: int, ceiling: float) -> tuple[np.ndarray, bool]:
    """A look-ahead peak limiter: gain only around the peaks that exceed ``ceiling``.

    The gain each sample needs is taken from the oversampled signal; a moving
    minimum then a moving average over the same window make the gain smooth
    and never above what any sample in reach needs. A last uniform scale covers
    the rare inter-sample overshoot the smoothing leaves.
    """
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    limited = False
    for _ in range(3):
        peak = _peak_per_sample(samples, rate)
        if peak.max() <= ceiling:
            return samples, limited
        limited = True
        need = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
        width = 2 * max(1, round(LIMITER_WINDOW * rate)) + 1
        gain = minimum_filter1d(need, width, mode="nearest")
        gain = uniform_filter1d(gain, width, mode="nearest")
        samples = samples * gain[:, None]
    peak = true_peak(samples, rate)
    if peak > ceiling:
        samples = samples * (ceiling / peak)
    return samples, True


def normalise_loudness(
    samples: np.ndarray, rate: int, *, target_lufs: float, true_peak_dbtp: float
) -> tuple[np.ndarray, bool]:
    """Gain to ``target_lufs``, peaks limited to ``true_peak_dbtp``. Returns the
    clip and whether the limiter acted. Silence (no measurable loudness) is left
    as it is."""
    ceiling = 10 ** ((true_peak_dbtp - PEAK_HEADROOM_DB) / 20)
    measured = integrated_loudness(samples, rate)
    if not math.isfinite(measured):
        return samples, False
    limited = False
    for _ in range(4):
        samples = samples * 10 ** ((target_lufs - measured) / 20)
        samples, hit = limit_true_peak(samples, rate, ceiling)
        limited |= hit
        measured = integrated_loudness(samples, rate)
        if not hit or abs(measured - target_lufs) < 0.05:
            break
    return samples, limited


def speed_perturb(samples: np.ndarray, rate: int, factor: float) -> np.ndarray:
    """Play ``factor`` times faster: resample to rate / factor, keep the rate label."""
    return resample(samples, rate, rate / factor)


def coloured_noise(frames: int, channels: int, colour: str, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with power falling as 1/f^a (white 0, pink 1, brown 2), unit RMS."""
    white = rng.standard_normal((frames, channels))
    slope = NOISE_COLOURS[colour]
    if slope and frames > 1:
        spectrum = np.fft.rfft(white, axis=0)
        freqs = np.fft.rfftfreq(frames)
        freqs[0] = freqs[1]  # no infinite DC gain
        spectrum *= (freqs ** (-slope / 2))[:, None]
        white = np.fft.irfft(spectrum, n=frames, axis=0)
        white -= white.mean(axis=0)
    rms = np.sqrt(np.mean(white**2))
    return white / rms if rms > 0 else white


def loop_noise(noise: np.ndarray, frames: int, channels: int, rng: np.random.Generator):
    """``frames`` of a noise recording from a random offset, looped if shorter."""
    noise = set_channels(noise, channels)
    start = int(rng.integers(len(noise)))
    return np.take(noise, np.arange(start, start + frames), axis=0, mode="wrap")


def mix_at_snr(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``signal + g * noise`` with 10 log10(P_signal / P_noise) = ``snr_db``, powers
    over the whole clip. Scaled down as a whole if it would clip (the SNR holds)."""
    p_signal = float(np.mean(signal**2))
    p_noise = float(np.mean(noise**2))
    if p_signal == 0 or p_noise == 0:
        return signal
    mixed = signal + noise * math.sqrt(p_signal / (p_noise * 10 ** (snr_db / 10)))
    peak = float(np.abs(mixed).max())
    return mixed * (0.999 / peak) if peak > 0.999 else mixed


# --- one clip -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rendered:
    """One encoded clip: the original (``augmentation`` empty) or an augmented copy."""

    data: bytes
    num_samples: int
    sample_rate: int
    channels: int
    augmentation: str = ""  # e.g. "speed=1.1", "noise=pink@10dB"
    suffix: str = ""  # appended to the utterance id: letters and digits only

    @property
    def duration(self) -> float:
        return round(self.num_samples / self.sample_rate, 6)


@dataclass
class Outcome:
    clips: list[Rendered] = field(default_factory=list)
    dropped: str = ""  # why the clip was left out, when it was
    trimmed_seconds: float = 0.0
    limited: bool = False


class NoiseBank:
    """The uploaded noise recordings, decoded and converted once per process."""

    def __init__(self, count: int, fetch: Callable[[int], bytes]) -> None:
        self.count = count
        self.fetch = fetch
        self._cache: dict[tuple[int, int], np.ndarray] = {}

    def get(self, index: int, rate: int) -> np.ndarray:
        key = (index, rate)
        if key not in self._cache:
            samples, source_rate = decode(self.fetch(index))
            self._cache[key] = resample(samples, source_rate, rate)
        return self._cache[key]


def _token(value: float) -> str:
    return f"{value:g}".replace("-", "m").replace(".", "p")


def process_clip(
    data: bytes,
    *,
    clip: str,
    options: Options,
    sample_rate: int,
    audio_format: str,
    augment: bool,
    noise_bank: NoiseBank | None = None,
) -> Outcome:
    """Process one stored clip; with ``augment`` (train split), add its copies."""
    samples, rate = decode(data)
    samples = resample(set_channels(samples, options.channels), rate, sample_rate)
    outcome = Outcome()
    if options.trim:
        samples, outcome.trimmed_seconds = trim_silence(
            samples, sample_rate, top_db=options.trim_top_db, margin=options.trim_margin
        )
    seconds = len(samples) / sample_rate
    if options.min_duration is not None and seconds < options.min_duration:
        outcome.dropped = "shorter than min_duration"
        return outcome
    if options.max_duration is not None and seconds > options.max_duration:
        outcome.dropped = "longer than max_duration"
        return outcome
    if options.target_lufs is not None:
        samples, outcome.limited = normalise_loudness(
            samples,
            sample_rate,
            target_lufs=options.target_lufs,
            true_peak_dbtp=options.true_peak_dbtp,
        )

    def render(y: np.ndarray, augmentation: str = "", suffix: str = "") -> Rendered:
        return Rendered(
            data=encode(y, sample_rate, audio_format),
            num_samples=len(y),
            sample_rate=sample_rate,
            channels=y.shape[1],
            augmentation=augmentation,
            suffix=suffix,
        )

    outcome.clips.append(render(samples))
    if not augment:
        return outcome
    for factor in options.speeds:
        faster = speed_perturb(samples, sample_rate, factor)
        outcome.clips.append(render(faster, f"speed={factor:g}", f"sp{_token(factor)}"))
    for snr in options.noise_snrs:
        name = f"noise={options.noise_source}@{snr:g}dB"
        rng = rng_for(options.seed, clip, name)
        if options.noise_source == NOISE_SET:
            if noise_bank is None or not noise_bank.count:
                raise ProcessingError("the export's noise set is empty")
            noise = noise_bank.get(int(rng.integers(noise_bank.count)), sample_rate)
            noise = loop_noise(noise, len(samples), samples.shape[1], rng)
        else:
            noise = coloured_noise(len(samples), samples.shape[1], options.noise_source, rng)
        suffix = f"{options.noise_source}{_token(snr)}db"
        outcome.clips.append(render(mix_at_snr(samples, noise, snr), name, suffix))
    return outcome
