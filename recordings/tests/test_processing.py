"""recordings.process run in-process: idempotence, crash safety, the sweeper."""

import json
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from recordings import services
from recordings.models import Chunk, Recording, RecordingStatus
from recordings.tests import audio_files
from recordings.tests.factories import LanguageFactory, make_script
from recordings.tests.test_upload_api import stored_keys
from shrutik.tests.broker import queue_length, take_newest

pytestmark = pytest.mark.django_db


class Crash(Exception):
    """Stands for the worker dying at this point."""


@pytest.fixture
def uploaded(contributor):
    meta = json.loads(audio_files.READING_JSON.read_text())
    script = make_script(LanguageFactory(), meta["script"])
    recording = Recording.objects.create(
        contributor=contributor, script=script, sha256="0" * 64, container="matroska,webm"
    )
    key = f"recordings/{recording.id}/original.webm"
    recording.audio.name = default_storage.save(key, ContentFile(audio_files.READING.read_bytes()))
    recording.save()
    return recording, meta


def test_processing_twice_gives_the_same_single_set_of_chunks(uploaded, s3_server):
    recording, meta = uploaded
    services.recording_process(recording_id=recording.id)
    first = list(Chunk.objects.filter(recording=recording).values_list("index", "start", "end"))
    services.recording_process(recording_id=recording.id)  # already chunked: a no-op
    assert list(Chunk.objects.filter(recording=recording).values_list("index", "start", "end")) == (
        first
    )
    assert len(first) == len(meta["sentences"])
    assert len(stored_keys(s3_server, f"chunks/{recording.id}/")) == len(first)
    # A chunk cut with its sentence first asks listeners to vote on it.
    modes = Chunk.objects.filter(recording=recording).values_list("expected_text", "task_mode")
    assert {mode for _, mode in modes} == {"verify"}
    assert all(text for text, _ in modes)


@pytest.mark.parametrize("crash_after_puts", [0, 1, 3, 6])
def test_a_rerun_after_a_crash_at_any_point_leaves_exactly_one_set(
    uploaded, s3_server, monkeypatch, crash_after_puts
):
    recording, meta = uploaded
    real_put = services.storage_put_bytes
    calls = {"n": 0}

    def crashing_put(key, data):
        if calls["n"] == crash_after_puts:
            raise Crash(key)
        calls["n"] += 1
        return real_put(key, data)

    monkeypatch.setattr(services, "storage_put_bytes", crashing_put)
    with pytest.raises(Crash):
        services.recording_process(recording_id=recording.id)
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.PROCESSING
    assert not Chunk.objects.filter(recording=recording).exists()

    monkeypatch.setattr(services, "storage_put_bytes", real_put)
    services.recording_process(recording_id=recording.id)  # redelivery / sweeper
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.CHUNKED
    assert recording.processing_attempts == 2
    n = len(meta["sentences"])
    assert Chunk.objects.filter(recording=recording).count() == n
    assert sorted(stored_keys(s3_server, f"chunks/{recording.id}/")) == sorted(
        f"chunks/{recording.id}/{i}.flac" for i in range(n)
    )


def test_stale_chunk_objects_from_an_earlier_run_are_removed(uploaded, s3_server):
    recording, meta = uploaded
    default_storage.save(f"chunks/{recording.id}/99.flac", ContentFile(b"old"))
    services.recording_process(recording_id=recording.id)
    keys = stored_keys(s3_server, f"chunks/{recording.id}/")
    assert f"chunks/{recording.id}/99.flac" not in keys
    assert len(keys) == len(meta["sentences"])


def test_sweeper_requeues_stuck_recordings_and_gives_up_eventually(uploaded, settings):
    recording, _ = uploaded
    old = timezone.now() - timedelta(hours=1)
    Recording.objects.filter(pk=recording.pk).update(updated_at=old)
    before = queue_length("audio")
    assert services.recording_sweep() == 1
    assert queue_length("audio") == before + 1
    assert take_newest("audio") == ("recordings.process", [str(recording.id)], {})
    assert services.recording_sweep() == 0  # touched: waits a full period

    Recording.objects.filter(pk=recording.pk).update(
        updated_at=old, processing_attempts=settings.RECORDING_MAX_ATTEMPTS
    )
    assert services.recording_sweep() == 0
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.FAILED
    assert "Gave up" in recording.error


def test_sweeper_leaves_an_attempt_alone_until_it_is_past_its_time_limit(uploaded, settings):
    # A reading in processing for longer than RECORDING_STUCK_AFTER_SECONDS may
    # still be on a live worker: a second attempt would process it twice.
    recording, _ = uploaded
    started = timezone.now() - timedelta(seconds=settings.RECORDING_STUCK_AFTER_SECONDS + 60)
    Recording.objects.filter(pk=recording.pk).update(
        status=RecordingStatus.PROCESSING, updated_at=started
    )
    assert settings.RECORDING_STUCK_AFTER_SECONDS + 60 < settings.RECORDING_PROCESS_TIME_LIMIT
    assert services.recording_sweep() == 0
    past = timezone.now() - timedelta(seconds=settings.RECORDING_PROCESS_TIME_LIMIT + 61)
    Recording.objects.filter(pk=recording.pk).update(updated_at=past)
    assert services.recording_sweep() == 1


def test_a_missing_recording_is_not_an_error(uploaded):
    """A recording deleted (erased) before its message ran: the task succeeds,
    neither failing nor retrying, and touches no other recording."""
    import uuid

    from recordings import tasks

    waiting, _ = uploaded
    result = tasks.recording_process.apply(args=[str(uuid.uuid4())])
    assert result.state == "SUCCESS", result.traceback
    waiting.refresh_from_db()
    assert waiting.status == RecordingStatus.UPLOADED and waiting.processing_attempts == 0
    assert not Chunk.objects.exists()


def test_reprocess_replaces_chunks(uploaded, django_capture_on_commit_callbacks):
    recording, meta = uploaded
    services.recording_process(recording_id=recording.id)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.recording_reprocess(recording_id=recording.id)
    assert len(callbacks) == 1
    services.recording_process(recording_id=recording.id)
    assert Chunk.objects.filter(recording=recording).count() == len(meta["sentences"])


def test_reprocess_is_refused_once_chunks_are_transcribed(uploaded):
    recording, _ = uploaded
    services.recording_process(recording_id=recording.id)
    Chunk.objects.filter(recording=recording, index=0).update(transcriptions_received=1)
    with pytest.raises(ValueError, match="transcriptions"):
        services.recording_reprocess(recording_id=recording.id)
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.CHUNKED
