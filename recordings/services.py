"""Writes on the recording side: uploads, processing into chunks, sweeping."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from recordings.audio import decode
from recordings.models import Chunk, Recording, RecordingStatus, Script, ScriptReport, TaskMode
from recordings.signals import send_status_changed
from shrutik.db import connection_release
from shrutik.exceptions import ApplicationError
from shrutik.numbers import localize_digits
from shrutik.queueing import enqueue_or_defer
from shrutik.storage import (
    COPY_BUFFER,
    sha256_file,
    storage_copy_to_temp,
    storage_keys,
    storage_put,
    storage_put_bytes,
)

# ffmpeg's demuxer names → the extension we store under. The name the client gave
# the file is never used: it may lie, and it must never become part of a path.
CONTAINER_EXTENSIONS = {
    "webm": "webm",
    "ogg": "ogg",
    "wav": "wav",
    "flac": "flac",
    "mp3": "mp3",
    "mp4": "m4a",
    "aac": "aac",
}


CHUNK_WRITE_THREADS = 4


def duration_limits(script: Script) -> tuple[float, float]:
    estimate = script.estimated_seconds
    low = max(0.5, estimate * settings.RECORDING_MIN_DURATION_FACTOR)
    high = (
        estimate * settings.RECORDING_MAX_DURATION_FACTOR
        + settings.RECORDING_DURATION_SLACK_SECONDS
    )
    return low, min(high, settings.RECORDING_ABSOLUTE_MAX_SECONDS)


@contextmanager
def _local_path(upload: UploadedFile):
    """A filesystem path for the upload without reading it into memory.

    Large uploads are already in a temporary file (Django's upload handlers);
    small ones are copied to one so ffmpeg can read them.
    """
    if hasattr(upload, "temporary_file_path"):
        yield Path(upload.temporary_file_path())
        return
    with tempfile.NamedTemporaryFile(suffix=".upload") as tmp:
        upload.seek(0)
        shutil.copyfileobj(upload, tmp, COPY_BUFFER)
        tmp.flush()
        yield Path(tmp.name)


def recording_validate_audio(*, path: Path, script: Script) -> decode.AudioInfo:
    """Decode the upload to learn what it really is and how long it really lasts."""
    if path.stat().st_size == 0:
        raise ApplicationError(400, _("The audio file is empty."))
    try:
        info = decode.probe(path)
    except decode.UnsupportedAudioError as exc:
        raise ApplicationError(
            415,
            _("Unsupported audio: {reason}. Upload {supported}.").format(
                reason=exc.reason, supported=decode.SUPPORTED_DESCRIPTION
            ),
        ) from exc
    except decode.AudioDecodeError as exc:
        raise ApplicationError(400, _undecodable(exc)) from exc
    if CONTAINER_EXTENSIONS.get(info.container) is None:
        raise ApplicationError(
            415,
            _("Unsupported audio container '{container}'. Upload {supported}.").format(
                container=info.container, supported=decode.SUPPORTED_DESCRIPTION
            ),
        )
    low, high = duration_limits(script)
    try:
        duration = decode.measure_duration(path, max_seconds=high)
    except decode.AudioTooLongError as exc:
        raise ApplicationError(
            400,
            _(
                "The recording is longer than {most} s, the most this script "
                "(about {reading} s to read) allows."
            ).format(most=f"{high:.0f}", reading=f"{script.estimated_seconds:.0f}"),
        ) from exc
    except decode.AudioDecodeError as exc:
        raise ApplicationError(400, _undecodable(exc)) from exc
    if duration < low:
        raise ApplicationError(
            400,
            _(
                "The recording lasts {duration} s; reading this script takes about "
                "{reading} s, so at least {least} s is expected."
            ).format(
                duration=f"{duration:.1f}",
                reading=f"{script.estimated_seconds:.0f}",
                least=f"{low:.1f}",
            ),
        )
    return dataclasses.replace(info, duration=duration)


# The decoder's reason stays in English: it is for whoever investigates the
# file, the sentence around it for the contributor.
UNDECODABLE = gettext_noop("The audio could not be decoded: {reason}.")


def _undecodable(exc: decode.AudioDecodeError) -> str:
    return _(UNDECODABLE).format(reason=exc.reason)


def recording_create(*, user, script: Script, upload: UploadedFile) -> Recording:
    """Validate an upload, store it, create the Recording, enqueue processing.

    Order matters for "no lost recordings": the object is stored first (outside
    any transaction: no S3 calls while holding row locks), then the row is
    created; if the row cannot be created the object is deleted again, so there
    are no orphans either way. Processing is enqueued only after commit, so a
    worker never looks for a row that is not there yet.

    The same bytes for the same script from the same contributor are a retry
    (a client that lost the answer, or sent the upload twice at once): the
    answer is the recording already stored, marked ``duplicate``. Concurrent
    copies are settled by the database (``recording_unique_reading``): the
    first insert wins, the others delete their object and answer with it.
    """
    if upload.size is not None and upload.size > settings.RECORDING_MAX_BYTES:
        raise ApplicationError(413, too_large_message())
    # Seconds of probing, hashing and storing follow, none of it in the database.
    connection_release()
    with _local_path(upload) as path:
        info = recording_validate_audio(path=path, script=script)
        sha256 = sha256_file(path)
        # The usual retry, after the first copy committed: nothing to store.
        existing = _same_reading(user=user, script=script, sha256=sha256)
        if existing is not None:
            return existing
        recording = Recording(
            contributor=user,
            script=script,
            container=info.container,
            codec=info.codec,
            size_bytes=path.stat().st_size,
            sha256=sha256,
            duration=round(info.duration, 3),
            sample_rate=info.sample_rate,
            channels=info.channels,
        )
        key = f"recordings/{recording.id}/original.{CONTAINER_EXTENSIONS[info.container]}"
        connection_release()  # the duplicate check's query took one again
        with open(path, "rb") as fh:
            recording.audio.name = storage_put(key, fh)
    try:
        with transaction.atomic():
            recording.save(force_insert=True)
            Script.objects.filter(pk=script.pk).update(recording_count=F("recording_count") + 1)
            # Never raises: once the row is committed the upload is kept whatever
            # happens to the broker, and the object must not be deleted under it.
            transaction.on_commit(lambda: recording_enqueue_or_defer(recording_id=recording.id))
            send_status_changed(recording_id=recording.id, status=RecordingStatus.UPLOADED)
    except IntegrityError:
        default_storage.delete(recording.audio.name)
        # A concurrent copy of this upload committed first (on PostgreSQL the
        # insert waited for it): the same answer as a later retry gets.
        existing = _same_reading(user=user, script=script, sha256=sha256)
        if existing is None:
            raise
        return existing
    except Exception:
        default_storage.delete(recording.audio.name)
        raise
    return recording


def _same_reading(*, user, script: Script, sha256: str) -> Recording | None:
    """The recording these bytes already made, marked as a duplicate."""
    existing = (
        Recording.objects.filter(contributor=user, script=script, sha256=sha256)
        # The one the constraint keeps unique first; copies set aside by
        # migration 0004 are rejected.
        .order_by(Case(When(status=RecordingStatus.REJECTED, then=1), default=0), "created_at")
        .first()
    )
    if existing is not None:
        existing.duplicate = True
    return existing


def rejection_text(rejection: dict, english: str) -> str:
    """Why a recording was refused, in the language active now (the request's).

    ``english`` (what the admin shows) stands in for a message that does not
    fit its values, e.g. one stored by an older release."""
    try:
        params = {k: localize_digits(v) for k, v in rejection.get("params", {}).items()}
        return _(rejection["message"]).format(**params)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return english


def too_large_message() -> str:
    mb = settings.RECORDING_MAX_BYTES / 1024 / 1024
    return _("The audio file is larger than {size} MB.").format(size=f"{mb:.0f}")


def recording_enqueue(*, recording_id) -> None:
    from recordings.tasks import recording_process

    recording_process.delay(str(recording_id))


def recording_enqueue_or_defer(*, recording_id) -> None:
    """Enqueue processing; if the broker is down, leave it to the sweeper.

    The row and the stored object already exist, so the upload is accepted: the
    recording stays ``uploaded`` and ``recording_sweep`` enqueues it once the
    broker is back.
    """
    from recordings.tasks import recording_process

    enqueue_or_defer(recording_process, str(recording_id))


def recording_sweep(*, now=None) -> int:
    """Re-enqueue recordings stuck before ``chunked``; give up after many attempts.

    A recording is stuck when its task was lost (broker restart before the
    enqueue landed, a worker killed while the broker forgot it) — the sweeper is
    what makes "uploaded" a promise rather than a hope.
    """
    now = now or timezone.now()
    waited = settings.RECORDING_STUCK_AFTER_SECONDS
    # A worker may still be on an attempt until the task's hard time limit:
    # starting a second one before then would process the recording twice.
    worked = max(waited, settings.RECORDING_PROCESS_TIME_LIMIT + 60)
    stuck = Recording.objects.filter(
        Q(status=RecordingStatus.UPLOADED, updated_at__lt=now - timedelta(seconds=waited))
        | Q(status=RecordingStatus.PROCESSING, updated_at__lt=now - timedelta(seconds=worked))
    ).values_list("id", "processing_attempts")
    count = 0
    for recording_id, attempts in stuck.iterator():
        if attempts >= settings.RECORDING_MAX_ATTEMPTS:
            Recording.objects.filter(
                pk=recording_id,
                status__in=[RecordingStatus.UPLOADED, RecordingStatus.PROCESSING],
            ).update(
                status=RecordingStatus.FAILED,
                error=f"Gave up after {attempts} processing attempts.",
                updated_at=now,
            )
            continue
        # Touch the row so the next sweep waits a full period for this attempt.
        Recording.objects.filter(pk=recording_id).update(updated_at=now)
        recording_enqueue(recording_id=recording_id)
        count += 1
    return count


def _claim(recording_id) -> bool:
    """Mark a recording as being processed; False if there is nothing to do.

    ``processing`` is claimable too: that is a crashed or redelivered attempt,
    and re-running it from scratch is safe because every output is replaced.
    """
    now = timezone.now()
    return bool(
        Recording.objects.filter(
            pk=recording_id,
            status__in=[RecordingStatus.UPLOADED, RecordingStatus.PROCESSING],
        ).update(
            status=RecordingStatus.PROCESSING,
            processing_attempts=F("processing_attempts") + 1,
            processing_started_at=now,
            updated_at=now,
        )
    )


def _metrics_fields(metrics) -> dict:
    return {
        "level_dbfs": _finite(metrics.level_dbfs),
        "peak_dbfs": _finite(metrics.peak_dbfs),
        "clipping_ratio": _finite(metrics.clipping_ratio),
        "speech_ratio": _finite(metrics.speech_ratio),
        "snr_db": _finite(metrics.snr_db),
    }


def _finite(value):
    import math

    if value is None or not math.isfinite(value):
        return None
    return round(float(value), 4)


def recording_process(*, recording_id) -> None:
    """Decode, measure, segment and chunk one recording.

    Idempotent and crash-safe: chunk objects have deterministic keys and are
    overwritten by a re-run, and the Chunk rows and the ``chunked`` status are
    written in one transaction under the recording's row lock, so however
    often this runs (or crashes) there is exactly one set of chunks.
    """
    from recordings.audio import decode, encode, quality, segment
    from recordings.audio.analysis import decode_and_analyse

    if not _claim(recording_id):
        return
    recording = Recording.objects.select_related("script__language").get(pk=recording_id)
    script = recording.script
    _shortest, max_seconds = duration_limits(script)
    with tempfile.TemporaryDirectory(prefix="shrutik-rec-") as tmp:
        source = storage_copy_to_temp(recording.audio.name, directory=tmp)
        wav = Path(tmp) / "decoded.wav"
        try:
            analysis = decode_and_analyse(source, wav, max_seconds=max_seconds + 1)
        except decode.AudioTooLongError:
            recording_reject(
                recording_id=recording_id,
                reason=quality.Rejection(
                    quality.N_("The recording is longer than {most} s, too long for this script."),
                    {"most": f"{max_seconds:.0f}"},
                ),
            )
            return
        except decode.AudioDecodeError as exc:
            recording_reject(
                recording_id=recording_id,
                reason=quality.Rejection(UNDECODABLE, {"reason": exc.reason}),
            )
            return
        metrics = analysis.metrics
        reason = quality.assess(metrics, expected_duration=script.estimated_seconds)
        if reason:
            recording_reject(recording_id=recording_id, reason=reason, metrics=metrics)
            return
        segmentation = segment.segment_speech(
            analysis.envelope, script.sentences, language=script.language.code
        )
        segments = segmentation.segments
        if not segments:
            recording_reject(
                recording_id=recording_id,
                reason=quality.Rejection(quality.N_("No speech was found in the recording.")),
                metrics=metrics,
            )
            return

        keys = [f"chunks/{recording.id}/{index}.flac" for index in range(len(segments))]

        def write_chunks(indices: range) -> None:
            # One open WAV per thread (opening it per chunk was a tenth of
            # the writing), one PUT per chunk, replacing what an earlier
            # attempt left under the key.
            spans = [(segments[i].start, segments[i].end) for i in indices]
            for index, flac in zip(indices, encode.iter_flac_chunks(wav, spans), strict=True):
                storage_put_bytes(keys[index], flac.getvalue())

        # Encoding (libsndfile) and uploading release the GIL: a few threads
        # keep both cores and the storage connection busy (eight were slower on
        # two cores), each taking every n-th chunk so they finish together.
        # Draining map() re-raises the first failure, which fails the attempt.
        threads = CHUNK_WRITE_THREADS
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(write_chunks, [range(k, len(segments), threads) for k in range(threads)]))
        chunks = []
        for index, (seg, key) in enumerate(zip(segments, keys, strict=True)):
            expected = script.sentences[seg.sentence] if seg.sentence is not None else ""
            chunks.append(
                Chunk(
                    recording_id=recording.id,
                    language_id=script.language_id,
                    contributor_id=recording.contributor_id,
                    index=index,
                    start=round(seg.start, 3),
                    end=round(seg.end, 3),
                    duration=round(seg.end - seg.start, 3),
                    audio=key,
                    expected_text=expected,
                    expected_sentence_index=seg.sentence,
                    # Listening to a chunk and voting on its sentence costs a
                    # fraction of typing it: ask for votes first where we can.
                    task_mode=TaskMode.VERIFY if expected else TaskMode.TRANSCRIBE,
                    transcriptions_required=settings.CHUNK_TRANSCRIPTIONS_REQUIRED,
                )
            )
    with transaction.atomic():
        locked = Recording.objects.select_for_update().get(pk=recording_id)
        if locked.status != RecordingStatus.PROCESSING:
            return  # another attempt finished first; its chunks are the same ones
        Chunk.objects.filter(recording_id=recording_id).delete()
        Chunk.objects.bulk_create(chunks)
        for field, value in _metrics_fields(metrics).items():
            setattr(locked, field, value)
        locked.duration = round(metrics.duration, 3)
        locked.status = RecordingStatus.CHUNKED
        locked.processed_at = timezone.now()
        locked.error = ""
        locked.save()
        send_status_changed(recording_id=recording_id, status=RecordingStatus.CHUNKED)
    _delete_stale_chunk_objects(recording_id=recording_id, keep=len(chunks))


def _delete_stale_chunk_objects(*, recording_id, keep: int) -> None:
    """Remove chunk objects beyond ``keep`` left by an earlier, different run."""
    for key in storage_keys(f"chunks/{recording_id}"):
        stem = key.rsplit("/", 1)[1].rsplit(".", 1)[0]
        if stem.isdigit() and int(stem) >= keep:
            default_storage.delete(key)


def recording_reject(*, recording_id, reason, metrics=None) -> None:
    """``reason``: a ``quality.Rejection`` (or plain English text). The English
    sentence is kept for the admin; the message and its values too, so that
    each contributor reads it in their language (``rejection_text``)."""
    from recordings.audio.quality import Rejection

    if not isinstance(reason, Rejection):
        # Plain text has no slots: braces in it are text.
        reason = Rejection(str(reason).replace("{", "{{").replace("}", "}}"))
    fields = {
        "status": RecordingStatus.REJECTED,
        "rejection_reason": str(reason)[:300],
        "rejection": {"message": reason.message, "params": dict(reason.params)},
    }
    if metrics is not None:
        fields |= _metrics_fields(metrics)
        fields["duration"] = _finite(metrics.duration)
    Recording.objects.filter(pk=recording_id).update(
        processed_at=timezone.now(), updated_at=timezone.now(), **fields
    )
    send_status_changed(recording_id=recording_id, status=RecordingStatus.REJECTED)


def recording_fail(*, recording_id, error: str) -> None:
    if Recording.objects.filter(pk=recording_id, status=RecordingStatus.PROCESSING).update(
        status=RecordingStatus.FAILED, error=error, updated_at=timezone.now()
    ):
        send_status_changed(recording_id=recording_id, status=RecordingStatus.FAILED)


def recording_reprocess(*, recording_id) -> None:
    """Reviewer action: process again from the original (chunks are replaced).

    Refused once any chunk has been transcribed: replacing the chunks would
    delete volunteers' transcriptions with them.
    """
    if Chunk.objects.filter(recording_id=recording_id, transcriptions_received__gt=0).exists():
        raise ValueError("its chunks already have transcriptions")
    Recording.objects.filter(pk=recording_id).update(
        status=RecordingStatus.UPLOADED,
        rejection_reason="",
        rejection={},
        error="",
        processing_attempts=0,
        updated_at=timezone.now(),
    )
    transaction.on_commit(lambda: recording_enqueue(recording_id=recording_id))


@dataclasses.dataclass(frozen=True)
class ScriptReported:
    report: ScriptReport
    withdrawn: bool  # this report took the script out of use


def script_report(
    *, script: Script, user, reason: str, sentence_index: int | None = None
) -> ScriptReported:
    """Record ``user``'s report on ``script``; withdraw the script once
    SCRIPT_REPORTS_TO_WITHDRAW readers have open reports on it.

    A reader reports a script once: reporting again changes their reason. The
    count and the withdrawal share one transaction that locks the script row, so
    concurrent reports cannot both stop short of the threshold.
    """
    if sentence_index is not None and not 0 <= sentence_index < len(script.sentences):
        raise ApplicationError(400, _("This script has no such sentence."))
    with transaction.atomic():
        Script.objects.select_for_update().filter(pk=script.pk).first()
        report, _created = ScriptReport.objects.update_or_create(
            script=script,
            reporter=user,
            defaults={"reason": reason, "sentence_index": sentence_index, "resolved_at": None},
        )
        open_reports = ScriptReport.objects.filter(script=script, resolved_at__isnull=True)
        withdrawn = False
        if open_reports.count() >= settings.SCRIPT_REPORTS_TO_WITHDRAW:
            withdrawn = bool(Script.objects.filter(pk=script.pk, active=True).update(active=False))
    return ScriptReported(report=report, withdrawn=withdrawn)


def script_reports_close(*, script_ids, restore: bool) -> int:
    """An admin's verdict on reported scripts: close their open reports, and put
    the scripts back in use (``restore``) or keep them out. Returns the number
    of reports closed."""
    with transaction.atomic():
        closed = ScriptReport.objects.filter(
            script_id__in=script_ids, resolved_at__isnull=True
        ).update(resolved_at=timezone.now())
        Script.objects.filter(pk__in=script_ids).update(active=restore)
    return closed
