"""Processed exports: batches in parallel, then one final step.

``exports.build`` plans the export as for a plain one, cuts the chunks into
batches of ``EXPORT_BATCH_SIZE`` by primary key and queues one
``exports.process_batch`` task per batch, which any free worker process takes.
A batch task processes its clips, uploads them and a part file (one JSON line
per clip, in chunk order) under the work prefix. The last batch to finish
queues ``exports.finish``, which reads the parts in batch order and writes the
manifests, datasheet, stats.json and SHA256SUMS exactly as a plain export does.
Every task is idempotent and carries the attempt's run token; a redelivered one
(worker killed) simply does its batch again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

from django.conf import settings
from django.db import transaction

from exports import datasheet, processing, selectors
from exports.formats import Item, writer_classes
from exports.models import Export, ExportBatch, ExportStatus, NoiseClip, SpeakerSplit
from exports.pseudonyms import speaker_pseudonym
from exports.services import clips, lifecycle, membership, planning, report
from exports.uploads import ExportSink, delete_prefix
from shrutik.storage import transient_errors

logger = logging.getLogger(__name__)

PLAN_OWNERS = "owners.json"


def plan_batches(export: Export, token) -> None:
    planned = planning.plan(export, token)
    qs, owners = planned.qs, planned.owners
    # A delta's clips to write wait in the work prefix for the batch tasks
    # (exports.services.membership); the batches still cover every row.
    if owners is not None:
        with tempfile.TemporaryDirectory(prefix="shrutik-export-") as tmp:
            sink = ExportSink(prefix=export.prefix, workdir=Path(tmp), threads=1)
            try:
                body = json.dumps(owners, ensure_ascii=False).encode()
                sink.put_key(lifecycle.work_prefix(export.id) + PLAN_OWNERS, body)
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
        lifecycle.progress(
            export.id,
            token,
            snapshot_at=planned.snapshot,
            items_total=planned.total,
            step=f"Processing audio (0 of {len(batches)} batches)",
        )
        ExportBatch.objects.filter(export=export).delete()
        ExportBatch.objects.bulk_create(batches, batch_size=1000)
    from exports.tasks import export_process_batch

    for batch in batches:
        export_process_batch.delay(str(export.id), str(token), batch.index)


def export_process_batch(*, export_id, token, index: int) -> None:
    """Process one batch (idempotent: a redelivered batch is done again or skipped)."""
    export = lifecycle.running(export_id, token)
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
    except lifecycle.ExportSupersededError:
        logger.info("export %s: batch %s superseded, stopping", export_id, index)
    except transient_errors():
        raise
    except Exception as exc:
        lifecycle.fail_and_clean(export, token, exc)
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
            raise lifecycle.NoiseSetError(
                f"Noise recording {ids[i]} of this export's noise set is gone; "
                "request the export again."
            ) from exc

    return processing.NoiseBank(len(ids), fetch)


def _load_owners(export: Export, sink: ExportSink) -> dict[str, str]:
    [body] = sink.fetch_many([lifecycle.work_prefix(export.id) + PLAN_OWNERS])
    if body is None:
        raise lifecycle.ExportSupersededError(str(export.id))  # a newer attempt cleaned up
    return json.loads(body)


def _process_batch(export: Export, batch: ExportBatch, workdir: Path) -> dict:
    spec = planning.split_spec(export)
    qs = selectors.export_chunks(filters=export.filters, snapshot=export.snapshot_at)
    page = qs.filter(pk__lte=batch.last_pk)
    if batch.after_pk is not None:
        page = page.filter(pk__gt=batch.after_pk)
    rows = list(page.order_by("pk").values(*planning.CHUNK_FIELDS, *planning.SPEAKER_FIELDS))
    include = membership.load_include(export)
    if include is not None:
        rows = [row for row in rows if row["id"].hex in include]
    pseudonyms = {
        row["contributor__speaker_id"]: speaker_pseudonym(row["contributor__speaker_id"])
        for row in rows
    }
    split_of = dict(
        SpeakerSplit.objects.filter(
            lineage=spec.lineage, speaker__in=set(pseudonyms.values())
        ).values_list("speaker", "split")
    )
    rendering = clips.Rendering.of(export, _noise_bank(export))
    in_export = planning.uses_clips(export)
    work = lifecycle.work_prefix(export.id)
    dropped: dict[str, list] = {}
    figures: Counter = Counter()
    lines: list[str] = []
    sink = ExportSink(prefix=export.prefix, workdir=workdir, threads=settings.EXPORT_IO_THREADS)
    try:
        owners = _load_owners(export, sink) if spec.sentence_disjoint else None
        blobs = sink.fetch_many([row["audio"] for row in rows])
        for row, blob in zip(rows, blobs, strict=True):
            pseudonym = pseudonyms[row["contributor__speaker_id"]]
            split = split_of.get(pseudonym)
            speaker = (
                planning.Speaker.from_row(row, pseudonym=pseudonym, split=split) if split else None
            )
            result = clips.clip_items(
                row, blob, speaker=speaker, owners=owners, rendering=rendering
            )
            if result.dropped:
                entry = dropped.setdefault(result.dropped, [0, 0.0])
                entry[0] += 1
                entry[1] += row["duration"] or 0.0
                continue
            figures["trimmed_seconds"] += result.trimmed_seconds
            figures["limited_clips"] += int(result.limited)
            for item in result.items:
                if in_export:
                    key = export.prefix + item.clip_path
                else:
                    key = f"{work}audio/{item.clip_name}"
                sink.put_key(key, item.audio)
                entry = {
                    **{k: v for k, v in dataclasses.asdict(item).items() if k != "audio"},
                    "_key": key,
                    "_size": len(item.audio),
                    "_sha256": hashlib.sha256(item.audio).hexdigest(),
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
            raise lifecycle.ExportSupersededError(str(export_id))
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
    export = lifecycle.running(export_id, token)
    if export is None:
        return
    batches = list(ExportBatch.objects.filter(export=export, token=token).order_by("index"))
    if not batches or not all(b.done for b in batches):
        return  # queued twice while a batch was still being redone
    try:
        with tempfile.TemporaryDirectory(prefix="shrutik-export-") as tmp:
            _finish_batches(export, token, batches, Path(tmp))
    except lifecycle.ExportSupersededError:
        logger.info("export %s: final step superseded, stopping", export_id)
    except lifecycle.ExportEmptyError as exc:
        if lifecycle.export_fail(export_id=export.id, error=str(exc), token=token):
            delete_prefix(lifecycle.work_prefix(export.id))
    except transient_errors():
        raise
    except Exception as exc:
        lifecycle.fail_and_clean(export, token, exc)
        raise


def _finish_batches(export: Export, token, batches: list[ExportBatch], workdir: Path) -> None:
    spec = planning.split_spec(export)
    work = lifecycle.work_prefix(export.id)
    per_split: Counter = Counter()
    stats = report.Stats(spec.active)
    for batch in batches:
        for reason, (count, seconds) in batch.result.get("dropped", {}).items():
            stats.drop(reason, seconds, clips=count)
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
        options = planning.options(export)
        plan = planning.writer_plan(export, spec, per_split, augmented=options.augments)
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
                    raise lifecycle.ExportSupersededError(str(export.id))  # cleaned up
                key, size, digest = entry.pop("_key"), entry.pop("_size"), entry.pop("_sha256")
                if entry["language"] in small_cohorts:
                    entry.update(dict.fromkeys(planning.DEMOGRAPHICS, ""))
                item = Item(audio=blob, **entry)
                if key.startswith(export.prefix):
                    sink.record(item.clip_path, size, digest)
                for writer in writers:
                    writer.write(item)
                stats.add(item)
            for writer in writers:
                writer.end_batch()
            sink.wait()
            lifecycle.progress(
                export.id, token, step=f"Writing manifests ({number} of {len(parts)} batches)"
            )
        report.finish(export, token, spec, sink, writers, stats)
    finally:
        sink.close()
    delete_prefix(work)


def _iter_parts(sink: ExportSink, keys: list[str]):
    """Part files in batch order, one at a time (memory: one batch of lines)."""
    for key in keys:
        [body] = sink.fetch_many([key])
        if body is None:
            raise lifecycle.ExportSupersededError(key)  # removed by a newer attempt's clean-up
        yield body.decode()
