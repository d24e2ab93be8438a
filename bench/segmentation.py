"""Segmentation benchmark: how well chunks match the sentences actually read.

    .venv/bin/python bench/segmentation.py                 # shared set + bench/out/hard
    .venv/bin/python bench/segmentation.py --sets shared   # only ../shared/data/speech
    .venv/bin/python bench/segmentation.py --sets bench/out/long60  # any folder of recordings
    .venv/bin/python bench/segmentation.py --json out.json

Each recording has a JSON (``sentences`` with ``text``, ``start``, ``end``,
``in_script``) giving the truth. Scoring rules:

* boundary: the cut between two consecutive chunks is the midpoint of the
  first one's end and the next one's start. It is correct if it lies inside a
  true inter-sentence gap, or within 0.25 s of that gap's midpoint; true gaps
  and cuts are matched one to one. Precision, recall and F1 over all files.
* cut in speech: a chunk edge strictly inside a true sentence's
  [start + 0.01, end - 0.01] (one 10 ms envelope hop of tolerance).
* speech lost: seconds of true sentence time covered by no chunk.
* expected text: a chunk with an expected sentence is correct when its speech
  overlaps exactly one spoken sentence (by more than 0.15 s), covers at least
  95 % of it, and that sentence's text is the expected one. "wrong" counts
  the others (including a chunk holding only part of the sentence).
* labelled: share of spoken in-script sentences that got a correct label.

Goals: F1 >= 0.97, no cut in speech, no wrong expected text, on both sets.

Shape: none. Decoding and segmentation are framework-free (recordings/audio/),
run in this process without Django, a database or storage.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from recordings.audio.decode import iter_pcm  # noqa: E402
from recordings.audio.envelope import EnvelopeBuilder  # noqa: E402
from recordings.audio.segment import Segment, segment_speech  # noqa: E402
from recordings.audio.text import split_sentences  # noqa: E402

SETS = {
    "shared": REPO / ".." / "shared" / "data" / "speech",
    "hard": REPO / "bench" / "out" / "hard",
}
TOLERANCE = 0.25
EDGE_TOLERANCE = 0.01
OVERLAP = 0.15
COVER = 0.95


@dataclass
class Score:
    true_gaps: int = 0
    cuts: int = 0
    matched: int = 0
    cuts_in_speech: int = 0
    speech_lost: float = 0.0
    labelled_chunks: int = 0
    wrong_labels: int = 0
    chunks: int = 0
    script_sentences_read: int = 0
    correctly_labelled: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def add(self, other: Score) -> None:
        for name in self.__dataclass_fields__:
            if name != "errors":
                setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors += other.errors

    @property
    def precision(self) -> float:
        return self.matched / self.cuts if self.cuts else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.true_gaps if self.true_gaps else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def summary(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "cuts_in_speech": self.cuts_in_speech,
            "speech_lost_seconds": round(self.speech_lost, 3),
            "chunks": self.chunks,
            "chunks_with_expected_text": self.labelled_chunks,
            "wrong_expected_texts": self.wrong_labels,
            "expected_text_accuracy": round(
                1 - self.wrong_labels / self.labelled_chunks if self.labelled_chunks else 1.0, 4
            ),
            "sentences_labelled": round(
                self.correctly_labelled / self.script_sentences_read
                if self.script_sentences_read
                else 1.0,
                4,
            ),
            "segmentation_seconds": round(self.seconds, 3),
        }


def score(truth: list[dict], segments: list[Segment], sentences: list[str]) -> Score:
    s = Score(chunks=len(segments))
    gaps = [(a["end"], b["start"]) for a, b in itertools.pairwise(truth)]
    cuts = [(a.end + b.start) / 2 for a, b in itertools.pairwise(segments)]
    s.true_gaps, s.cuts = len(gaps), len(cuts)
    used: set[int] = set()
    for cut in cuts:
        for g, (lo, hi) in enumerate(gaps):
            if g in used:
                continue
            if lo <= cut <= hi or abs(cut - (lo + hi) / 2) <= TOLERANCE:
                used.add(g)
                s.matched += 1
                break
    edges = sorted({round(x, 3) for seg in segments for x in (seg.start, seg.end)})
    for x in edges:
        for t in truth:
            if t["start"] + EDGE_TOLERANCE < x < t["end"] - EDGE_TOLERANCE:
                s.cuts_in_speech += 1
                s.errors.append(f"edge {x:.2f} inside {t['text'][:30]!r}")
    for t in truth:
        covered = sum(
            max(0.0, min(t["end"], seg.end) - max(t["start"], seg.start)) for seg in segments
        )
        s.speech_lost += max(0.0, (t["end"] - t["start"]) - covered)
    labelled_ok: set[int] = set()
    for seg in segments:
        if seg.sentence is None:
            continue
        s.labelled_chunks += 1
        over = [
            (k, t)
            for k, t in enumerate(truth)
            if min(t["end"], seg.speech_end) - max(t["start"], seg.speech_start) > OVERLAP
        ]
        whole = bool(over) and (
            min(over[0][1]["end"], seg.end) - max(over[0][1]["start"], seg.start)
            >= COVER * (over[0][1]["end"] - over[0][1]["start"])
        )
        if len(over) == 1 and whole and over[0][1]["text"] == sentences[seg.sentence]:
            labelled_ok.add(over[0][0])
        else:
            s.wrong_labels += 1
            held = " + ".join(t["text"][:25] for _, t in over) or "nothing"
            s.errors.append(f"label {sentences[seg.sentence][:25]!r} on {held!r}")
    s.script_sentences_read = sum(1 for t in truth if t["in_script"])
    s.correctly_labelled = len(labelled_ok)
    return s


def run_file(meta_path: Path) -> tuple[Score, dict]:
    meta = json.loads(meta_path.read_text())
    audio = meta_path.with_name(meta["file"])
    sentences = split_sentences(meta["script"])
    builder = EnvelopeBuilder()
    with iter_pcm(audio, block_seconds=5.0, max_seconds=4 * 3600) as stream:
        for block in stream:
            builder.update(block)
    env = builder.result()
    t0 = time.perf_counter()
    result = segment_speech(env, sentences, meta.get("lang"))
    elapsed = time.perf_counter() - t0
    sc = score(meta["sentences"], result.segments, sentences)
    sc.seconds = elapsed
    info = {
        "aligned": result.aligned,
        "reason": result.reason,
        "skipped": result.skipped,
        "cps": round(result.stats.get("chars_per_second", 0.0), 2),
    }
    return sc, info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="segmentation benchmark")
    parser.add_argument("--sets", default="shared,hard")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    parser.add_argument("--verbose", action="store_true", help="list every error")
    args = parser.parse_args(argv)
    summary: dict[str, dict] = {}
    header = (
        f"{'recording':26s} {'F1':>6s} {'P':>6s} {'R':>6s} {'inSp':>5s} {'lost':>6s} "
        f"{'chunks':>6s} {'lab':>4s} {'wrong':>5s} {'ms':>6s}  note"
    )
    for name in args.sets.split(","):
        folder = (SETS[name] if name in SETS else Path(name)).resolve()
        files = sorted(folder.glob("*.json"))
        if not files:
            hint = " (run bench/data/make_hard_set.py)" if name == "hard" else ""
            print(f"[{name}] no recordings in {folder}{hint}")
            continue
        print(f"\n[{name}] {folder}\n{header}")
        total = Score()
        for f in files:
            sc, info = run_file(f)
            total.add(sc)
            note = "" if info["aligned"] else f"fallback: {info['reason']}"
            if info["skipped"]:
                note += f" skipped={info['skipped']}"
            print(
                f"{f.stem:26s} {sc.f1:6.3f} {sc.precision:6.3f} {sc.recall:6.3f} "
                f"{sc.cuts_in_speech:5d} {sc.speech_lost:6.2f} {sc.chunks:6d} "
                f"{sc.labelled_chunks:4d} {sc.wrong_labels:5d} {sc.seconds * 1000:6.0f}  "
                f"cps={info['cps']}{' ' + note if note else ''}"
            )
            if args.verbose:
                for err in sc.errors:
                    print(f"    {err}")
        summary[name] = {"recordings": len(files), **total.summary()}
        print(
            f"{'TOTAL':26s} {total.f1:6.3f} {total.precision:6.3f} {total.recall:6.3f} "
            f"{total.cuts_in_speech:5d} {total.speech_lost:6.2f} {total.chunks:6d} "
            f"{total.labelled_chunks:4d} {total.wrong_labels:5d}"
        )
    print("\n" + json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
