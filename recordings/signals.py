"""Receivers for other apps' signals (connected in RecordingsConfig.ready)."""

from __future__ import annotations

import logging

from django.core.files.storage import default_storage
from django.db import transaction

from recordings.models import Chunk, ChunkStatus, Recording

logger = logging.getLogger(__name__)


def recording_audio_delete_for_user(*, user_id: int) -> int:
    """Delete every audio object of ``user_id``'s recordings and chunks; returns how many.

    The rows stay (decided chunks keep their provenance counts) but lose their
    audio keys, and chunks still waiting for transcriptions are rejected so that
    nobody is handed a link to audio that no longer exists. Objects are deleted
    after the commit: no storage calls while holding row locks.
    """
    with transaction.atomic():
        recordings = Recording.objects.select_for_update().filter(contributor_id=user_id)
        keys = [key for key in recordings.values_list("audio", flat=True) if key]
        chunks = Chunk.objects.filter(recording__contributor_id=user_id)
        keys += [key for key in chunks.values_list("audio", flat=True) if key]
        chunks.filter(status=ChunkStatus.OPEN).update(status=ChunkStatus.REJECTED)
        chunks.update(audio="")
        recordings.update(audio="")
    for key in keys:
        default_storage.delete(key)
    logger.info("deleted %d audio objects of erased user %s", len(keys), user_id)
    return len(keys)


def on_user_erased(sender, *, user_id: int, delete_recordings: bool = False, **kwargs) -> None:
    if delete_recordings:
        recording_audio_delete_for_user(user_id=user_id)
