"""Writes on the transcription side: leasing chunks, submitting, skipping."""

from __future__ import annotations

import functools
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from recordings.models import Chunk, Language
from shrutik.exceptions import ApplicationError
from transcriptions.models import (
    Flag,
    SkipReason,
    TaskLease,
    TaskMode,
    TaskSkip,
    Transcription,
    TranscriptionSource,
)
from transcriptions.normalize import normalize
from transcriptions.signals import chunk_transcribed

_FLAGS_FIELD = Transcription._meta.get_field("flags")

NO_LEASE = gettext_noop(
    "You have no live lease on this chunk (it expired or was never yours); "
    "fetch new tasks from /api/tasks/next/."
)
NOT_A_VERIFY_LEASE = gettext_noop(
    "This chunk was given to you to transcribe, not to verify; "
    "send what you hear to /api/transcriptions/."
)


# ``mode`` of a task request that lets each chunk say what it needs next.
AUTO = "auto"


def _candidates_sql(*, mode: str, lock: bool) -> str:
    """The assignment query, written once by hand.

    It runs on every task request; building it through the ORM cost three
    times its execution time. Open chunks of the language that the user did not
    record, transcribe, skip or hold, whose remaining need is not already
    covered by live leases, best first (served by the partial index
    ``chunk_assign_idx``). ``verify`` asks only for chunks that want votes on
    their sentence; ``transcribe`` and ``auto`` take any. Table names come from
    the models.
    """
    chunk = Chunk._meta.db_table
    transcription = Transcription._meta.db_table
    skip = TaskSkip._meta.db_table
    lease = TaskLease._meta.db_table
    verify_only = (
        f"AND c.expected_text <> '' AND c.task_mode = '{TaskMode.VERIFY}'"
        if mode == TaskMode.VERIFY
        else ""
    )
    return f"""
        SELECT c.id, c.transcriptions_required, c.transcriptions_received,
               c.audio, c.duration, c.expected_text, c.task_mode
        FROM {chunk} c
        WHERE c.status = 'open' AND c.language_id = %(language)s
          AND c.contributor_id <> %(user)s
          {verify_only}
          AND NOT EXISTS (SELECT 1 FROM {transcription} t
                          WHERE t.chunk_id = c.id AND t.user_id = %(user)s)
          AND NOT EXISTS (SELECT 1 FROM {skip} s WHERE s.chunk_id = c.id AND s.user_id = %(user)s)
          AND NOT EXISTS (SELECT 1 FROM {lease} m WHERE m.chunk_id = c.id
                          AND m.user_id = %(user)s AND m.expires_at > %(now)s)
          AND c.transcriptions_received + (SELECT count(*) FROM {lease} l
                WHERE l.chunk_id = c.id AND l.expires_at > %(now)s) < c.transcriptions_required
        ORDER BY c.transcriptions_received, c.created_at
        LIMIT %(limit)s
        {"FOR UPDATE OF c SKIP LOCKED" if lock else ""}
    """


@functools.cache
def _cached_candidates_sql(mode: str, lock: bool) -> str:
    return _candidates_sql(mode=mode, lock=lock)


def _lock_candidates(*, user, language: Language, mode: str, limit: int, now) -> list[Chunk]:
    # SQLite has no row locks; its IMMEDIATE transactions serialise writers.
    lock = connection.features.has_select_for_update_skip_locked
    sql = _cached_candidates_sql(mode, lock)
    params = {
        "language": language.pk,
        "user": user.pk,
        "now": connection.ops.adapt_datetimefield_value(now),
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        Chunk(
            id=uuid.UUID(str(row[0])),
            language=language,
            transcriptions_required=row[1],
            transcriptions_received=row[2],
            audio=row[3],
            duration=row[4],
            expected_text=row[5],
            task_mode=row[6],
        )
        for row in rows
    ]


def _held_leases(*, user, language: Language, mode: str, now) -> list[TaskLease]:
    """The user's live leases of this language (and of ``mode``, unless it is
    ``auto``), chunk fields included.

    A raw query (through ``TaskLease.objects.raw``, which still applies the
    field converters) because it runs on every task request, mostly to find
    nothing; compiling it through the ORM cost more than running it.
    """
    lease, chunk = TaskLease._meta.db_table, Chunk._meta.db_table
    params = [user.pk, connection.ops.adapt_datetimefield_value(now), language.pk]
    if mode != AUTO:
        params.append(mode)
    held = TaskLease.objects.raw(
        f"""
        SELECT l.id, l.chunk_id, l.user_id, l.mode, l.verify_rejected, l.created_at,
               l.expires_at, c.audio AS chunk_audio, c.duration AS chunk_duration,
               c.expected_text AS chunk_expected_text
        FROM {lease} l JOIN {chunk} c ON c.id = l.chunk_id
        WHERE l.user_id = %s AND l.expires_at > %s AND c.language_id = %s
          {"AND l.mode = %s" if mode != AUTO else ""}
        ORDER BY l.id
        """,
        params,
    )
    out = []
    for item in held:
        item.chunk = Chunk(
            id=item.chunk_id,
            language=language,
            audio=item.chunk_audio,
            duration=item.chunk_duration,
            expected_text=item.chunk_expected_text,
        )
        item.user = user
        out.append(item)
    return out


def _insert_leases(
    *, user, candidates: list[Chunk], wanted: int, mode: str, now, expires
) -> dict[uuid.UUID, tuple[int, str]]:
    """Lease the first ``wanted`` candidates that still need work; one statement.

    It re-counts live leases in a statement of its own, after the candidate
    rows are locked: under READ COMMITTED each statement takes a new snapshot,
    so this one sees leases other transactions committed after the candidate
    query's snapshot, and a chunk is never leased beyond what it still needs.
    An expired lease of this user on a chosen chunk is renewed in place (the
    upsert), never duplicated. With ``auto`` each lease takes its chunk's
    ``task_mode`` as it stands under the row lock. Returns
    ``{chunk id: (lease id, lease mode)}``.
    """
    lease, chunk = TaskLease._meta.db_table, Chunk._meta.db_table
    pk = Chunk._meta.pk
    ids = {f"c{k}": pk.get_db_prep_value(c.id, connection) for k, c in enumerate(candidates)}
    adapt = connection.ops.adapt_datetimefield_value
    sql = f"""
        INSERT INTO {lease} (chunk_id, user_id, mode, verify_rejected, created_at, expires_at)
        SELECT c.id, %(user)s, {"c.task_mode" if mode == AUTO else "%(mode)s"}, %(no)s,
               %(now)s, %(expires)s
        FROM {chunk} c
        WHERE c.id IN ({", ".join(f"%({name})s" for name in ids)})
          AND c.transcriptions_received + (SELECT count(*) FROM {lease} l
                WHERE l.chunk_id = c.id AND l.expires_at > %(now)s) < c.transcriptions_required
        ORDER BY c.transcriptions_received, c.created_at
        LIMIT %(wanted)s
        ON CONFLICT (chunk_id, user_id) DO UPDATE SET mode = excluded.mode,
            verify_rejected = excluded.verify_rejected, created_at = excluded.created_at,
            expires_at = excluded.expires_at
        RETURNING chunk_id, id, mode
    """
    params = {
        **ids,
        "user": user.pk,
        "mode": mode,
        "no": False,
        "now": adapt(now),
        "expires": adapt(expires),
        "wanted": wanted,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {
            uuid.UUID(str(chunk_id)): (lease_id, lease_mode)
            for chunk_id, lease_id, lease_mode in cursor.fetchall()
        }


def chunk_lease_next(*, user, language: Language, count: int, mode: str = AUTO) -> list[TaskLease]:
    """Lease up to ``count`` chunks to ``user``; returns all their live leases there.

    ``mode`` ``auto`` serves any open chunk, each in the mode it asks for
    (``Chunk.task_mode``); ``transcribe`` leases any open chunk for typing;
    ``verify`` only chunks that ask for votes on their sentence.

    Candidate rows are locked with ``FOR UPDATE SKIP LOCKED``: concurrent callers
    each take different chunks instead of queueing on the same ones, and while a
    chunk is locked the count of its live leases cannot change under us, so a
    chunk is never leased beyond the transcriptions it still needs.
    """
    now = timezone.now()
    expires = now + timedelta(seconds=settings.LEASE_SECONDS)
    with transaction.atomic():
        held = _held_leases(user=user, language=language, mode=mode, now=now)
        wanted = count - len(held)
        if wanted <= 0:
            return held[:count]
        # Lock only a little more than needed: every extra locked row is one a
        # concurrent transcriber has to skip.
        candidates = _lock_candidates(
            user=user, language=language, mode=mode, limit=wanted + 2, now=now
        )
        if not candidates:
            return held
        leased = _insert_leases(
            user=user, candidates=candidates, wanted=wanted, mode=mode, now=now, expires=expires
        )
    return held + [
        TaskLease(
            id=leased[c.id][0],
            chunk=c,
            user=user,
            mode=leased[c.id][1],
            verify_rejected=False,
            created_at=now,
            expires_at=expires,
        )
        for c in candidates
        if c.id in leased
    ]


def _live_lease(*, user, chunk_id, lock: bool = False) -> TaskLease:
    qs = TaskLease.objects.filter(user=user, chunk_id=chunk_id, expires_at__gt=timezone.now())
    if lock:
        qs = qs.select_for_update()
    lease = qs.select_related("chunk__language").first()
    if lease is None:
        raise ApplicationError(409, _(NO_LEASE))
    return lease


def transcription_submit(
    *,
    user,
    chunk_id,
    text: str,
    flags: list[str] | None = None,
    time_spent_ms: int | None = None,
) -> Transcription:
    """Store a typed transcription made under a live lease (of either mode: a
    listener may type what they heard instead of voting), then trigger a
    decision. Typed text equal to the sentence counts as a yes in the engine."""
    flags = sorted(set(flags or []))
    unknown = set(flags) - set(Flag.values)
    if unknown:
        raise ApplicationError(
            400, _("Unknown flags: {flags}.").format(flags=", ".join(sorted(unknown)))
        )
    text = text.strip()
    if not text and not flags:
        raise ApplicationError(
            400, _("Type what you hear, or flag the audio (noise, unintelligible, wrong_language).")
        )
    return _answer_store(
        user=user, chunk_id=chunk_id, text=text, flags=flags, time_spent_ms=time_spent_ms
    )


def chunk_verify(
    *,
    user,
    chunk_id,
    matches: bool,
    text: str | None = None,
    time_spent_ms: int | None = None,
) -> Transcription:
    """A listener's answer, under a verify lease, to "does the clip say this
    sentence?": a vote either way (Common Voice's listen-and-vote; a "no" asks
    nothing more of them). A listener who answers no and types what they heard
    gives a typed transcription instead, which says more than the vote."""
    text = (text or "").strip()
    typed = bool(text) and not matches
    return _answer_store(
        user=user,
        chunk_id=chunk_id,
        text=text if typed else "",
        vote=None if typed else matches,
        flags=[],
        time_spent_ms=time_spent_ms,
        lease_mode=TaskMode.VERIFY,
    )


def _answer_store(
    *,
    user,
    chunk_id,
    flags: list[str],
    time_spent_ms: int | None,
    text: str = "",
    vote: bool | None = None,
    lease_mode: str | None = None,
) -> Transcription:
    """Consume the user's live lease on the chunk (of ``lease_mode`` when given)
    and store their answer: typed ``text``, or a ``vote`` on the chunk's
    sentence (stored as the sentence for a yes, empty for a no).

    The lease is consumed and the chunk's counter bumped in the same
    transaction; the decision is triggered only after commit.
    """
    chunk_db_id = Chunk._meta.pk.get_db_prep_value(chunk_id, connection)
    created_at = timezone.now()
    now = connection.ops.adapt_datetimefield_value(created_at)
    lease_table, chunk_table = TaskLease._meta.db_table, Chunk._meta.db_table
    transcription_table = Transcription._meta.db_table
    source = TranscriptionSource.TYPED if vote is None else TranscriptionSource.VERIFIED
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            # Consuming the lease is the claim: of two concurrent submits for one
            # lease only one deletes it. Plain SQL because this is the hottest
            # write path: the ORM would need a SELECT before each change, and
            # compiling its INSERT cost as much as running it.
            cursor.execute(
                f"DELETE FROM {lease_table} WHERE user_id = %s AND chunk_id = %s"
                f" AND expires_at > %s {'AND mode = %s' if lease_mode else ''}"
                " RETURNING verify_rejected",
                [user.pk, chunk_db_id, now, *([lease_mode] if lease_mode else [])],
            )
            lease = cursor.fetchone()
            if lease is None:
                raise ApplicationError(409, _(_no_lease_reason(user, chunk_id, lease_mode)))
            if lease[0]:
                flags = sorted({*flags, "verify_mismatch"})
            cursor.execute(
                f"UPDATE {chunk_table} SET transcriptions_received = transcriptions_received + 1"
                " WHERE id = %s RETURNING expected_text",
                [chunk_db_id],
            )
            (expected,) = cursor.fetchone()
            if vote is not None:
                if not expected:
                    # Rolls the lease and the counter back with it.
                    raise ApplicationError(400, _("This chunk has no expected sentence to verify."))
                text = expected if vote else ""
            transcription = Transcription(
                chunk_id=chunk_id,
                user=user,
                text=text,
                normalized_text=normalize(text) if text else "",
                flags=flags,
                source=source,
                vote=vote,
                time_spent_ms=time_spent_ms,
                created_at=created_at,
            )
            cursor.execute(
                f"INSERT INTO {transcription_table} (chunk_id, user_id, text, normalized_text,"
                " flags, source, vote, time_spent_ms, created_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                [
                    chunk_db_id,
                    user.pk,
                    transcription.text,
                    transcription.normalized_text,
                    _FLAGS_FIELD.get_db_prep_save(flags, connection),
                    source,
                    vote,
                    time_spent_ms,
                    now,
                ],
            )
            (transcription.id,) = cursor.fetchone()
            transcription._state.adding = False
            transcription._state.db = connection.alias
            transaction.on_commit(lambda: _transcribed(chunk_id))
    except IntegrityError as exc:
        raise ApplicationError(409, _("You have already transcribed this chunk.")) from exc
    return transcription


def _no_lease_reason(user, chunk_id, lease_mode: str | None) -> str:
    """Why no lease was consumed (the failure path only: one more query)."""
    if lease_mode is not None and (
        TaskLease.objects.filter(user=user, chunk_id=chunk_id, expires_at__gt=timezone.now())
        .exclude(mode=lease_mode)
        .exists()
    ):
        return NOT_A_VERIFY_LEASE
    return NO_LEASE


def task_release(*, user, chunk_id, kind: str | None, reason: str = "", comment: str = "") -> None:
    """Give a leased chunk back. ``skip`` and ``report`` also keep it from being
    offered to this user again; ``None`` just hands it back (the user left)."""
    with transaction.atomic():
        lease = _live_lease(user=user, chunk_id=chunk_id, lock=True)
        lease.delete()
        if kind is None:
            return
        TaskSkip.objects.get_or_create(
            chunk_id=chunk_id,
            user=user,
            defaults={"kind": kind, "reason": reason, "comment": comment[:500]},
        )
    if kind == SkipReason.REPORT:
        _transcribed(chunk_id)


def _transcribed(chunk_id) -> None:
    chunk_transcribed.send(sender=Transcription, chunk_id=str(chunk_id))


def leases_release_for_users(user_ids) -> int:
    """Hand back every chunk these contributors hold (they were blocked)."""
    deleted, _per_model = TaskLease.objects.filter(user_id__in=user_ids).delete()
    return deleted


def lease_purge_expired() -> int:
    deleted, _per_model = TaskLease.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
