"""Writes: requesting an export and building it.

``export_build`` streams the matching chunks in keyset-paginated batches
(memory is bounded by the batch size, not the export size), fetches their
audio in parallel, feeds every requested format writer, and uploads as it
goes. It is cleanly restartable: every attempt takes a fresh run token,
deletes what an earlier attempt left under the prefix and writes the same
deterministic keys again; an attempt that lost its token (the message was
redelivered while it still ran) stops at its next progress write.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import tempfile
import uuid
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Sum
from django.utils import timezone
from django.utils.translation import gettext_noop

from exports import audio as clip_audio
from exports import datasheet, processing, selectors, splits
from exports.formats import Item, Plan, writer_classes
from exports.formats.huggingface import card_yaml
from exports.models import Export, ExportBatch, ExportStatus, NoiseClip, SpeakerSplit
from exports.pseudonyms import speaker_pseudonym
from exports.uploads import ExportSink, delete_prefix
from recordings.models import Language
from shrutik.queueing import enqueue_or_defer
from shrutik.storage import transient_errors

logger = logging.getLogger(__name__)


class ExportSupersededError(Exception):
    """This attempt no longer owns the export (a newer attempt or a cancel)."""


class ExportEmptyError(Exception):
    """Nothing matches the filters."""


class NoiseSetError(Exception):
    """A noise recording the export uses cannot be read."""


# --- requesting -----------------------------------------------------------------------


def export_create(
    *,
    requester,
    formats: list[str],
    filters: dict | None = None,
    audio_format: str = "flac",
    sample_rate: int = 16000,
    split: dict | None = None,
    version: str = "",
    processing: dict | None = None,
) -> Export:
    """Store the request and enqueue ``exports.build`` once the row is committed."""
    split = split or {}
    spec = splits.SplitSpec(
        ratios=split.get("ratios") or dict(splits.DEFAULT_RATIOS),
        seed=int(split.get("seed", 0)),
        sentence_disjoint=bool(split.get("sentence_disjoint", False)),
    )
    with transaction.atomic():
        export = Export.objects.create(
            requester=requester,
            version=version or timezone.now().strftime("%Y-%m-%d"),
            filters=filters or {},
            formats=sorted(set(formats), key=list(writer_classes()).index),
            audio_format=audio_format,
            sample_rate=sample_rate,
            split_spec={
                "ratios": dict(spec.ratios),
                "seed": spec.seed,
                "sentence_disjoint": spec.sentence_disjoint,
            },
            processing=processing or {},
            step="Queued",
        )
        export.prefix = f"exports/{export.id}/"
        export.save(update_fields=["prefix"])
        # Stored and answered even with the broker down: exports.sweep enqueues it.
        transaction.on_commit(lambda: export_enqueue(export_id=export.id, defer=True))
    return export


def export_enqueue(*, export_id, defer: bool = False) -> None:
    """``defer``: with the broker down, log and leave it to :func:`export_sweep`."""
    from exports.tasks import export_build as task

    if defer:
        enqueue_or_defer(task, str(export_id))
    else:
        task.delay(str(export_id))


def export_retry(*, export_id) -> bool:
    """Admin action: queue a failed export again (a done one is left alone)."""
    with transaction.atomic():
        updated = Export.objects.filter(pk=export_id, status=ExportStatus.FAILED).update(
            status=ExportStatus.QUEUED, attempts=0, error="", step="Queued", run_token=None
        )
        if updated:
            transaction.on_commit(lambda: export_enqueue(export_id=export_id, defer=True))
    return bool(updated)


def export_sweep(*, now=None) -> int:
    """Re-enqueue exports whose attempt stopped making progress.

    A killed worker's message comes back only after the broker's visibility
    timeout (hours on Redis), and a message lost with a broker restart never
    does. Every attempt writes progress at least once per batch, so an export
    queued or running without any for ``EXPORT_STALL_SECONDS`` has no live
    attempt: a new one takes over (``_claim`` supersedes the old token, whose
    leftover tasks then stop at their next progress write) and starts again.
    ``EXPORT_MAX_ATTEMPTS`` still bounds how often.
    """
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.EXPORT_STALL_SECONDS)
    stuck = Export.objects.filter(
        status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING], updated_at__lt=stale
    ).values_list("id", flat=True)
    count = 0
    for export_id in stuck.iterator():
        # Touch the row so the next sweep waits a full period for this attempt.
        if Export.objects.filter(pk=export_id, updated_at__lt=stale).update(updated_at=now):
            export_enqueue(export_id=export_id)
            count += 1
    return count


# --- attempt bookkeeping --------------------------------------------------------------


def _claim(export_id) -> tuple[uuid.UUID, int] | None:
    """Start an attempt: (run token, attempt number), or None if there is nothing to do.

    A queued export starts; a running one is taken over, because with
    ``acks_late`` the message only comes back when the earlier attempt died
    (worker crash) or gave up (retry). Too many attempts fail the export.
    """
    token = uuid.uuid4()
    with transaction.atomic():
        export = (
            Export.objects.select_for_update()
            .filter(pk=export_id, status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING])
            .first()
        )
        if export is None:
            return None  # done, failed or deleted: a duplicate message
        if export.attempts >= settings.EXPORT_MAX_ATTEMPTS:
            export.status = ExportStatus.FAILED
            export.error = (
                f"The export was interrupted {export.attempts} times (worker stopped or "
                "storage unreachable); giving up. Retry it from the admin."
            )
            export.finished_at = timezone.now()
            export.run_token = None
            export.save()
            return None
        export.status = ExportStatus.RUNNING
        export.run_token = token
        export.attempts += 1
        export.started_at = export.started_at or timezone.now()
        export.items_done = 0
        export.step = "Starting"
        export.error = ""
        export.save()
        return token, export.attempts


def _progress(export_id, token, **fields) -> None:
    """Write progress only while this attempt still owns the export."""
    updated = Export.objects.filter(
        pk=export_id, run_token=token, status=ExportStatus.RUNNING
    ).update(updated_at=timezone.now(), **fields)
    if not updated:
        raise ExportSupersededError(str(export_id))


def export_fail(*, export_id, error: str, token=None) -> bool:
    """Mark the export failed (only the owning attempt, when ``token`` is given)."""
    qs = Export.objects.filter(pk=export_id, status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING])
    if token is not None:
        qs = qs.filter(run_token=token)
    return bool(
        qs.update(
            status=ExportStatus.FAILED,
            error=error[:2000],
            step="Failed",
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
    )


# --- building -------------------------------------------------------------------------


@dataclasses.dataclass
class _Speaker:
    pseudonym: str
    split: str
    gender: str
    age: str
    native_language: str
    dialect: str


class _Stats:
    """Streaming totals of what was actually written (O(speakers) memory)."""

    def __init__(self, split_names: list[str]) -> None:
        self.clips = Counter()
        self.seconds = defaultdict(float)
        self.speakers: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.lang_speakers: dict[str, dict[str, _Speaker]] = defaultdict(dict)
        self.split_names = split_names
        self.dropped = Counter()
        self.dropped_seconds = 0.0
        # Processed exports only: augmented copies per kind, and processing figures.
        self.augmented: Counter = Counter()
        self.augmented_seconds: dict[str, float] = defaultdict(float)
        self.processing: Counter = Counter()

    def add(self, item: Item, speaker: _Speaker) -> None:
        if item.augmentation:
            self.augmented[item.augmentation] += 1
            self.augmented_seconds[item.augmentation] += item.duration
        for key in ((item.split, item.language), (item.split, "*"), ("*", item.language)):
            self.clips[key] += 1
            self.seconds[key] += item.duration
            self.speakers[key].add(item.speaker)
        self.clips["*", "*"] += 1
        self.seconds["*", "*"] += item.duration
        self.speakers["*", "*"].add(item.speaker)
        self.lang_speakers[item.language][item.speaker] = speaker

    def drop(self, reason: str, seconds: float) -> None:
        self.dropped[reason] += 1
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


def _spec(export: Export) -> splits.SplitSpec:
    return splits.SplitSpec(
        ratios=export.split_spec.get("ratios") or dict(splits.DEFAULT_RATIOS),
        seed=int(export.split_spec.get("seed", 0)),
        sentence_disjoint=bool(export.split_spec.get("sentence_disjoint", False)),
    )


def _plan_speakers(qs, spec: splits.SplitSpec) -> tuple[dict[str, _Speaker], int]:
    """Every speaker's split (stable across exports of a lineage) and the clip total."""
    rows = qs.values(
        "contributor__speaker_id",
        "contributor__gender",
        "contributor__age_range",
        "contributor__native_language",
        "contributor__dialect",
    ).annotate(seconds=Sum("duration"), clips=Count("id"))
    speakers: dict[str, _Speaker] = {}
    hours: dict[str, float] = {}
    total = 0
    for row in rows.iterator(chunk_size=2000):
        pseudonym = speaker_pseudonym(row["contributor__speaker_id"])
        speakers[row["contributor__speaker_id"]] = _Speaker(
            pseudonym=pseudonym,
            split="",
            gender=row["contributor__gender"],
            age=row["contributor__age_range"],
            native_language=row["contributor__native_language"],
            dialect=row["contributor__dialect"],
        )
        hours[pseudonym] = (row["seconds"] or 0.0) / 3600
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
    for speaker in speakers.values():
        speaker.split = assigned[speaker.pseudonym]
    return speakers, total


_DEMOGRAPHICS = ("gender", "age", "native_language", "dialect")


def _small_cohorts(qs) -> set[str]:
    """Languages with too few speakers for their demographics to hide anyone.

    In such a language a clip's gender, age and accent would point at one of a
    handful of people, so every clip of it is exported without them (and the
    datasheet's tables are withheld too).
    """
    rows = qs.values("language__code").annotate(n=Count("contributor", distinct=True))
    return {
        row["language__code"] for row in rows if row["n"] < datasheet.MIN_SPEAKERS_FOR_DEMOGRAPHICS
    }


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


def _iter_batches(qs, batch_size: int):
    """Keyset pagination on the primary key: each batch is a short, indexed query
    (no long-lived cursor or transaction), and the order is stable across runs."""
    last = None
    while True:
        page = qs.order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        rows = list(page.values(*CHUNK_FIELDS)[:batch_size])
        if not rows:
            return
        yield rows
        last = rows[-1]["id"]


def export_build(*, export_id) -> None:
    """Build one export; see the module docstring for restarts and ownership."""
    claimed = _claim(export_id)
    if claimed is None:
        return
    token, attempt = claimed
    export = Export.objects.get(pk=export_id)
    try:
        if attempt > 1:
            # Objects of an earlier attempt that this one would not write again
            # (a clip since withdrawn) must not survive into the finished export.
            _progress(export_id, token, step="Cleaning up an interrupted attempt")
            delete_prefix(export.prefix)
            delete_prefix(work_prefix(export.id))
        if export.processing:
            _plan_batches(export, token)
        else:
            with tempfile.TemporaryDirectory(prefix="shrutik-export-") as tmp:
                _build(export, token, Path(tmp))
    except ExportSupersededError:
        logger.info("export %s: attempt superseded, stopping", export_id)
    except ExportEmptyError as exc:
        export_fail(export_id=export_id, error=str(exc), token=token)
    except transient_errors():
        raise  # the task retries with backoff; the next attempt starts clean
    except Exception as exc:
        # Half an export is no use to anyone and costs storage; but only the
        # attempt that still owns the export may delete (a newer one is writing).
        if export_fail(export_id=export_id, error=_describe(exc), token=token):
            delete_prefix(export.prefix)
        raise


def _describe(exc: Exception) -> str:
    """The reason a researcher reads on a failed export."""
    from celery.exceptions import SoftTimeLimitExceeded

    if isinstance(exc, SoftTimeLimitExceeded):
        return (
            f"The export took longer than {settings.EXPORT_TIME_LIMIT_SECONDS} s; narrow the "
            "filters or split it into several exports."
        )
    if isinstance(exc, clip_audio.ClipAudioError):
        return f"A stored clip is unreadable: {exc}"
    if isinstance(exc, NoiseSetError):
        return str(exc)
    return f"The export failed ({type(exc).__name__}: {exc}); the error has been logged."


@dataclasses.dataclass
class _Planned:
    spec: splits.SplitSpec
    snapshot: object
    qs: object
    speakers: dict[str, _Speaker]
    total: int
    owners: dict[str, str] | None
    per_split: dict[str, int]


def _plan(export: Export, token) -> _Planned:
    """What both build paths start from: the snapshot, speakers' splits, sentence owners."""
    spec = _spec(export)
    snapshot = timezone.now()
    qs = selectors.export_chunks(filters=export.filters, snapshot=snapshot)
    _progress(export.id, token, step="Planning splits")
    speakers, total = _plan_speakers(qs, spec)
    if not total:
        raise ExportEmptyError(gettext_noop("No clips match these filters; nothing to export."))
    owners, per_split = _plan_sentences(qs, spec, speakers)
    return _Planned(spec, snapshot, qs, speakers, total, owners, per_split)


def _writer_plan(
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
    )


def _build(export: Export, token, workdir: Path) -> None:
    planned = _plan(export, token)
    spec, qs, speakers, total = planned.spec, planned.qs, planned.speakers, planned.total
    owners, per_split = planned.owners, planned.per_split
    small_cohorts = _small_cohorts(qs)
    _progress(export.id, token, items_total=total, step="Writing audio and manifests")

    ext = clip_audio.EXTENSIONS[export.audio_format]
    plan = _writer_plan(export, spec, per_split)
    sink = ExportSink(prefix=export.prefix, workdir=workdir, threads=settings.EXPORT_IO_THREADS)
    try:
        classes = writer_classes()
        writers = [classes[name](sink=sink, workdir=workdir, plan=plan) for name in export.formats]
        write_clips = any(w.uses_clips for w in writers)
        stats = _Stats(spec.active)
        written = Counter()
        done = 0
        for rows in _iter_batches(qs, settings.EXPORT_BATCH_SIZE):
            blobs = sink.fetch_many([row["audio"] for row in rows])
            for row, blob in zip(rows, blobs, strict=True):
                done += 1
                speaker = speakers.get(row["contributor__speaker_id"])
                if speaker is None:
                    continue  # consented after planning: next export
                text = row["text"]
                seconds = row["duration"] or 0.0
                sentence = splits.sentence_key(text)
                if owners is not None and owners.get(sentence) != speaker.split:
                    stats.drop("sentence read in another split", seconds)
                    continue
                if written[speaker.split] >= plan.clips_per_split[speaker.split]:
                    continue  # changed after planning without a timestamp; next export
                if blob is None:
                    stats.drop("audio missing from storage", seconds)
                    continue
                try:
                    clip = clip_audio.prepare(
                        blob, audio_format=export.audio_format, sample_rate=export.sample_rate
                    )
                except clip_audio.ClipAudioError:
                    # One damaged object must not sink a large export; it is
                    # counted, and the chunk is worth a reviewer's look.
                    logger.warning("export %s: unreadable audio %s", export.id, row["audio"])
                    stats.drop("audio unreadable", seconds)
                    continue
                clip_id = row["id"].hex
                shown = row["language__code"] not in small_cohorts
                item = Item(
                    utt_id=f"{speaker.pseudonym}-{clip_id}",
                    clip_id=clip_id,
                    split=speaker.split,
                    speaker=speaker.pseudonym,
                    language=row["language__code"],
                    text=text,
                    sentence_id=sentence,
                    duration=clip.duration,
                    num_samples=clip.num_samples,
                    sample_rate=clip.sample_rate,
                    audio=clip.data,
                    ext=ext,
                    status=row["status"],
                    confidence=row["confidence"],
                    votes=row["transcriptions_received"],
                    gender=speaker.gender if shown else "",
                    age=speaker.age if shown else "",
                    native_language=speaker.native_language if shown else "",
                    dialect=speaker.dialect if shown else "",
                )
                if write_clips:
                    sink.put_bytes(item.clip_path, item.audio)
                for writer in writers:
                    writer.write(item)
                stats.add(item, speaker)
                written[speaker.split] += 1
            for writer in writers:
                writer.end_batch()
            # Waiting here bounds memory to one batch of clips in flight, and
            # surfaces an upload error before more work is done.
            sink.wait()
            _progress(export.id, token, items_done=min(done, total))

        _progress(export.id, token, items_done=total, step="Finishing manifests")
        figures = _finish_export(export, token, spec, sink, writers, stats)
    finally:
        sink.close()
    _mark_done(export, token, sink, figures)


def _finish_export(export, token, spec, sink: ExportSink, writers, stats: _Stats) -> dict:
    """Close the manifests, then write the datasheet, stats.json and SHA256SUMS."""
    for writer in writers:
        writer.finish()
    sink.wait()
    if not stats.clips["*", "*"]:
        raise ExportEmptyError(gettext_noop("Every matching clip was left out; nothing to export."))

    _progress(export.id, token, step="Writing the datasheet and checksums")
    figures = _stats_document(export, spec, stats)
    card = ""
    if "huggingface" in export.formats:
        card = card_yaml(
            sample_rate=export.sample_rate,
            splits=figures["splits"],
            augmented=_options(export).augments,
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
    return figures


def _mark_done(export: Export, token, sink: ExportSink, figures: dict) -> None:
    files = sorted(sink.listed, key=lambda f: f["path"])
    finished = Export.objects.filter(
        pk=export.id, run_token=token, status=ExportStatus.RUNNING
    ).update(
        status=ExportStatus.DONE,
        stats={**figures, "objects": sink.objects},
        files=files,
        total_bytes=sink.total_bytes,
        step="Done",
        items_done=F("items_total"),
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )
    if not finished:
        raise ExportSupersededError(str(export.id))


def _stats_document(export: Export, spec: splits.SplitSpec, stats: _Stats) -> dict:
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


# --- processed exports: batches in parallel, then one final step ------------------------
#
# ``exports.build`` plans the export as for a plain one, cuts the chunks into
# batches of ``EXPORT_BATCH_SIZE`` by primary key and queues one
# ``exports.process_batch`` task per batch, which any free worker process
# takes. A batch task processes its clips, uploads them and a part file (one
# JSON line per clip, in chunk order) under the work prefix. The last batch to
# finish queues ``exports.finish``, which reads the parts in batch order and
# writes the manifests, datasheet, stats.json and SHA256SUMS exactly as a plain
# export does. Every task is idempotent and carries the attempt's run token; a
# redelivered one (worker killed) simply does its batch again.

WORK_ROOT = "export-work"
PLAN_OWNERS = "owners.json"
SPEAKER_FIELDS = (
    "contributor__gender",
    "contributor__age_range",
    "contributor__native_language",
    "contributor__dialect",
)


def work_prefix(export_id) -> str:
    """Intermediate objects of a processed export (parts, owners), never downloaded."""
    return f"{WORK_ROOT}/{export_id}/"


def _options(export: Export) -> processing.Options:
    return processing.Options.from_dict(export.processing or {})


def _uses_clips(export: Export) -> bool:
    classes = writer_classes()
    return any(classes[name].uses_clips for name in export.formats)


def _plan_batches(export: Export, token) -> None:
    planned = _plan(export, token)
    qs, owners, snapshot, total = planned.qs, planned.owners, planned.snapshot, planned.total
    if owners is not None:
        with tempfile.TemporaryDirectory(prefix="shrutik-export-") as tmp:
            sink = ExportSink(prefix=export.prefix, workdir=Path(tmp), threads=1)
            try:
                body = json.dumps(owners, ensure_ascii=False).encode()
                sink.put_key(work_prefix(export.id) + PLAN_OWNERS, body)
                sink.wait()
            finally:
                sink.close()

    batches, after = [], None
    size = settings.EXPORT_BATCH_SIZE
    while True:
        page = qs.order_by("pk")
        if after is not None:
            page = page.filter(pk__gt=after)
        keys = list(page.values_list("pk", flat=True)[:size])
        if not keys:
            break
        batches.append(
            ExportBatch(
                export=export, token=token, index=len(batches), after_pk=after,
                last_pk=keys[-1], rows=len(keys),
            )
        )  # fmt: skip
        after = keys[-1]
    with transaction.atomic():
        _progress(
            export.id,
            token,
            snapshot_at=snapshot,
            items_total=total,
            step=f"Processing audio (0 of {len(batches)} batches)",
        )
        ExportBatch.objects.filter(export=export).delete()
        ExportBatch.objects.bulk_create(batches, batch_size=1000)
    from exports.tasks import export_process_batch

    for batch in batches:
        export_process_batch.delay(str(export.id), str(token), batch.index)


def _running(export_id, token) -> Export | None:
    return Export.objects.filter(pk=export_id, run_token=token, status=ExportStatus.RUNNING).first()


def _fail_and_clean(export: Export, token, exc: Exception) -> None:
    if export_fail(export_id=export.id, error=_describe(exc), token=token):
        delete_prefix(export.prefix)
        delete_prefix(work_prefix(export.id))


def export_process_batch(*, export_id, token, index: int) -> None:
    """Process one batch (idempotent: a redelivered batch is done again or skipped)."""
    export = _running(export_id, token)
    if export is None:
        return  # superseded, failed or finished: a stale message
    batch = ExportBatch.objects.filter(export=export, token=token, index=index).first()
    if batch is None:
        return
    if batch.done:
        # The worker may have died after recording the batch but before queueing
        # the final step: queue it again when nothing else is left.
        _queue_finish_if_complete(export.id, token)
        return
    try:
        with tempfile.TemporaryDirectory(prefix="shrutik-export-") as tmp:
            result = _process_batch(export, batch, Path(tmp))
        _batch_done(export.id, token, batch, result)
    except ExportSupersededError:
        logger.info("export %s: batch %s superseded, stopping", export_id, index)
    except transient_errors():
        raise
    except Exception as exc:
        _fail_and_clean(export, token, exc)
        raise


def _noise_bank(export: Export) -> processing.NoiseBank | None:
    noise = ((export.processing or {}).get("augment") or {}).get("noise") or {}
    ids = noise.get("clips") or []
    if noise.get("source") != processing.NOISE_SET or not ids:
        return None
    names = dict(NoiseClip.objects.filter(pk__in=ids).values_list("pk", "audio"))

    def fetch(i: int) -> bytes:
        from django.core.files.storage import default_storage

        name = names.get(ids[i])
        try:
            with default_storage.open(name, "rb") as fh:
                return fh.read()
        except (FileNotFoundError, TypeError, ValueError) as exc:
            raise NoiseSetError(
                f"Noise recording {ids[i]} of this export's noise set is gone; "
                "request the export again."
            ) from exc

    return processing.NoiseBank(len(ids), fetch)


def _load_owners(export: Export, sink: ExportSink) -> dict[str, str]:
    [body] = sink.fetch_many([work_prefix(export.id) + PLAN_OWNERS])
    if body is None:
        raise ExportSupersededError(str(export.id))  # a newer attempt cleaned up
    return json.loads(body)


def _process_batch(export: Export, batch: ExportBatch, workdir: Path) -> dict:
    options = _options(export)
    spec = _spec(export)
    qs = selectors.export_chunks(filters=export.filters, snapshot=export.snapshot_at)
    page = qs.filter(pk__lte=batch.last_pk)
    if batch.after_pk is not None:
        page = page.filter(pk__gt=batch.after_pk)
    rows = list(page.order_by("pk").values(*CHUNK_FIELDS, *SPEAKER_FIELDS))
    pseudonyms = {
        row["contributor__speaker_id"]: speaker_pseudonym(row["contributor__speaker_id"])
        for row in rows
    }
    split_of = dict(
        SpeakerSplit.objects.filter(
            lineage=spec.lineage, speaker__in=set(pseudonyms.values())
        ).values_list("speaker", "split")
    )
    bank = _noise_bank(export)
    ext = clip_audio.EXTENSIONS[export.audio_format]
    clips_in_export = _uses_clips(export)
    work = work_prefix(export.id)
    dropped: dict[str, list] = {}
    figures: Counter = Counter()
    lines: list[str] = []
    sink = ExportSink(prefix=export.prefix, workdir=workdir, threads=settings.EXPORT_IO_THREADS)
    try:
        owners = _load_owners(export, sink) if spec.sentence_disjoint else None
        blobs = sink.fetch_many([row["audio"] for row in rows])

        def drop(reason: str, seconds: float) -> None:
            entry = dropped.setdefault(reason, [0, 0.0])
            entry[0] += 1
            entry[1] += seconds

        for row, blob in zip(rows, blobs, strict=True):
            pseudonym = pseudonyms[row["contributor__speaker_id"]]
            split = split_of.get(pseudonym)
            if split is None:
                continue  # consented after planning: next export
            seconds = row["duration"] or 0.0
            sentence = splits.sentence_key(row["text"])
            if owners is not None and owners.get(sentence) != split:
                drop("sentence read in another split", seconds)
                continue
            if blob is None:
                drop("audio missing from storage", seconds)
                continue
            clip_id = row["id"].hex
            try:
                outcome = processing.process_clip(
                    blob,
                    clip=clip_id,
                    options=options,
                    sample_rate=export.sample_rate,
                    audio_format=export.audio_format,
                    augment=split == "train" and options.augments,
                    noise_bank=bank,
                )
            except processing.ProcessingError:
                logger.warning("export %s: unreadable audio %s", export.id, row["audio"])
                drop("audio unreadable", seconds)
                continue
            if outcome.dropped:
                drop(outcome.dropped, seconds)
                continue
            figures["trimmed_seconds"] += outcome.trimmed_seconds
            figures["limited_clips"] += int(outcome.limited)
            for rendered in outcome.clips:
                utt_id = f"{pseudonym}-{clip_id}"
                if rendered.suffix:
                    utt_id += f"-{rendered.suffix}"
                name = f"{utt_id}.{ext}"
                key = (export.prefix + "clips/" if clips_in_export else work + "audio/") + name
                sink.put_key(key, rendered.data)
                entry = {
                    "utt_id": utt_id,
                    "clip_id": clip_id,
                    "split": split,
                    "speaker": pseudonym,
                    "language": row["language__code"],
                    "text": row["text"],
                    "sentence_id": sentence,
                    "duration": rendered.duration,
                    "num_samples": rendered.num_samples,
                    "sample_rate": rendered.sample_rate,
                    "ext": ext,
                    "status": row["status"],
                    "confidence": row["confidence"],
                    "votes": row["transcriptions_received"],
                    "gender": row["contributor__gender"],
                    "age": row["contributor__age_range"],
                    "native_language": row["contributor__native_language"],
                    "dialect": row["contributor__dialect"],
                    "augmentation": rendered.augmentation,
                    "channels": rendered.channels,
                    "_key": key,
                    "_size": len(rendered.data),
                    "_sha256": hashlib.sha256(rendered.data).hexdigest(),
                }
                lines.append(json.dumps(entry, ensure_ascii=False))
        part = "".join(line + "\n" for line in lines).encode()
        sink.put_key(f"{work}parts/{batch.index:06d}.jsonl", part)
        sink.wait()
    finally:
        sink.close()
    return {"dropped": dropped, "figures": dict(figures), "items": len(lines)}


def _batch_done(export_id, token, batch: ExportBatch, result: dict) -> None:
    with transaction.atomic():
        export = (
            Export.objects.select_for_update()
            .filter(pk=export_id, run_token=token, status=ExportStatus.RUNNING)
            .first()
        )
        if export is None:
            raise ExportSupersededError(str(export_id))
        batches = ExportBatch.objects.filter(export_id=export_id, token=token)
        if not batches.filter(pk=batch.pk, done=False).update(done=True, result=result):
            return  # a duplicate delivery finished it first
        total = batches.count()
        left = batches.filter(done=False).count()
        export.items_done = min(export.items_total, export.items_done + batch.rows)
        export.step = (
            f"Processing audio ({total - left} of {total} batches)" if left else "Writing manifests"
        )
        export.save(update_fields=["items_done", "step", "updated_at"])
    if not left:
        _queue_finish(export_id, token)


def _queue_finish_if_complete(export_id, token) -> None:
    if not ExportBatch.objects.filter(export_id=export_id, token=token, done=False).exists():
        _queue_finish(export_id, token)


def _queue_finish(export_id, token) -> None:
    from exports.tasks import export_finish as task

    task.delay(str(export_id), str(token))


def export_finish(*, export_id, token) -> None:
    """The final step: manifests, datasheet, stats.json, SHA256SUMS, then done."""
    export = _running(export_id, token)
    if export is None:
        return
    batches = list(ExportBatch.objects.filter(export=export, token=token).order_by("index"))
    if not batches or not all(b.done for b in batches):
        return  # queued twice while a batch was still being redone
    try:
        with tempfile.TemporaryDirectory(prefix="shrutik-export-") as tmp:
            _finish_batches(export, token, batches, Path(tmp))
    except ExportSupersededError:
        logger.info("export %s: final step superseded, stopping", export_id)
    except ExportEmptyError as exc:
        if export_fail(export_id=export.id, error=str(exc), token=token):
            delete_prefix(work_prefix(export.id))
    except transient_errors():
        raise
    except Exception as exc:
        _fail_and_clean(export, token, exc)
        raise


def _finish_batches(export: Export, token, batches: list[ExportBatch], workdir: Path) -> None:
    spec = _spec(export)
    options = _options(export)
    work = work_prefix(export.id)
    per_split: Counter = Counter()
    stats = _Stats(spec.active)
    for batch in batches:
        for reason, (clips, seconds) in batch.result.get("dropped", {}).items():
            stats.dropped[reason] += clips
            stats.dropped_seconds += seconds
        stats.processing.update(batch.result.get("figures", {}))
    sink = ExportSink(prefix=export.prefix, workdir=workdir, threads=settings.EXPORT_IO_THREADS)
    try:
        parts = [f"{work}parts/{batch.index:06d}.jsonl" for batch in batches]
        # Shard counts (parquet "-of-M") need each split's size before the first
        # row, and per-clip demographics each language's number of speakers.
        cohorts: dict[str, set[str]] = defaultdict(set)
        for body in _iter_parts(sink, parts):
            for line in body.splitlines():
                entry = json.loads(line)
                per_split[entry["split"]] += 1
                cohorts[entry["language"]].add(entry["speaker"])
        small_cohorts = {
            code
            for code, people in cohorts.items()
            if len(people) < datasheet.MIN_SPEAKERS_FOR_DEMOGRAPHICS
        }
        plan = _writer_plan(export, spec, per_split, augmented=options.augments)
        classes = writer_classes()
        writers = [classes[name](sink=sink, workdir=workdir, plan=plan) for name in export.formats]
        needs_bytes = any(not w.uses_clips for w in writers)
        for number, body in enumerate(_iter_parts(sink, parts), start=1):
            entries = [json.loads(line) for line in body.splitlines()]
            blobs = (
                sink.fetch_many([e["_key"] for e in entries])
                if needs_bytes
                else [b""] * len(entries)
            )
            for entry, blob in zip(entries, blobs, strict=True):
                if blob is None:
                    raise ExportSupersededError(str(export.id))  # cleaned by a newer attempt
                key, size, digest = entry.pop("_key"), entry.pop("_size"), entry.pop("_sha256")
                if entry["language"] in small_cohorts:
                    entry.update(dict.fromkeys(_DEMOGRAPHICS, ""))
                item = Item(audio=blob, **entry)
                if key.startswith(export.prefix):
                    sink.record(item.clip_path, size, digest)
                for writer in writers:
                    writer.write(item)
                stats.add(
                    item,
                    _Speaker(
                        pseudonym=item.speaker, split=item.split, gender=item.gender,
                        age=item.age, native_language=item.native_language, dialect=item.dialect,
                    ),
                )  # fmt: skip
            for writer in writers:
                writer.end_batch()
            sink.wait()
            _progress(
                export.id, token, step=f"Writing manifests ({number} of {len(parts)} batches)"
            )
        figures = _finish_export(export, token, spec, sink, writers, stats)
    finally:
        sink.close()
    _mark_done(export, token, sink, figures)
    delete_prefix(work)


def _iter_parts(sink: ExportSink, keys: list[str]):
    """Part files in batch order, one at a time (memory: one batch of lines)."""
    for key in keys:
        [body] = sink.fetch_many([key])
        if body is None:
            raise ExportSupersededError(key)  # removed by a newer attempt's clean-up
        yield body.decode()
