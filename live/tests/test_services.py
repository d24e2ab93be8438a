"""Session rules without a socket: expiry and its clean-up, staging limits, erasure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.test import override_settings
from django.utils import timezone

from live import services, staging
from live.models import LiveSession, LiveStatus
from live.services import LiveRefused
from live.tasks import sessions_expire
from live.tests.conftest import frames_of, reading_source
from recordings.tests.factories import LanguageFactory, make_script

pytestmark = pytest.mark.django_db

PIECES = frames_of(reading_source().read_bytes(), 15.0)


def staged(session) -> list[str]:
    try:
        return default_storage.listdir(f"live/{session.pk}")[1]
    except FileNotFoundError:
        return []


@pytest.fixture
def session(contributor):
    return services.session_start(user=contributor, script=make_script(LanguageFactory()))


def test_idle_sessions_expire_and_lose_their_staging(session, contributor):
    for seq in range(3):
        services.session_append(session=session, seq=seq, payload=PIECES[seq])
    assert len(staged(session)) == 3
    busy = services.session_start(user=contributor, script=session.script)
    services.session_append(session=busy, seq=0, payload=PIECES[0])
    LiveSession.objects.filter(pk=session.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert sessions_expire() == 1
    assert LiveSession.objects.get(pk=session.pk).status == LiveStatus.EXPIRED
    assert staged(session) == []
    assert len(staged(busy)) == 1  # a session in use keeps its audio
    with pytest.raises(LiveRefused) as refused:
        services.session_resume(user=contributor, session_id=session.pk)
    assert refused.value.code == services.EXPIRED


def test_staging_left_by_a_session_that_is_over_is_swept(session):
    services.session_append(session=session, seq=0, payload=PIECES[0])
    LiveSession.objects.filter(pk=session.pk).update(status=LiveStatus.ENDED)
    services.sessions_expire()
    assert staged(session) == []


def test_limits_refuse_without_changing_the_session(session, contributor):
    services.session_append(session=session, seq=0, payload=PIECES[0])
    limit = override_settings(LIVE_STAGING_MAX_BYTES=len(PIECES[0]) + 10)
    with limit, pytest.raises(LiveRefused) as full:
        services.session_append(session=session, seq=1, payload=PIECES[1])
    assert full.value.code == services.STAGING_FULL
    with override_settings(LIVE_MAX_SESSIONS_PER_USER=1), pytest.raises(LiveRefused) as many:
        services.session_start(user=contributor, script=session.script)
    assert many.value.code == services.TOO_MANY
    fresh = services.session_start(user=contributor, script=session.script)
    with pytest.raises(LiveRefused) as not_audio:
        services.session_append(session=fresh, seq=0, payload=b"<html>not audio</html>")
    assert not_audio.value.code == services.UNSUPPORTED
    row = LiveSession.objects.get(pk=session.pk)
    assert (row.next_seq, row.staged_bytes, row.status) == (1, len(PIECES[0]), "active")


def test_a_retried_frame_write_keeps_one_object(session):
    staging.put(session.pk, 0, b"first attempt")
    staging.put(session.pk, 0, PIECES[0])
    assert staged(session) == ["0000000.part"]
    assert staging.read_all(session.pk, 1) == PIECES[0]


def test_erasing_the_account_removes_staged_audio(session, contributor):
    from contributors.signals import user_erased

    services.session_append(session=session, seq=0, payload=PIECES[0])
    user_erased.send(sender=None, user_id=contributor.pk, delete_recordings=False)
    assert LiveSession.objects.get(pk=session.pk).status == LiveStatus.CANCELLED
    assert staged(session) == []


def test_the_socket_speaks_the_readers_language():
    from live.consumers import language_from_scope

    assert language_from_scope({"cookies": {"django_language": "bn"}}) == "bn"
    assert language_from_scope({"headers": [(b"accept-language", b"fr-FR,bn;q=0.8")]}) == "bn"
    assert language_from_scope({"headers": [(b"accept-language", b"en-US,en;q=0.9")]}) == "en"
    assert language_from_scope({"cookies": {}, "headers": []}) == "en"


def test_a_refused_recording_is_explained_in_the_readers_language(contributor):
    from django.utils import translation

    from recordings import services as recording_services
    from recordings.audio import quality
    from recordings.models import Recording

    script = make_script(LanguageFactory(), "আমি দুধ দিয়ে চা খাই।")
    recording = Recording.objects.create(
        contributor=contributor, script=script, sha256="0" * 64, status="processing"
    )
    short = quality.assess(
        quality.QualityMetrics(
            duration=0.4,
            level_dbfs=-20.0,
            peak_dbfs=-3.0,
            clipping_ratio=0.0,
            speech_ratio=0.5,
            speech_dbfs=-20.0,
            noise_dbfs=-60.0,
            snr_db=40.0,
        )
    )
    recording_services.recording_reject(recording_id=recording.id, reason=short)
    # Explicit both ways: a request earlier in the same thread may have left
    # another language active.
    with translation.override("en"):
        english = services.recording_progress(recording_id=recording.id)["rejection_reason"]
    assert english == "The recording is too short (0.4 s). Please read the whole script aloud."
    with translation.override("bn"):
        bangla = services.recording_progress(recording_id=recording.id)["rejection_reason"]
    # Its figures in Bangla digits too.
    assert bangla.startswith("রেকর্ডিংটি খুব ছোট (০.৪ সেকেন্ড)")


def test_a_close_reason_fits_its_frame_in_any_script():
    from live.consumers import close_reason

    bangla = "রেকর্ডিংটি খুব ছোট। অনুগ্রহ করে পুরো লেখাটি জোরে পড়ুন।" * 3
    cut = close_reason(bangla)
    assert len(cut.encode()) <= 123 and bangla.startswith(cut) and len(cut) > 30
    assert close_reason("short") == "short"


def test_one_reader_stages_at_most_their_share(session, contributor, make_user):
    services.session_append(session=session, seq=0, payload=PIECES[0])
    second = services.session_start(user=contributor, script=session.script)
    someone_else = services.session_start(user=make_user(), script=session.script)
    share = override_settings(LIVE_STAGING_MAX_BYTES_PER_USER=2 * len(PIECES[0]) - 1)
    with share, pytest.raises(LiveRefused) as full:
        services.session_append(session=second, seq=0, payload=PIECES[0])
    assert full.value.code == services.STAGING_FULL
    assert "readings in progress" in full.value.reason
    with share:
        assert services.session_append(session=someone_else, seq=0, payload=PIECES[0]) == (1, True)
    # Ending or cancelling a reading gives the room back.
    services.session_cancel(session=session)
    with share:
        assert services.session_append(session=second, seq=0, payload=PIECES[0]) == (1, True)


def test_a_stream_that_does_not_decode_is_discarded(session):
    services.session_append(session=session, seq=0, payload=PIECES[0], undecoded_allowance=10**6)
    with pytest.raises(LiveRefused) as refused:
        services.session_append(
            session=session, seq=1, payload=PIECES[1], undecoded_allowance=len(PIECES[1]) - 1
        )
    assert refused.value.code == services.UNSUPPORTED
    row = LiveSession.objects.get(pk=session.pk)
    assert row.status == LiveStatus.REJECTED and row.detail == refused.value.reason
    assert staged(session) == []
    with pytest.raises(LiveRefused) as after:
        services.session_append(session=session, seq=1, payload=PIECES[1])
    assert after.value.code == services.GONE
