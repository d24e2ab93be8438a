"""An erased contributor's audio: gone at once on request, else after the grace period."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from contributors.services import user_erase
from recordings import erasure, tasks
from recordings.models import Chunk, ChunkStatus, Recording
from recordings.tests.factories import make_chunks

pytestmark = pytest.mark.django_db


@pytest.fixture
def erase(django_capture_on_commit_callbacks):
    """Erase as the service does, running what it defers to the commit."""

    def run(user, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            user_erase(user=user, **kwargs)

    return run


def with_audio(user, n=2, status=ChunkStatus.OPEN):
    """A recording of ``user`` with its original and ``n`` chunk objects in storage."""
    chunks = make_chunks(n, contributor=user, status=status)
    recording = chunks[0].recording
    recording.audio.name = default_storage.save(
        f"recordings/{recording.id}/original.webm", ContentFile(b"original audio")
    )
    recording.save(update_fields=["audio"])
    for chunk in chunks:
        default_storage.save(chunk.audio.name, ContentFile(b"chunk audio"))
    return recording


def keys_of(recording) -> list[str]:
    recording.refresh_from_db()
    return [recording.audio.name, *recording.chunks.values_list("audio", flat=True)]


def stored(keys) -> list[bool]:
    return [bool(key) and default_storage.exists(key) for key in keys]


def test_erasing_without_immediate_deletion_keeps_audio_for_the_grace_period(make_user, erase):
    user, other = make_user(), make_user()
    mine = with_audio(user)
    decided = with_audio(user, n=1, status=ChunkStatus.VALIDATED)
    theirs = with_audio(other)
    keys = keys_of(mine) + keys_of(decided)

    erase(user)
    # Nobody transcribes audio that will never be exported...
    assert set(mine.chunks.values_list("status", flat=True)) == {ChunkStatus.REJECTED}
    assert decided.chunks.get().status == ChunkStatus.VALIDATED
    # ...but the audio stays until the grace period is over.
    assert all(stored(keys))
    user.refresh_from_db()
    almost = user.erased_at + timedelta(days=settings.ERASURE_GRACE_DAYS) - timedelta(hours=1)
    assert erasure.erased_audio_sweep(now=almost) == 0
    assert all(stored(keys))

    after = user.erased_at + timedelta(days=settings.ERASURE_GRACE_DAYS, hours=1)
    assert erasure.erased_audio_sweep(now=after) == len(keys)
    assert not any(stored(keys))
    # Rows stay as tombstones without keys; other people's audio is untouched.
    assert keys_of(mine) == ["", "", ""] and keys_of(decided) == ["", ""]
    assert Chunk.objects.filter(recording__contributor=user).count() == 3
    assert all(stored(keys_of(theirs)))
    assert set(theirs.chunks.values_list("status", flat=True)) == {ChunkStatus.OPEN}

    assert erasure.erased_audio_sweep(now=after) == 0  # idempotent


def test_immediate_deletion_on_request(make_user, erase):
    user = make_user()
    recording = with_audio(user)
    keys = keys_of(recording)
    erase(user, delete_recordings=True)
    assert not any(stored(keys))
    assert keys_of(recording) == ["", "", ""]
    assert Recording.objects.filter(contributor=user).exists()


def test_a_sweep_interrupted_after_deleting_objects_finishes_next_time(make_user, erase):
    user = make_user()
    recording = with_audio(user)
    keys = keys_of(recording)
    erase(user)
    later = timezone.now() + timedelta(days=settings.ERASURE_GRACE_DAYS + 1)

    # The objects went, then the process died before the keys were cleared.
    for key in keys:
        default_storage.delete(key)
    assert erasure.erased_audio_due(now=later).filter(pk=user.pk).exists()
    assert erasure.erased_audio_sweep(now=later) == len(keys)
    assert keys_of(recording) == ["", "", ""]
    assert not erasure.erased_audio_due(now=later).exists()


def test_the_sweep_is_a_periodic_task(make_user, erase):
    entry = settings.CELERY_BEAT_SCHEDULE["recordings-erased-audio-sweep"]
    assert entry["task"] == tasks.erased_audio_sweep.name
    user = make_user()
    recording = with_audio(user)
    keys = keys_of(recording)
    erase(user)
    type(user).objects.filter(pk=user.pk).update(
        erased_at=timezone.now() - timedelta(days=settings.ERASURE_GRACE_DAYS + 1)
    )
    assert tasks.erased_audio_sweep.apply().get() == len(keys)
    assert not any(stored(keys))
