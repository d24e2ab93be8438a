"""Hostile audio: what refusing each file of the hostile corpus costs, against the
longest honest upload, measured in the same run.

Every file of ``recordings.tests.hostile_audio.CORPUS`` (decompression bombs,
lying headers, hundreds of streams, non-audio with audio names) goes through
the upload check and the worker's decode in a child process under the same
address-space cap as the test suite (``python -m recordings.tests.hostile_audio``),
which reports each file's wall time and the peak RSS of the child and of its
ffmpeg children. The reference is an honest webm/opus reading as long as the
decode cap allows (40 s), decoded by the same child right before the corpus,
after one warm-up pass that pays the imports.

Prints each file's outcome, seconds, ratio to the reference, peak RSS and
ffmpeg RSS. Goals: no file costs more than 2x the honest upload (a refusal
should be cheaper than accepting); the child's peak RSS stays within 256 MB
of the reference's; no ffmpeg child holds more than 300 MB.

Shape: none. The upload check and the decode are framework-free
(recordings/audio/), run in a child process without Django, a database or
storage, under the test suite's address-space cap.

    .venv/bin/python bench/hostile_audio.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recordings.tests.audio_files import speechlike  # noqa: E402
from recordings.tests.hostile_audio import CORPUS, MAX_SECONDS  # noqa: E402

# The test suite's cap on the decoding child (its ffmpeg children get their own).
CHILD_AS_BYTES = 3 * 1024**3
GOAL_RATIO = 2.0
GOAL_RSS_GROWTH_MB = 256
GOAL_FFMPEG_MB = 300


def run_child(paths: list[Path]) -> list[dict]:
    env = {**os.environ, "HOSTILE_AS_LIMIT": str(CHILD_AS_BYTES)}
    env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "recordings.tests.hostile_audio", *map(str, paths)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"decoding child failed:\n{done.stderr[-3000:]}")
    return [json.loads(line) for line in done.stdout.splitlines()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="hostile audio benchmark")
    parser.add_argument("--repeat", type=int, default=3, help="runs; medians are printed")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hostile-bench-") as tmp:
        folder = Path(tmp)
        honest = speechlike(folder / "honest.webm", seconds=MAX_SECONDS - 0.5,
                            codec=["-c:a", "libopus"])  # fmt: skip
        corpus = {name: make(folder) for name, make in CORPUS.items()}
        runs = []
        for _ in range(args.repeat):
            # The honest file twice: the first pass pays the imports.
            _, reference, *rest = run_child([honest, honest, *corpus.values()])
            runs.append((reference, rest))

    def median(rows: list[dict], key: str) -> float:
        return statistics.median(row[key] for row in rows)

    references = [reference for reference, _ in runs]
    ref_s, ref_rss = median(references, "seconds"), median(references, "rss_mb")
    ref_ffmpeg = median(references, "ffmpeg_rss_mb")
    print(f"reference: honest {MAX_SECONDS - 0.5:.0f} s webm/opus, {references[0]['worker']}; "
          f"{ref_s:.2f} s, child {ref_rss:.0f} MB, ffmpeg {ref_ffmpeg:.0f} MB "
          f"(median of {len(runs)})")  # fmt: skip
    print(f"{'file':<36} {'worker outcome':<44} {'s':>6} {'ratio':>6} {'RSS':>5} "
          f"{'+RSS':>5} {'ffmpeg':>6}")  # fmt: skip
    over = []
    for i, name in enumerate(corpus):
        rows = [rest[i] for _, rest in runs]
        seconds, rss, ffmpeg_mb = (median(rows, k) for k in ("seconds", "rss_mb", "ffmpeg_rss_mb"))
        ratio = seconds / ref_s
        marks = []
        if ratio > GOAL_RATIO:
            marks.append("time")
        if rss - ref_rss > GOAL_RSS_GROWTH_MB:
            marks.append("RSS")
        if ffmpeg_mb > GOAL_FFMPEG_MB:
            marks.append("ffmpeg")
        if marks:
            over.append(f"{name}: {', '.join(marks)}")
        print(f"{name:<36} {rows[0]['worker'][:44]:<44} {seconds:>6.2f} {ratio:>6.2f} "
              f"{rss:>5.0f} {rss - ref_rss:>+5.0f} {ffmpeg_mb:>6.0f}"
              f"{'  over goal: ' + ', '.join(marks) if marks else ''}")  # fmt: skip
    print(f"goals: ratio <= {GOAL_RATIO}, +RSS <= {GOAL_RSS_GROWTH_MB} MB, "
          f"ffmpeg <= {GOAL_FFMPEG_MB} MB; {len(over)} file(s) over")  # fmt: skip
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
