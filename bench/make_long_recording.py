"""Build a long read-speech recording (+ JSON truth) from the shared recordings.

For the pipeline benchmark: decode, quality, segmentation and chunk encoding on
a 10- or 60-minute upload. The shared recordings are concatenated in turn
with reader-like pauses between them (and a long break now and then), gains
varied a little, and streamed into ffmpeg as they are generated, so even the
60-minute build never holds the audio in memory. Output is WebM/Opus like a
browser upload, plus a JSON in the ../shared/data/speech format whose script
is the concatenation of the scripts read.

    .venv/bin/python bench/make_long_recording.py                  # 10 min
    .venv/bin/python bench/make_long_recording.py --minutes 60
    .venv/bin/python bench/make_long_recording.py --minutes 60 --out bench/out/long60

It measures nothing itself: it makes the input of bench/pipeline.py.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from recordings.audio.decode import ffmpeg_exe, iter_pcm  # noqa: E402

SHARED = REPO / ".." / "shared" / "data" / "speech"
SR = 16000


def _load(meta_path: Path) -> tuple[dict, np.ndarray]:
    meta = json.loads(meta_path.read_text())
    with iter_pcm(meta_path.with_name(meta["file"]), sample_rate=SR, block_seconds=5) as pcm:
        audio = np.concatenate(list(pcm))
    return meta, audio


def build(minutes: float, out: Path, seed: int) -> dict:
    sources = [_load(p) for p in sorted(SHARED.resolve().glob("*.json"))]
    if not sources:
        raise SystemExit(f"no recordings in {SHARED.resolve()}")
    rng = random.Random(seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    audio_path = out.with_suffix(".webm")
    encoder = subprocess.Popen(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "f32le",
            "-ar",
            str(SR),
            "-ac",
            "1",
            "-i",
            "pipe:0",
            "-c:a",
            "libopus",
            "-b:a",
            "24k",
            "-f",
            "webm",
            str(audio_path),
        ],
        stdin=subprocess.PIPE,
    )
    assert encoder.stdin is not None
    target = minutes * 60.0
    t = 0.0
    scripts: list[str] = []
    sentences: list[dict] = []
    k = 0
    noise_rng = np.random.default_rng(seed)
    try:
        while t < target:
            meta, audio = sources[k % len(sources)]
            k += 1
            # Trim the source's own lead-in/out silence to the first/last
            # sentence, then add our own pause so timings stay exact.
            first, last = meta["sentences"][0]["start"], meta["sentences"][-1]["end"]
            piece = audio[int((first - 0.05) * SR) : int((last + 0.05) * SR)]
            pause = rng.uniform(0.8, 2.0) if rng.random() > 0.05 else rng.uniform(5.0, 15.0)
            silence = (noise_rng.standard_normal(int(pause * SR)) * 1e-4).astype(np.float32)
            gain = 10 ** (rng.uniform(-4.0, 2.0) / 20)
            encoder.stdin.write(silence.tobytes())
            t += silence.size / SR
            offset = t - (first - 0.05)
            encoder.stdin.write((piece * gain).astype(np.float32).tobytes())
            for s in meta["sentences"]:
                sentences.append(
                    {
                        **s,
                        "start": round(s["start"] + offset, 3),
                        "end": round(s["end"] + offset, 3),
                    }
                )
            scripts.append(meta["script"])
            t += piece.size / SR
        tail = np.zeros(int(0.8 * SR), np.float32)
        encoder.stdin.write(tail.tobytes())
        t += tail.size / SR
    finally:
        encoder.stdin.close()
        encoder.wait()
    if encoder.returncode != 0:
        raise SystemExit(f"ffmpeg failed ({encoder.returncode})")
    langs = {m["lang"] for m, _ in sources}
    meta_out = {
        "name": out.name,
        "file": audio_path.name,
        "lang": langs.pop() if len(langs) == 1 else "mul",
        "script": " ".join(scripts),
        "sentences": sentences,
        "duration": round(t, 3),
    }
    out.with_suffix(".json").write_text(json.dumps(meta_out, ensure_ascii=False, indent=1))
    return meta_out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--out", type=Path, help="output path without extension")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    out = args.out or REPO / "bench" / "out" / f"long{args.minutes:g}min"
    meta = build(args.minutes, out, args.seed)
    size = out.with_suffix(".webm").stat().st_size
    print(
        f"wrote {out.with_suffix('.webm')} ({meta['duration'] / 60:.1f} min, "
        f"{len(meta['sentences'])} sentences, {size / 1e6:.1f} MB) and its JSON"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
