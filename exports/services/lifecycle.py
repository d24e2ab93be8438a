"""An export's life: requested, claimed by an attempt, progressing, done or failed.

Every attempt takes a fresh run token (``claim``); progress and the final
"done" are written only while that token still owns the export, so an attempt
that lost it (the message was redelivered while it still ran, or the export
was retried) stops at its next write with ``ExportSupersededError``.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from exports import processing, splits
from exports.formats import writer_classes
from exports.models import Export, ExportStatus
from exports.uploads import ExportSink, delete_prefix
from shrutik.queueing import enqueue_or_defer

logger = logging.getLogger(__name__)

# Intermediate objects of a processed export (parts, sentence owners), never downloaded.
WORK_ROOT = "export-work"


class ExportSupersededError(Exception):
    """This attempt no longer owns the export (a newer attempt or a cancel)."""


class ExportEmptyError(Exception):
    """Nothing matches the filters."""


class NoiseSetError(Exception):
    """A noise recording the export uses cannot be read."""


class DeltaBaseError(Exception):
    """The export a delta follows cannot be read; the message says what to do."""


def work_prefix(export_id) -> str:
    return f"{WORK_ROOT}/{export_id}/"


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
    audio: bool = True,
    since: Export | None = None,
) -> Export:
    """Store the request and enqueue ``exports.build`` once the row is committed.

    ``audio`` False: a metadata-only export (no processing applies). ``since``:
    a delta export of what changed since that export; it keeps that export's
    splits, whatever ``split`` says, so every speaker stays where it was.
    """
    if not audio and processing:
        raise ValueError("a metadata-only export has no audio to process")
    spec = splits.SplitSpec.from_dict(since.split_spec if since is not None else (split or {}))
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
            audio=audio,
            since=since,
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
    timeout, and a message lost with a broker restart never does. Every attempt
    writes progress at least once per batch, so an export queued or running
    without any for ``EXPORT_STALL_SECONDS`` has no live attempt: a new one
    takes over (``claim`` supersedes the old token, whose leftover tasks then
    stop at their next progress write) and starts again. ``EXPORT_MAX_ATTEMPTS``
    still bounds how often.
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


# --- attempts -------------------------------------------------------------------------


def claim(export_id) -> tuple[uuid.UUID, int] | None:
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


def running(export_id, token) -> Export | None:
    """The export, while this attempt still owns it."""
    return Export.objects.filter(pk=export_id, run_token=token, status=ExportStatus.RUNNING).first()


def progress(export_id, token, **fields) -> None:
    """Write progress only while this attempt still owns the export."""
    updated = Export.objects.filter(
        pk=export_id, run_token=token, status=ExportStatus.RUNNING
    ).update(updated_at=timezone.now(), **fields)
    if not updated:
        raise ExportSupersededError(str(export_id))


def mark_done(export: Export, token, sink: ExportSink, figures: dict) -> None:
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


def fail_and_clean(export: Export, token, exc: Exception) -> bool:
    """Fail the export and delete what it wrote: half an export is no use to anyone
    and costs storage. Only the attempt that still owns the export may delete (a
    newer one is writing)."""
    if not export_fail(export_id=export.id, error=describe(exc), token=token):
        return False
    delete_prefix(export.prefix)
    delete_prefix(work_prefix(export.id))
    # A failed export is never a delta's base: its index goes too.
    if default_storage.exists(export.index_key):
        default_storage.delete(export.index_key)
    return True


def describe(exc: Exception) -> str:
    """The reason a researcher reads on a failed export."""
    from celery.exceptions import SoftTimeLimitExceeded

    if isinstance(exc, SoftTimeLimitExceeded):
        return (
            f"The export took longer than {settings.EXPORT_TIME_LIMIT_SECONDS} s; narrow the "
            "filters or split it into several exports."
        )
    if isinstance(exc, processing.ProcessingError):
        return f"A stored clip is unreadable: {exc}"
    if isinstance(exc, NoiseSetError | DeltaBaseError):
        return str(exc)
    return f"The export failed ({type(exc).__name__}: {exc}); the error has been logged."
