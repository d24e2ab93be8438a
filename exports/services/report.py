"""What an export says about itself: totals per split and language, what was left
out and why, the datasheet (README.md), stats.json and SHA256SUMS."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter, defaultdict

from django.conf import settings
from django.utils.translation import gettext_noop

from exports import datasheet, splits
from exports.formats import Item, is_tiered
from exports.formats.huggingface import HuggingFaceWriter, card_yaml
from exports.models import Export
from exports.services import lifecycle, membership
from exports.services.planning import Speaker, options
from exports.uploads import ExportSink
from recordings.models import Language
from transcriptions.normalize import tokenize


class Stats:
    """Streaming totals of what was actually written (O(speakers) memory)."""

    def __init__(self, split_names: list[str]) -> None:
        self.clips = Counter()
        self.seconds = defaultdict(float)
        self.speakers: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.lang_speakers: dict[str, dict[str, Speaker]] = defaultdict(dict)
        self.split_names = split_names
        self.dropped = Counter()
        self.dropped_seconds = 0.0
        # Processed exports only: augmented copies per kind, and processing figures.
        self.augmented: Counter = Counter()
        self.augmented_seconds: dict[str, float] = defaultdict(float)
        self.processing: Counter = Counter()
        # Per status (validated, accepted, ...), clips as contributed (no
        # augmented copies): clips, seconds, words, and expected wrong words
        # over the words of clips with a confidence.
        self.tiers: dict[str, Counter] = defaultdict(Counter)

    def add(self, item: Item) -> None:
        if item.augmentation:
            self.augmented[item.augmentation] += 1
            self.augmented_seconds[item.augmentation] += item.duration
        else:
            self._add_tier(item)
        for key in ((item.split, item.language), (item.split, "*"), ("*", item.language)):
            self.clips[key] += 1
            self.seconds[key] += item.duration
            self.speakers[key].add(item.speaker)
        self.clips["*", "*"] += 1
        self.seconds["*", "*"] += item.duration
        self.speakers["*", "*"].add(item.speaker)
        self.lang_speakers[item.language][item.speaker] = Speaker(
            pseudonym=item.speaker,
            split=item.split,
            gender=item.gender,
            age=item.age,
            native_language=item.native_language,
            dialect=item.dialect,
        )

    def _add_tier(self, item: Item) -> None:
        tier = self.tiers[item.status]
        tier["clips"] += 1
        tier["seconds"] += item.duration
        if item.confidence is not None:
            # The engine's confidence is 1 − estimated WER of the clip's text.
            words = len(tokenize(item.text))
            tier["words"] += words
            tier["expected_errors"] += max(0.0, 1.0 - item.confidence) * words

    def tier_figures(self) -> dict:
        return {
            status: {
                "clips": tier["clips"],
                "seconds": round(tier["seconds"], 3),
                "hours": round(tier["seconds"] / 3600, 4),
                "words": tier["words"],
                "estimated_wer": (
                    round(tier["expected_errors"] / tier["words"], 4) if tier["words"] else None
                ),
            }
            for status, tier in sorted(self.tiers.items())
        }

    def drop(self, reason: str, seconds: float, clips: int = 1) -> None:
        self.dropped[reason] += clips
        self.dropped_seconds += seconds

    def figures(self, key) -> dict:
        return {
            "clips": self.clips[key],
            "seconds": round(self.seconds[key], 3),
            "hours": round(self.seconds[key] / 3600, 4),
            "speakers": len(self.speakers[key]),
        }

    def as_dict(self, *, language_names: dict[str, str]) -> dict:
        languages = sorted(code for (s, code) in self.clips if s == "*" and code != "*")
        result = {
            "totals": self.figures(("*", "*")),
            "tiers": self.tier_figures(),
            "splits": {},
            "languages": {},
            "dropped": {
                "clips": sum(self.dropped.values()),
                "seconds": round(self.dropped_seconds, 3),
                "reasons": dict(sorted(self.dropped.items())),
            },
        }
        for split in self.split_names:
            figures = self.figures((split, "*"))
            figures["languages"] = {
                code: self.figures((split, code)) for code in languages if self.clips[split, code]
            }
            result["splits"][split] = figures
        for code in languages:
            entry = {"name": language_names.get(code, code), **self.figures(("*", code))}
            people = self.lang_speakers[code].values()
            if len(self.lang_speakers[code]) >= datasheet.MIN_SPEAKERS_FOR_DEMOGRAPHICS:
                entry["demographics"] = {
                    "gender": dict(sorted(Counter(p.gender for p in people).items())),
                    "age": dict(sorted(Counter(p.age for p in people).items())),
                    "accent": dict(sorted(Counter(p.dialect for p in people).items())),
                }
            else:
                entry["demographics"] = None  # suppressed: too few people to hide in
            result["languages"][code] = entry
        return result


def finish(export: Export, token, spec: splits.SplitSpec, sink: ExportSink, writers, stats: Stats):
    """Close the manifests, write the datasheet, stats.json and SHA256SUMS, and mark
    the export done."""
    for writer in writers:
        writer.finish()
    delta = membership.load_delta(export)
    if delta is not None:
        removed, delta_figures = delta
        sink.put_file(membership.REMOVED, removed)
    sink.wait()
    # A delta that only removes clips is still worth its removed.tsv.
    if not stats.clips["*", "*"] and not (delta and delta_figures["ids_removed"]):
        raise lifecycle.ExportEmptyError(
            gettext_noop("Every matching clip was left out; nothing to export.")
        )

    lifecycle.progress(export.id, token, step="Writing the datasheet and checksums")
    figures = stats_document(export, spec, stats)
    if delta is not None:
        figures["delta"] = delta_figures
    card = ""
    parquet = next((w for w in writers if isinstance(w, HuggingFaceWriter)), None)
    if parquet is not None:
        card = card_yaml(
            sample_rate=export.sample_rate,
            splits=figures["splits"],
            augmented=options(export).augments,
            tiered=is_tiered(export.filters.get("statuses")),
            num_bytes=parquet.num_bytes,
            download_size=sum(f["size"] for f in sink.listed if f["path"].startswith("data/")),
            audio=export.audio,
        )
    readme = datasheet.render(stats=figures, card_yaml=card)
    sink.put_bytes("README.md", readme.encode(), listed=True)
    sink.put_bytes(
        "stats.json",
        json.dumps(figures, indent=2, ensure_ascii=False).encode(),
        listed=True,
    )
    sink.wait()
    sink.write_checksums()
    sink.wait()
    lifecycle.mark_done(export, token, sink, figures)


def stats_document(export: Export, spec: splits.SplitSpec, stats: Stats) -> dict:
    from consensus.engine.schema import METHOD_VERSION
    from consensus.services import engine_config

    config = engine_config()
    names = dict(Language.objects.values_list("code", "name"))
    figures = stats.as_dict(language_names=names)
    consensus = {
        f.name: getattr(config, f.name)
        for f in dataclasses.fields(config)
        if isinstance(getattr(config, f.name), int | float) and f.name != "audit_salt"
    }
    figures["export"] = {
        "id": str(export.id),
        "version": export.version,
        "created_at": export.created_at.isoformat(),
        "formats": export.formats,
        "audio": export.audio,
        "audio_format": export.audio_format,
        "sample_rate": export.sample_rate,
        "filters": export.filters,
        "split": {
            "ratios": spec.normalized,
            "seed": spec.seed,
            "sentence_disjoint": spec.sentence_disjoint,
        },
    }
    if export.processing:
        figures["export"]["processing"] = export.processing
        figures["processing"] = {
            "augmented": {
                name: {
                    "clips": stats.augmented[name],
                    "seconds": round(stats.augmented_seconds[name], 3),
                }
                for name in sorted(stats.augmented)
            },
            **{key: round(value, 3) for key, value in sorted(stats.processing.items())},
        }
    figures["method"] = {"method_version": METHOD_VERSION, "consensus": consensus}
    figures["licence"] = settings.EXPORT_LICENCE
    figures["citation"] = settings.EXPORT_CITATION or (
        f"Shrutik contributors ({export.created_at:%Y}). Shrutik speech dataset, "
        f"version {export.version}."
    )
    return figures
