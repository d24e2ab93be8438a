"""What happens to an erased contributor's recordings.

At erasure their chunks stop being handed out for transcription. Their audio is
deleted at once if they asked for that, and otherwise ``ERASURE_GRACE_DAYS``
after the erasure by the periodic sweep. Rows stay as tombstones without audio
keys, so that decided chunks keep their provenance counts; erased contributors
never appear in a new export whatever state their audio is in.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from contributors.models import User
from recordings.models import Chunk, ChunkStatus, Recording

logger = logging.getLogger(__name__)


def recording_withdraw_open_chunks(*, user_id: int) -> int:
    """Reject ``user_id``'s chunks still waiting for transcriptions; returns how many.

    Nobody should spend effort on audio that will never be exported, nor be
    handed a link to audio that is about to disappear.
    """
    return Chunk.objects.filter(recording__contributor_id=user_id, status=ChunkStatus.OPEN).update(
        status=ChunkStatus.REJECTED
    )


def recording_audio_delete_for_user(*, user_id: int) -> int:
    """Delete every audio object of ``user_id``'s recordings and chunks; returns how many.

    Objects are deleted before their keys are cleared, and outside any
    transaction (no storage calls while holding row locks): a crash in between
    leaves keys that the next sweep deletes again — deleting a missing object
    is not an error — rather than objects nobody knows about any more.
    """
    recording_withdraw_open_chunks(user_id=user_id)
    recording_keys = list(
        Recording.objects.filter(contributor_id=user_id)
        .exclude(audio="")
        .values_list("audio", flat=True)
    )
    chunk_keys = list(
        Chunk.objects.filter(recording__contributor_id=user_id)
        .exclude(audio="")
        .values_list("audio", flat=True)
    )
    for key in (*chunk_keys, *recording_keys):
        default_storage.delete(key)
    with transaction.atomic():
        Chunk.objects.filter(recording__contributor_id=user_id, audio__in=chunk_keys).update(
            audio=""
        )
        Recording.objects.filter(contributor_id=user_id, audio__in=recording_keys).update(audio="")
    count = len(recording_keys) + len(chunk_keys)
    logger.info("deleted %d audio objects of erased user %s", count, user_id)
    return count


def erased_audio_due(*, now=None):
    """Erased contributors whose grace period is over and who still have audio."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.ERASURE_GRACE_DAYS)
    has_audio = Q(pk__in=Recording.objects.exclude(audio="").values("contributor_id")) | Q(
        pk__in=Chunk.objects.exclude(audio="").values("recording__contributor_id")
    )
    return User.objects.filter(erased_at__lte=cutoff).filter(has_audio)


def erased_audio_sweep(*, now=None) -> int:
    """Delete the audio of every erased contributor whose grace period is over.

    Idempotent: a contributor whose audio is gone is not selected again.
    Returns how many objects were deleted.
    """
    deleted = 0
    for user_id in erased_audio_due(now=now).values_list("pk", flat=True):
        deleted += recording_audio_delete_for_user(user_id=user_id)
    return deleted
