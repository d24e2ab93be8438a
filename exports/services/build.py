"""``export_build``: the task's entry point, and the plain (unprocessed) build.

The plain build streams the matching chunks in keyset-paginated batches (memory
is bounded by the batch size, not the export size), fetches their audio in
parallel, feeds every requested format writer, and uploads as it goes. It is
cleanly restartable: every attempt takes a fresh run token, deletes what an
earlier attempt left under the prefix and writes the same deterministic keys
again. Exports with audio processing are planned here and built in batches
(``exports.services.batches``).
"""

from __future__ import annotations

import logging
import tempfile
from collections import Counter
from pathlib import Path

from django.conf import settings

from exports.formats import writer_classes
from exports.models import Export
from exports.services import batches, clips, lifecycle, planning, report
from exports.uploads import ExportSink, delete_prefix
from shrutik.storage import transient_errors

logger = logging.getLogger(__name__)


def export_build(*, export_id) -> None:
    """Build one export; see the module docstring for restarts and ownership."""
    claimed = lifecycle.claim(export_id)
    if claimed is None:
        return
    token, attempt = claimed
    export = Export.objects.get(pk=export_id)
    try:
        if attempt > 1:
            # Objects of an earlier attempt that this one would not write again
            # (a clip since withdrawn) must not survive into the finished export.
            lifecycle.progress(export_id, token, step="Cleaning up an interrupted attempt")
            delete_prefix(export.prefix)
            delete_prefix(lifecycle.work_prefix(export.id))
        if export.processing:
            batches.plan_batches(export, token)
        else:
            with tempfile.TemporaryDirectory(prefix="shrutik-export-") as tmp:
                _build(export, token, Path(tmp))
    except lifecycle.ExportSupersededError:
        logger.info("export %s: attempt superseded, stopping", export_id)
    except lifecycle.ExportEmptyError as exc:
        lifecycle.export_fail(export_id=export_id, error=str(exc), token=token)
    except transient_errors():
        raise  # the task retries with backoff; the next attempt starts clean
    except Exception as exc:
        lifecycle.fail_and_clean(export, token, exc)
        raise


def _build(export: Export, token, workdir: Path) -> None:
    planned = planning.plan(export, token)
    spec, speakers, total = planned.spec, planned.speakers, planned.total
    small_cohorts = planned.small_cohorts
    lifecycle.progress(export.id, token, items_total=total, step="Writing audio and manifests")

    plan = planning.writer_plan(export, spec, planned.per_split)
    rendering = clips.Rendering.of(export)
    sink = ExportSink(prefix=export.prefix, workdir=workdir, threads=settings.EXPORT_IO_THREADS)
    try:
        classes = writer_classes()
        writers = [classes[name](sink=sink, workdir=workdir, plan=plan) for name in export.formats]
        write_clips = export.audio and any(w.uses_clips for w in writers)
        stats = report.Stats(spec.active)
        written = Counter()
        done = 0
        for page in planning.iter_batches(planned.qs, settings.EXPORT_BATCH_SIZE):
            rows = planned.wanted(page)
            # A metadata-only export reads no audio.
            blobs = (
                sink.fetch_many([row["audio"] for row in rows])
                if export.audio
                else [b""] * len(rows)
            )
            for row, blob in zip(rows, blobs, strict=True):
                done += 1
                speaker = speakers.get(row["contributor__speaker_id"])
                result = clips.clip_items(
                    row,
                    blob,
                    speaker=speaker,
                    owners=planned.owners,
                    rendering=rendering,
                    demographics=row["language__code"] not in small_cohorts,
                    full=speaker is not None
                    and written[speaker.split] >= plan.clips_per_split[speaker.split],
                )
                if result.dropped:
                    stats.drop(result.dropped, row["duration"] or 0.0)
                for item in result.items:
                    if write_clips:
                        sink.put_bytes(item.clip_path, item.audio)
                    for writer in writers:
                        writer.write(item)
                    stats.add(item)
                    written[item.split] += 1
            for writer in writers:
                writer.end_batch()
            # Waiting here bounds memory to one batch of clips in flight, and
            # surfaces an upload error before more work is done.
            sink.wait()
            lifecycle.progress(export.id, token, items_done=min(done, total))

        lifecycle.progress(export.id, token, items_done=total, step="Finishing manifests")
        report.finish(export, token, spec, sink, writers, stats)
    finally:
        sink.close()
    if export.since_id:
        delete_prefix(lifecycle.work_prefix(export.id))  # the delta's removed list
