"""What an export will hold, decided before the first clip is written.

Both builds start here: the snapshot of matching chunks, every speaker's split
(stable across the exports of a lineage), the owner split of each sentence
(sentence-disjoint exports only) and how many clips each split will get.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from datetime import datetime

from django.conf import settings
from django.db.models import Count, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext_noop

from exports import datasheet, processing, selectors, splits
from exports.formats import Plan, writer_classes
from exports.models import Export, SpeakerSplit
from exports.pseudonyms import speaker_pseudonym
from exports.services import lifecycle, membership
from shrutik.db import fresh_replica_alias

CHUNK_FIELDS = (
    "id",
    "audio",
    "duration",
    "text",
    "status",
    "confidence",
    "transcriptions_received",
    "language__code",
    "contributor__speaker_id",
)
SPEAKER_FIELDS = (
    "contributor__gender",
    "contributor__age_range",
    "contributor__native_language",
    "contributor__dialect",
)
DEMOGRAPHICS = ("gender", "age", "native_language", "dialect")


@dataclasses.dataclass(frozen=True, slots=True)
class Speaker:
    """A speaker as exported: pseudonymous, with their split and demographics."""

    pseudonym: str
    split: str
    gender: str
    age: str
    native_language: str
    dialect: str

    @classmethod
    def from_row(cls, row: dict, *, pseudonym: str, split: str) -> Speaker:
        """From a row carrying ``SPEAKER_FIELDS``."""
        return cls(
            pseudonym=pseudonym,
            split=split,
            gender=row["contributor__gender"],
            age=row["contributor__age_range"],
            native_language=row["contributor__native_language"],
            dialect=row["contributor__dialect"],
        )


@dataclasses.dataclass
class Planned:
    spec: splits.SplitSpec
    snapshot: datetime
    qs: QuerySet
    speakers: dict[str, Speaker]  # by the contributor's speaker id
    total: int
    owners: dict[str, str] | None
    per_split: dict[str, int]
    # A delta export: the clips (chunk ids, hex) it writes; None writes all.
    include: set[str] | None = None
    small_cohorts: set[str] = dataclasses.field(default_factory=set)

    def wanted(self, rows: list[dict]) -> list[dict]:
        """The rows of a batch this export writes."""
        if self.include is None:
            return rows
        return [row for row in rows if row["id"].hex in self.include]


def split_spec(export: Export) -> splits.SplitSpec:
    return splits.SplitSpec.from_dict(export.split_spec)


def options(export: Export) -> processing.Options:
    return processing.Options.from_dict(export.processing or {})


def uses_clips(export: Export) -> bool:
    classes = writer_classes()
    return any(classes[name].uses_clips for name in export.formats)


def plan(export: Export, token) -> Planned:
    """Splits, sentence owners, the export's membership index and, for a delta,
    the clips it writes (``exports.services.membership``)."""
    spec = split_spec(export)
    snapshot = timezone.now()
    qs = selectors.export_chunks(filters=export.filters, snapshot=snapshot)
    lifecycle.progress(export.id, token, step="Planning splits")
    # The aggregates may come from the replica once it holds everything
    # committed before the snapshot (the split sizes must stay an upper
    # bound); the clips themselves are read from the primary, where consent
    # and erasure are current.
    counted = qs.using(fresh_replica_alias(within=settings.REPLICA_CATCH_UP_SECONDS))
    speakers, total = _plan_speakers(counted, spec)
    # A delta of nothing that matches now still says what was removed.
    if not total and not export.since_id:
        raise lifecycle.ExportEmptyError(
            gettext_noop("No clips match these filters; nothing to export.")
        )
    owners, per_split = _plan_sentences(counted, spec, speakers)
    cohorts = small_cohorts(qs)
    # The membership index is what the build writes: read from the primary too.
    measured = membership.index_and_measure(
        export, token, qs=qs, speakers=speakers, owners=owners, small_cohorts=cohorts
    )
    if measured.include is not None:
        total, per_split = measured.total, dict(measured.per_split)
    return Planned(
        spec, snapshot, qs, speakers, total, owners, per_split, measured.include, cohorts
    )


def writer_plan(
    export: Export, spec: splits.SplitSpec, per_split, *, augmented: bool = False
) -> Plan:
    """What the format writers need to know before the first row."""
    return Plan(
        splits=spec.active,
        clips_per_split={s: per_split.get(s, 0) for s in spec.active},
        sample_rate=export.sample_rate,
        audio_format=export.audio_format,
        statuses=export.filters.get("statuses") or ["validated"],
        augmented=augmented,
        audio=export.audio,
    )


def small_cohorts(qs) -> set[str]:
    """Languages with too few speakers for their demographics to hide anyone.

    In such a language a clip's gender, age and accent would point at one of a
    handful of people, so every clip of it is exported without them (and the
    datasheet's tables are withheld too).
    """
    rows = qs.values("language__code").annotate(n=Count("contributor", distinct=True))
    return {
        row["language__code"] for row in rows if row["n"] < datasheet.MIN_SPEAKERS_FOR_DEMOGRAPHICS
    }


def iter_batches(qs, batch_size: int):
    """The chunks in batches of ``CHUNK_FIELDS`` rows, in id order."""
    return selectors.keyset_pages(qs, size=batch_size, fields=CHUNK_FIELDS)


def _plan_speakers(qs, spec: splits.SplitSpec) -> tuple[dict[str, Speaker], int]:
    """Every speaker's split (stable across exports of a lineage) and the clip total."""
    # Per speaker and language: each language is balanced on its own.
    rows = qs.values("contributor__speaker_id", "language__code", *SPEAKER_FIELDS).annotate(
        seconds=Sum("duration"), clips=Count("id")
    )
    found: dict[str, tuple[str, dict]] = {}
    hours: dict[str, dict[str, float]] = defaultdict(dict)
    total = 0
    for row in rows.iterator(chunk_size=2000):
        speaker_id = row["contributor__speaker_id"]
        pseudonym = found[speaker_id][0] if speaker_id in found else speaker_pseudonym(speaker_id)
        found[speaker_id] = (pseudonym, row)
        hours[pseudonym][row["language__code"]] = (row["seconds"] or 0.0) / 3600
        total += row["clips"]
    lineage = spec.lineage
    previous = dict(
        SpeakerSplit.objects.filter(lineage=lineage).values_list("speaker", "split").iterator()
    )
    assigned = splits.assign_speakers(hours, spec=spec, previous=previous)
    new = [
        SpeakerSplit(lineage=lineage, speaker=s, split=split)
        for s, split in assigned.items()
        if s not in previous
    ]
    if new:
        SpeakerSplit.objects.bulk_create(new, ignore_conflicts=True, batch_size=1000)
        # A concurrent export of the same lineage may have placed some of them
        # first: the stored row wins, so both exports agree.
        stored = dict(
            SpeakerSplit.objects.filter(
                lineage=lineage, speaker__in=[row.speaker for row in new]
            ).values_list("speaker", "split")
        )
        assigned.update(stored)
    speakers = {
        speaker_id: Speaker.from_row(row, pseudonym=pseudonym, split=assigned[pseudonym])
        for speaker_id, (pseudonym, row) in found.items()
    }
    return speakers, total


def _plan_sentences(qs, spec, speakers) -> tuple[dict[str, str] | None, dict[str, int]]:
    """Sentence owners (sentence-disjoint only) and the clips each split will hold."""
    per_split: Counter = Counter()
    if not spec.sentence_disjoint:
        rows = qs.values("contributor__speaker_id").annotate(clips=Count("id"))
        for row in rows.iterator(chunk_size=2000):
            # A speaker who appeared since the previous query (consent given in
            # between) is not in the plan; the stream skips them too.
            if speaker := speakers.get(row["contributor__speaker_id"]):
                per_split[speaker.split] += row["clips"]
        return None, dict(per_split)
    readings = []
    rows = qs.values("contributor__speaker_id", "text").annotate(
        seconds=Sum("duration"), clips=Count("id")
    )
    for row in rows.iterator(chunk_size=2000):
        speaker = speakers.get(row["contributor__speaker_id"])
        if speaker is None:
            continue
        key = splits.sentence_key(row["text"])
        readings.append((speaker.pseudonym, speaker.split, key, row["seconds"] or 0, row["clips"]))
    owners = splits.sentence_owners(
        ((pseudonym, key, seconds) for pseudonym, _, key, seconds, _ in readings),
        speaker_split={s.pseudonym: s.split for s in speakers.values()},
        spec=spec,
    )
    for _, split, key, _, clips in readings:
        if owners[key] == split:
            per_split[split] += clips
    return owners, dict(per_split)
