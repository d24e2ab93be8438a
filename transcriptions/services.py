"""Writes on the transcription side: leasing chunks, submitting, skipping."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from recordings.models import Chunk, ChunkStatus, Language
from transcriptions import hooks
from transcriptions.models import (
    Flag,
    SkipReason,
    TaskLease,
    TaskMode,
    TaskSkip,
    Transcription,
    TranscriptionSource,
)


@dataclass
class TaskError(Exception):
    status_code: int
    detail: str

    def __str__(self) -> str:
        return self.detail


def _open_chunks_for(user, language: Language, mode: str):
    """Open chunks of ``language`` this user may work on, best first.

    Chunks whose remaining need is already covered by live leases are filtered
    out here so they are never locked in vain; the count is re-checked after
    locking because this snapshot may predate another transaction's lease.
    """
    now = timezone.now()
    mine = Q(user=user)
    live_leases = (
        TaskLease.objects.filter(chunk=OuterRef("pk"), expires_at__gt=now)
        .order_by()
        .values("chunk")
        .annotate(n=Count("id"))
        .values("n")
    )
    qs = (
        Chunk.objects.filter(status=ChunkStatus.OPEN, language=language)
        .exclude(contributor=user)
        .exclude(Exists(Transcription.objects.filter(mine, chunk=OuterRef("pk"))))
        .exclude(Exists(TaskSkip.objects.filter(mine, chunk=OuterRef("pk"))))
        .exclude(Exists(TaskLease.objects.filter(mine, chunk=OuterRef("pk"), expires_at__gt=now)))
        .alias(leased=Coalesce(Subquery(live_leases), 0))
        .filter(transcriptions_received__lt=F("transcriptions_required") - F("leased"))
    )
    if mode == TaskMode.VERIFY:
        qs = qs.exclude(expected_text="")
    return qs.order_by("transcriptions_received", "created_at")


def chunk_lease_next(*, user, language: Language, count: int, mode: str) -> list[TaskLease]:
    """Lease up to ``count`` chunks to ``user``; returns all their live leases there.

    Candidate rows are locked with ``FOR UPDATE SKIP LOCKED``: concurrent callers
    each take different chunks instead of queueing on the same ones, and while a
    chunk is locked the count of its live leases cannot change under us, so a
    chunk is never leased beyond the transcriptions it still needs.
    """
    now = timezone.now()
    expires = now + timedelta(seconds=settings.LEASE_SECONDS)
    with transaction.atomic():
        held = list(
            TaskLease.objects.filter(
                user=user, expires_at__gt=now, chunk__language=language, mode=mode
            ).select_related("chunk")
        )
        wanted = count - len(held)
        if wanted <= 0:
            return held[:count]
        # Lock only a little more than needed: every extra locked row is one a
        # concurrent transcriber has to skip.
        candidates = list(
            _open_chunks_for(user, language, mode)
            .select_for_update(skip_locked=True, of=("self",))
            .only("id", "transcriptions_required", "transcriptions_received")[: wanted + 2]
        )
        if not candidates:
            return held
        live = dict(
            TaskLease.objects.filter(chunk__in=candidates, expires_at__gt=now)
            .values_list("chunk")
            .annotate(n=Count("id"))
        )
        chosen = [
            c
            for c in candidates
            if c.transcriptions_received + live.get(c.id, 0) < c.transcriptions_required
        ][:wanted]
        # An expired lease of this user on a chosen chunk is replaced, not duplicated.
        TaskLease.objects.filter(user=user, chunk__in=chosen).delete()
        new = TaskLease.objects.bulk_create(
            [TaskLease(chunk=c, user=user, mode=mode, expires_at=expires) for c in chosen]
        )
    by_id = {c.id: c for c in Chunk.objects.filter(id__in=[c.id for c in chosen])}
    for lease in new:
        lease.chunk = by_id[lease.chunk_id]
    return held + new


def _live_lease(*, user, chunk_id, lock: bool = False) -> TaskLease:
    qs = TaskLease.objects.filter(user=user, chunk_id=chunk_id, expires_at__gt=timezone.now())
    if lock:
        qs = qs.select_for_update()
    lease = qs.select_related("chunk__language").first()
    if lease is None:
        raise TaskError(
            409,
            "You have no live lease on this chunk (it expired or was never yours); "
            "fetch new tasks from /api/tasks/next/.",
        )
    return lease


def transcription_submit(
    *,
    user,
    chunk_id,
    text: str,
    flags: list[str] | None = None,
    time_spent_ms: int | None = None,
    source: str = TranscriptionSource.TYPED,
) -> Transcription:
    """Store a transcription made under a live lease, then trigger a decision.

    The lease is consumed and the chunk's counter bumped in the same
    transaction; the decision is enqueued only after commit.
    """
    flags = sorted(set(flags or []))
    unknown = set(flags) - set(Flag.values)
    if unknown:
        raise TaskError(400, f"Unknown flags: {', '.join(sorted(unknown))}.")
    text = text.strip()
    if not text and not flags:
        raise TaskError(
            400, "Type what you hear, or flag the audio (noise, unintelligible, wrong_language)."
        )
    try:
        with transaction.atomic():
            lease = _live_lease(user=user, chunk_id=chunk_id, lock=True)
            if lease.verify_rejected:
                flags = sorted({*flags, "verify_mismatch"})
            chunk = lease.chunk
            transcription = Transcription.objects.create(
                chunk=chunk,
                user=user,
                text=text,
                normalized_text=hooks.normalize(text, chunk.language.code) if text else "",
                flags=flags,
                source=source,
                time_spent_ms=time_spent_ms,
            )
            lease.delete()
            Chunk.objects.filter(pk=chunk.pk).update(
                transcriptions_received=F("transcriptions_received") + 1
            )
            transaction.on_commit(lambda: hooks.chunk_transcribed(str(chunk.pk)))
    except IntegrityError as exc:
        raise TaskError(409, "You have already transcribed this chunk.") from exc
    return transcription


def chunk_verify(*, user, chunk_id, matches: bool, time_spent_ms: int | None = None):
    """Common Voice's listen-and-vote: "matches" counts as a transcription equal to
    the expected sentence; "does not match" keeps the lease for a typed text."""
    if matches:
        with transaction.atomic():
            lease = _live_lease(user=user, chunk_id=chunk_id, lock=True)
            if not lease.chunk.expected_text:
                raise TaskError(400, "This chunk has no expected sentence to verify.")
            expected = lease.chunk.expected_text
        return transcription_submit(
            user=user,
            chunk_id=chunk_id,
            text=expected,
            time_spent_ms=time_spent_ms,
            source=TranscriptionSource.VERIFIED,
        )
    with transaction.atomic():
        lease = _live_lease(user=user, chunk_id=chunk_id, lock=True)
        lease.verify_rejected = True
        lease.mode = TaskMode.TRANSCRIBE
        lease.expires_at = timezone.now() + timedelta(seconds=settings.LEASE_SECONDS)
        lease.save(update_fields=["verify_rejected", "mode", "expires_at"])
    return None


def task_release(*, user, chunk_id, kind: str, reason: str = "", comment: str = "") -> None:
    """Skip or report a chunk: the lease is released and the chunk not offered again."""
    with transaction.atomic():
        lease = _live_lease(user=user, chunk_id=chunk_id, lock=True)
        lease.delete()
        TaskSkip.objects.get_or_create(
            chunk_id=chunk_id,
            user=user,
            defaults={"kind": kind, "reason": reason, "comment": comment[:500]},
        )
    if kind == SkipReason.REPORT:
        hooks.chunk_transcribed(str(chunk_id))


def lease_purge_expired() -> int:
    deleted, _ = TaskLease.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
