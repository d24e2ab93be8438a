"""Synthesise a hard read-speech set for the segmentation bench.

Each recording reads a script with espeak-ng the way volunteers actually do:
comma pauses that are longer than some sentence pauses, a skipped sentence, a
repeated sentence, an extra remark that is not in the script, a whole
unscripted sentence in a short script, a long break, background noise, a
recording far too quiet. Audio is WebM/Opus (what browsers
upload), encoded with the imageio-ffmpeg binary; each file gets a JSON in the
format of ../shared/data/speech (``script``, ``sentences`` with ``text``,
``start``, ``end``, ``in_script``, ``duration``), times measured on the
synthesised waveform itself, so they are exact.

Bench only: needs ``espeak-ng`` (``apt-get install -y espeak-ng``).

    .venv/bin/python bench/data/make_hard_set.py            # -> bench/out/hard/
    .venv/bin/python bench/data/make_hard_set.py --out DIR --seed 7
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile

REPO = Path(__file__).resolve().parents[2]
SR = 48000

# Sentences written for this bench (public domain). Varied lengths; several
# carry commas, which readers pause at.
SENTENCES: dict[str, list[str]] = {
    "en": [
        "The morning train was late again.",
        "After the rain stopped, the children ran outside to play in the puddles.",
        "She opened the window.",
        "My grandfather, who was a carpenter, built this table by hand.",
        "We need milk, bread, and a dozen eggs from the market.",
        "The library closes early on Sundays.",
        "Although the road was narrow, the bus driver never slowed down.",
        "It was cold.",
        "The old lighthouse stands at the edge of the cliff, facing the sea.",
        "He forgot his umbrella at the station.",
        "When the festival begins, the whole town fills with music and lights.",
        "Please turn off the lights before you leave.",
        "The cat slept all afternoon.",
        "Our teacher, a patient woman, explained the lesson twice.",
        "The river flooded the fields last spring.",
        "If you listen carefully, you can hear the birds in the trees.",
        "I will call you tomorrow.",
        "The bakery on the corner sells fresh bread every morning.",
        "Yesterday, after a long day at work, I cooked rice and lentils for dinner.",
        "The stars were bright.",
    ],
    "bn": [
        "আজ সকালে খুব বৃষ্টি হয়েছে।",
        "বৃষ্টি থামার পরে, শিশুরা মাঠে খেলতে গেল।",
        "আমি বই পড়তে ভালোবাসি।",
        "আমার দাদা, যিনি একজন কৃষক ছিলেন, নিজের হাতে এই ঘর বানিয়েছেন।",
        "বাজার থেকে চাল, ডাল আর কিছু সবজি আনতে হবে।",
        "নদীর ধারে একটি পুরনো মন্দির আছে।",
        "রাস্তা সরু হলেও, বাসচালক গতি কমালেন না।",
        "আজ খুব ঠান্ডা।",
        "সন্ধ্যায় আমরা সবাই মিলে চা খাই।",
        "ট্রেনটি আবার দেরিতে এসেছে।",
        "উৎসব শুরু হলে, পুরো শহর গান আর আলোয় ভরে যায়।",
        "বের হওয়ার আগে বাতি নিভিয়ে দিও।",
        "বিড়ালটি সারা দুপুর ঘুমিয়েছে।",
        "আমাদের শিক্ষক, একজন ধৈর্যশীল মানুষ, পাঠটি দুবার বুঝিয়ে দিলেন।",
        "গত বসন্তে নদীর পানি খেত ভাসিয়ে দিয়েছিল।",
        "মন দিয়ে শুনলে, গাছে পাখির ডাক শোনা যায়।",
        "আমি কাল তোমাকে ফোন করব।",
        "মোড়ের দোকানটি প্রতিদিন সকালে তাজা রুটি বিক্রি করে।",
        "গতকাল, অফিসে লম্বা দিনের পরে, আমি রাতের জন্য ভাত আর ডাল রান্না করেছি।",
        "আকাশে তারা জ্বলছে।",
    ],
    "hi": [
        "आज सुबह बहुत बारिश हुई।",
        "बारिश रुकने के बाद, बच्चे मैदान में खेलने गए।",
        "मुझे किताबें पढ़ना पसंद है।",
        "मेरे दादाजी, जो एक किसान थे, ने यह घर अपने हाथों से बनाया।",
        "बाज़ार से चावल, दाल और कुछ सब्ज़ियाँ लानी हैं।",
        "नदी के किनारे एक पुराना मंदिर है।",
        "आज बहुत ठंड है।",
        "शाम को हम सब साथ में चाय पीते हैं।",
        "ट्रेन फिर से देर से आई।",
        "त्योहार शुरू होते ही, पूरा शहर संगीत और रोशनी से भर जाता है।",
        "जाने से पहले बत्ती बंद कर देना।",
        "बिल्ली पूरी दोपहर सोती रही।",
        "हमारी शिक्षिका, जो बहुत धैर्यवान हैं, ने पाठ दो बार समझाया।",
        "मैं कल तुम्हें फ़ोन करूँगा।",
        "कोने की दुकान हर सुबह ताज़ी रोटी बेचती है।",
        "आसमान में तारे चमक रहे हैं।",
    ],
    "es": [
        "El tren de la mañana llegó tarde otra vez.",
        "Cuando paró la lluvia, los niños salieron a jugar en los charcos.",
        "Ella abrió la ventana.",
        "Mi abuelo, que era carpintero, hizo esta mesa a mano.",
        "Necesitamos leche, pan y una docena de huevos del mercado.",
        "La biblioteca cierra temprano los domingos.",
        "Hacía frío.",
        "El viejo faro está al borde del acantilado, frente al mar.",
        "Olvidó su paraguas en la estación.",
        "Cuando empieza la fiesta, todo el pueblo se llena de música y luces.",
        "Por favor, apaga las luces antes de salir.",
        "El gato durmió toda la tarde.",
        "Nuestra maestra, una mujer paciente, explicó la lección dos veces.",
        "Te llamaré mañana.",
        "La panadería de la esquina vende pan fresco cada mañana.",
        "Las estrellas brillaban.",
    ],
}

# What readers say that is not in the script.
ASIDES: dict[str, list[str]] = {
    "en": ["Sorry, let me read that one again.", "Hold on, my phone is ringing."],
    "bn": ["দুঃখিত, আবার পড়ছি।", "এক মিনিট অপেক্ষা করুন, ফোন বাজছে।"],
    "hi": ["माफ़ कीजिए, मैं फिर से पढ़ता हूँ।", "एक मिनट रुकिए, फ़ोन बज रहा है।"],
    "es": ["Perdón, lo leo otra vez.", "Un momento, está sonando mi teléfono."],
}
VOICES = {"en": "en-us", "bn": "bn", "hi": "hi", "es": "es"}

SCENARIOS = (
    "clean",
    "fluent",
    "long_commas",
    "skip",
    "repeat",
    "extra",
    "long_break",
    "noisy",
    "quiet",
    "mixed",
    "unscripted",
)


@dataclass
class Spoken:
    text: str
    in_script: bool
    audio: np.ndarray
    start: float = 0.0
    end: float = 0.0


@dataclass
class Reader:
    """One synthetic volunteer: voice speed, pitch and pause habits."""

    lang: str
    speed: int
    pitch: int
    sentence_pause: tuple[float, float]
    comma_pause: tuple[float, float]
    rng: random.Random = field(repr=False, default_factory=random.Random)


def espeak(text: str, voice: str, speed: int, pitch: int, tmp: Path) -> np.ndarray:
    """Synthesise ``text`` and trim espeak's own leading/trailing silence."""
    out = tmp / "tts.wav"
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(out), text],
        check=True,
        capture_output=True,
    )
    y, sr = soundfile.read(str(out), dtype="float32")
    if y.ndim > 1:
        y = y.mean(axis=1)
    y = _resample(y, sr, SR)
    loud = np.flatnonzero(np.abs(y) > 0.01 * np.abs(y).max())
    return y[loud[0] : loud[-1] + 1] if loud.size else y


def _resample(y: np.ndarray, sr: int, target: int) -> np.ndarray:
    from scipy.signal import resample_poly

    g = np.gcd(sr, target)
    return resample_poly(y, target // g, sr // g).astype(np.float32)


def say(text: str, reader: Reader, tmp: Path) -> np.ndarray:
    """Read one sentence, pausing at commas as long as this reader does."""
    voice = VOICES[reader.lang]
    clauses = [c.strip() for c in text.replace("،", ",").split(",") if c.strip()]
    parts: list[np.ndarray] = []
    speed = int(reader.speed * reader.rng.uniform(0.92, 1.08))
    for k, clause in enumerate(clauses):
        if k:
            parts.append(np.zeros(int(reader.rng.uniform(*reader.comma_pause) * SR), np.float32))
        parts.append(espeak(clause, voice, speed, reader.pitch, tmp))
    return np.concatenate(parts)


def build(name: str, lang: str, scenario: str, rng: random.Random, tmp: Path, out: Path) -> None:
    pool = SENTENCES[lang]
    # A short script with one whole sentence read that is not in it: the
    # extra sentence is a fifth of the speech and as long as the others.
    n = 5 if scenario == "unscripted" else rng.randint(9, min(14, len(pool)))
    first = rng.randint(0, len(pool) - n)
    script = pool[first : first + n]
    reader = Reader(
        lang=lang,
        speed=rng.randint(135, 175),
        pitch=rng.randint(35, 65),
        sentence_pause=(0.35, 1.1),
        comma_pause=(0.45, 0.9),
        rng=rng,
    )
    if scenario == "fluent":
        reader.sentence_pause, reader.comma_pause = (0.2, 0.4), (0.15, 0.35)
    if scenario in ("long_commas", "mixed"):
        reader.sentence_pause, reader.comma_pause = (0.3, 0.9), (0.7, 1.3)

    spoken: list[Spoken] = [Spoken(s, True, say(s, reader, tmp)) for s in script]
    long_break_after: int | None = None
    if scenario in ("skip", "mixed"):
        del spoken[rng.randint(1, len(spoken) - 2)]
    if scenario == "skip" and rng.random() < 0.5:
        del spoken[rng.randint(1, len(spoken) - 2)]
    if scenario in ("repeat", "mixed"):
        k = rng.randint(1, len(spoken) - 2)
        spoken.insert(k + 1, Spoken(spoken[k].text, True, say(spoken[k].text, reader, tmp)))
    if scenario in ("extra", "mixed"):
        aside = rng.choice(ASIDES[lang])
        spoken.insert(
            rng.randint(1, len(spoken) - 1), Spoken(aside, False, say(aside, reader, tmp))
        )
    if scenario == "unscripted":
        typical = sorted(len(t) for t in script)[len(script) // 2]
        others = [t for t in pool if t not in script and 0.7 * typical <= len(t) <= 1.5 * typical]
        text = rng.choice(others)
        spoken.insert(rng.randint(1, len(spoken) - 1), Spoken(text, False, say(text, reader, tmp)))
    if scenario in ("long_break", "mixed"):
        long_break_after = rng.randint(1, len(spoken) - 2)

    pieces = [np.zeros(int(rng.uniform(0.3, 1.0) * SR), np.float32)]
    t = len(pieces[0]) / SR
    for k, item in enumerate(spoken):
        item.start = t
        pieces.append(item.audio)
        t += len(item.audio) / SR
        item.end = t
        pause = rng.uniform(*reader.sentence_pause)
        if k == long_break_after:
            pause = rng.uniform(6.0, 20.0)
        if k == len(spoken) - 1:
            pause = rng.uniform(0.4, 1.2)
        pieces.append(np.zeros(int(pause * SR), np.float32))
        t += len(pieces[-1]) / SR
    y = np.concatenate(pieces)
    y *= 0.5 / max(1e-6, float(np.abs(y).max()))
    nrng = np.random.default_rng(rng.randint(0, 2**31))
    if scenario in ("noisy", "mixed"):
        # Pink-ish room noise ~15 dB below the speech level.
        white = nrng.standard_normal(y.size).astype(np.float32)
        pink = np.convolve(white, np.ones(8, np.float32) / 8, mode="same")
        speech_rms = float(np.sqrt(np.mean(y[np.abs(y) > 0.01] ** 2)))
        y += pink * (speech_rms / float(np.sqrt(np.mean(pink**2)))) * 10 ** (-15 / 20)
    elif scenario == "quiet":
        y *= 10 ** (-30 / 20)
        y += nrng.standard_normal(y.size).astype(np.float32) * 10 ** (-80 / 20)
    else:
        y += nrng.standard_normal(y.size).astype(np.float32) * 10 ** (-70 / 20)

    with tempfile.NamedTemporaryFile(suffix=".wav", dir=tmp) as wav:
        soundfile.write(wav.name, y, SR, subtype="FLOAT")
        audio = out / f"{name}.webm"
        from imageio_ffmpeg import get_ffmpeg_exe

        subprocess.run(
            [
                get_ffmpeg_exe(),
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-i",
                wav.name,
                "-c:a",
                "libopus",
                "-b:a",
                "32k",
                "-f",
                "webm",
                str(audio),
            ],
            check=True,
        )
    meta = {
        "name": name,
        "file": f"{name}.webm",
        "lang": lang,
        "scenario": scenario,
        "script": " ".join(script),
        "sentences": [
            {
                "text": s.text,
                "start": round(s.start, 3),
                "end": round(s.end, 3),
                "in_script": s.in_script,
            }
            for s in spoken
        ],
        "duration": round(len(y) / SR, 3),
    }
    (out / f"{name}.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "hard")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--langs", default="bn,en,hi,es")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        print("espeak-ng is not installed: apt-get install -y espeak-ng", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    count = 0
    with tempfile.TemporaryDirectory() as tmpdir:
        for lang in args.langs.split(","):
            for scenario in args.scenarios.split(","):
                rng = random.Random(f"{args.seed}-{lang}-{scenario}")
                build(f"{lang}_{scenario}", lang, scenario, rng, Path(tmpdir), args.out)
                count += 1
    print(f"wrote {count} recordings to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
