"""Offline evaluation on CrowdSpeech-format files (and the Bangla simulation).

Usage (prints one JSON object)::

    python -m consensus.engine.evaluate --crowd ../shared/data/crowdspeech/dev-clean-crowd.tsv \\
        --gt ../shared/data/crowdspeech/dev-clean-gt.txt [--seed 0] [--max-transcripts 5]
    python -m consensus.engine.evaluate --simulate-bangla [--seed 0]

The replay protocol is described in :mod:`.replay`; CrowdSpeech has no
script sentences, so there the prior is always None.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Sequence
from pathlib import Path

from .replay import LANGUAGE_EN, Clip, ReviewQueue, replay
from .schema import EngineConfig
from .simulate import simulate_bangla

__all__ = [
    "add_queue_arguments",
    "evaluate_crowd",
    "load_crowdspeech",
    "main",
    "review_queue",
    "simulate_bangla",
]


def load_crowdspeech(crowd_path: str | Path, gt_path: str | Path) -> list[Clip]:
    """Read CrowdSpeech files: TSV with quoted multi-line fields, and URL TAB reference."""
    references: dict[str, str] = {}
    with open(gt_path, encoding="utf-8", newline="") as handle:
        for line in handle:
            url, _, text = line.rstrip("\r\n").partition("\t")
            if url:
                references[url] = text
    by_clip: dict[str, list[tuple[str, str, frozenset[str]]]] = {}
    with open(crowd_path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        for row in reader:
            url = row["INPUT:audio"]
            by_clip.setdefault(url, []).append(
                (row["ASSIGNMENT:worker_id"], row["OUTPUT:transcription"] or "", frozenset())
            )
    return [
        Clip(clip_id=url, reference=references[url], transcripts=tuple(items))
        for url, items in by_clip.items()
        if url in references
    ]


def evaluate_crowd(
    crowd_path: str | Path,
    gt_path: str | Path,
    *,
    seed: int = 0,
    max_transcripts: int | None = None,
    config: EngineConfig | None = None,
    limit: int | None = None,
    queue: ReviewQueue | None = None,
) -> dict[str, object]:
    """Replay a CrowdSpeech-format split (no script prior exists there)."""
    config = config or EngineConfig()
    if max_transcripts is not None:
        config = config.capped(max_transcripts)
    clips = load_crowdspeech(crowd_path, gt_path)
    if limit is not None:
        clips = clips[:limit]
    report = replay(clips, seed=seed, config=config, language=LANGUAGE_EN, queue=queue)
    report["split"] = Path(crowd_path).name
    report["seed"] = seed
    report["max_transcripts"] = config.max_transcripts
    return report


# A language's reviewers clear this many chunks a day (the platform setting's
# default) while its crowd finishes CLIPS_PER_DAY: the replay's review queue.
REVIEWS_PER_DAY = 50
CLIPS_PER_DAY = 1000


def add_queue_arguments(parser: argparse.ArgumentParser, reviews_per_day: int = REVIEWS_PER_DAY):
    parser.add_argument(
        "--reviews-per-day",
        type=int,
        default=reviews_per_day,
        help="what the language's reviewers clear a day; 0 for no limit",
    )
    parser.add_argument(
        "--clips-per-day",
        type=int,
        default=CLIPS_PER_DAY,
        help="chunks the crowd finishes a day in the replay",
    )


def review_queue(reviews_per_day: int, clips_per_day: int) -> ReviewQueue:
    return ReviewQueue(per_day=reviews_per_day or None, clips_per_day=clips_per_day)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crowd")
    parser.add_argument("--gt")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-transcripts", type=int)
    parser.add_argument("--limit", type=int, help="only the first N clips of the file")
    parser.add_argument("--simulate-bangla", action="store_true")
    add_queue_arguments(parser)
    args = parser.parse_args(argv)
    queue = review_queue(args.reviews_per_day, args.clips_per_day)
    if args.simulate_bangla:
        report = simulate_bangla(seed=args.seed, max_transcripts=args.max_transcripts, queue=queue)
    else:
        if not args.crowd or not args.gt:
            parser.error("--crowd and --gt are required unless --simulate-bangla is given")
        report = evaluate_crowd(
            args.crowd,
            args.gt,
            seed=args.seed,
            max_transcripts=args.max_transcripts,
            limit=args.limit,
            queue=queue,
        )
    print(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main()
