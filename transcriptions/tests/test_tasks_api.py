"""Leasing chunks, submitting, verifying, skipping — the transcriber's API."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from recordings.models import Chunk
from recordings.tests.factories import make_chunks
from transcriptions import services
from transcriptions.models import TaskLease, TaskSkip, Transcription

pytestmark = pytest.mark.django_db


def lease(client, count=5, mode="transcribe", language="bn"):
    return client.get("/api/tasks/next/", {"language": language, "count": count, "mode": mode})


def submit(client, chunk, text="আমি দুধ দিয়ে চা খাই", **extra):
    return client.post(
        "/api/transcriptions/", {"chunk": str(chunk), "text": text, **extra}, format="json"
    )


def test_leases_open_chunks_fewest_transcriptions_first(auth_client):
    chunks = make_chunks(4)
    Chunk.objects.filter(pk=chunks[0].pk).update(transcriptions_received=1)
    response = lease(auth_client, count=3)
    assert response.status_code == 200
    body = response.json()
    assert [t["chunk"] for t in body] == [str(c.id) for c in chunks[1:4]]
    assert body[0]["expected_text"] is None  # transcribers never see the script
    assert body[0]["audio_url"] and body[0]["duration"] == 2.5
    assert TaskLease.objects.filter(user=auth_client.user).count() == 3


def test_never_leases_own_chunks_or_done_or_skipped_ones(auth_client, make_user):
    own = make_chunks(1, contributor=auth_client.user)
    others = make_chunks(3)
    Transcription.objects.create(chunk=others[0], user=auth_client.user, text="x")
    TaskSkip.objects.create(chunk=others[1], user=auth_client.user, kind="skip")
    body = lease(auth_client).json()
    assert [t["chunk"] for t in body] == [str(others[2].id)]
    assert own[0].id not in {t["chunk"] for t in body}


def test_asking_again_returns_the_same_live_leases(auth_client):
    make_chunks(3)
    first = lease(auth_client, count=2).json()
    again = lease(auth_client, count=2).json()
    assert len(first) == 2
    for item in (*first, *again):
        item["audio_url"] = bool(item["audio_url"])  # signed anew on each answer
    assert first == again
    assert TaskLease.objects.count() == 2


def test_a_chunk_is_not_leased_beyond_what_it_still_needs(api_client, make_user):
    make_chunks(1, transcriptions_required=2)
    got = []
    for _ in range(4):
        user = make_user()
        api_client.force_authenticate(user)
        got.append(len(lease(api_client).json()))
    assert got == [1, 1, 0, 0]


def test_expired_leases_free_the_chunk(api_client, make_user):
    make_chunks(1, transcriptions_required=1)
    first, second = make_user(), make_user()
    api_client.force_authenticate(first)
    assert len(lease(api_client).json()) == 1
    api_client.force_authenticate(second)
    assert lease(api_client).json() == []
    TaskLease.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert len(lease(api_client).json()) == 1


def test_submit_needs_a_live_lease(auth_client):
    (chunk,) = make_chunks(1)
    response = submit(auth_client, chunk.id)
    assert response.status_code == 409
    assert "lease" in response.json()["detail"]


def test_submit_stores_raw_and_normalised_text_and_triggers_a_decision(
    auth_client, django_capture_on_commit_callbacks
):
    (chunk,) = make_chunks(1)
    lease(auth_client)
    with django_capture_on_commit_callbacks() as callbacks:
        response = submit(auth_client, chunk.id, text="  আমি দুধ দিয়ে চা খাই। ", time_spent_ms=4200)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["text"] == "আমি দুধ দিয়ে চা খাই।"
    assert body["normalized_text"] == "আমি দুধ দিয়ে চা খাই"
    chunk.refresh_from_db()
    assert chunk.transcriptions_received == 1
    assert not TaskLease.objects.exists()
    assert len(callbacks) >= 1


def test_second_submission_for_the_same_chunk_is_409(auth_client):
    (chunk,) = make_chunks(1)
    lease(auth_client)
    assert submit(auth_client, chunk.id).status_code == 201
    # Even with a forged lease the database refuses a second transcription.
    TaskLease.objects.create(
        chunk=chunk, user=auth_client.user, expires_at=timezone.now() + timedelta(minutes=5)
    )
    response = submit(auth_client, chunk.id)
    assert response.status_code == 409
    assert "already" in response.json()["detail"]
    assert Transcription.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "phrase"),
    [
        ({"text": "", "flags": []}, "Type what you hear"),
        ({"text": "x", "flags": ["loud"]}, "flags"),
        ({"text": "x" * 2001}, "text"),
        ({"chunk": "not-a-uuid"}, "chunk"),
    ],
)
def test_bad_submissions_get_400_with_detail(auth_client, payload, phrase):
    (chunk,) = make_chunks(1)
    lease(auth_client)
    body = {"chunk": str(chunk.id), "text": "x", **payload}
    response = auth_client.post("/api/transcriptions/", body, format="json")
    assert response.status_code == 400
    assert phrase in response.json()["detail"]


def test_flag_only_submission_is_accepted(auth_client):
    (chunk,) = make_chunks(1)
    lease(auth_client)
    response = submit(auth_client, chunk.id, text="", flags=["unintelligible"])
    assert response.status_code == 201
    assert response.json()["flags"] == ["unintelligible"]
    # What the API answered is what the database holds.
    stored = Transcription.objects.get(pk=response.json()["id"])
    assert stored.flags == ["unintelligible"]
    assert stored.chunk_id == chunk.id
    assert stored.created_at.isoformat().replace("+00:00", "Z") == response.json()["created_at"]


def test_skip_and_report_release_the_lease_for_good(auth_client):
    a, b = make_chunks(2)
    lease(auth_client)
    assert auth_client.post(f"/api/tasks/{a.id}/skip/", {}, format="json").status_code == 200
    response = auth_client.post(
        f"/api/tasks/{b.id}/report/", {"reason": "offensive", "comment": "slur"}, format="json"
    )
    assert response.status_code == 200
    assert not TaskLease.objects.exists()
    assert lease(auth_client).json() == []
    assert TaskSkip.objects.get(chunk=b).kind == "report"
    assert auth_client.post(f"/api/tasks/{a.id}/skip/", {}, format="json").status_code == 409


def test_verify_mode_shows_the_sentence_and_match_counts_as_transcription(auth_client):
    sentence = "আমি দুধ দিয়ে চা খাই।"
    (chunk,) = make_chunks(1, expected_text=sentence)
    make_chunks(1)  # no expected text: never offered for verification
    body = lease(auth_client, mode="verify").json()
    assert [t["chunk"] for t in body] == [str(chunk.id)]
    assert body[0]["expected_text"] == sentence
    response = auth_client.post(f"/api/tasks/{chunk.id}/verify/", {"matches": True}, format="json")
    assert response.status_code == 201
    assert Transcription.objects.get().text == sentence
    assert Transcription.objects.get().source == "verified"


def test_verify_mismatch_is_a_vote_and_consumes_the_lease(auth_client):
    sentence = "আমি দুধ দিয়ে চা খাই।"
    (chunk,) = make_chunks(1, expected_text=sentence)
    lease(auth_client, mode="verify")
    response = auth_client.post(f"/api/tasks/{chunk.id}/verify/", {"matches": False}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["vote"], body["text"], body["source"]) == (False, "", "verified")
    stored = Transcription.objects.get()
    assert (stored.vote, stored.text, stored.chunk_id) == (False, "", chunk.id)
    assert not TaskLease.objects.exists()  # nothing more is asked of the listener
    chunk.refresh_from_db()
    assert chunk.transcriptions_received == 1
    assert submit(auth_client, chunk.id).status_code == 409


def test_task_params_are_validated(auth_client, settings):
    make_chunks(1)
    assert lease(auth_client, count=0).status_code == 400
    assert lease(auth_client, count=settings.LEASE_MAX_COUNT + 1).status_code == 400
    assert lease(auth_client, mode="dance").status_code == 400
    assert lease(auth_client, language="zz").status_code == 400


@pytest.mark.parametrize("mode", ["transcribe", "auto", "verify"])
def test_lease_next_query_count_is_constant(api_client, make_user, mode):
    """The same queries for 2 tasks from one recording as for 10 from several."""
    sentence = "আমি দুধ দিয়ে চা খাই।"

    def leased(user, count: int) -> tuple[int, int]:
        api_client.force_authenticate(user)
        with CaptureQueriesContext(connection) as queries:
            response = lease(api_client, count=count, mode=mode)
        assert response.status_code == 200
        return len(queries), len(response.json())

    make_chunks(3, expected_text=sentence)
    leased(make_user(), 1)  # the per-process language cache, warm for both below
    small = leased(make_user(), 2)
    for _ in range(4):
        make_chunks(3, contributor=make_user(), expected_text=sentence)
    large = leased(make_user(), 10)
    assert (small[1], large[1]) == (2, 10)
    assert large[0] == small[0]


def test_purging_expired_leases(contributor):
    (chunk,) = make_chunks(1)
    TaskLease.objects.create(
        chunk=chunk, user=contributor, expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert services.lease_purge_expired() == 1


def test_giving_a_chunk_back_does_not_skip_it(auth_client):
    (chunk,) = make_chunks(1)
    lease(auth_client)
    response = auth_client.post(f"/api/tasks/{chunk.id}/release/", {}, format="json")
    assert response.status_code == 200
    assert not TaskLease.objects.exists() and not TaskSkip.objects.exists()
    assert [t["chunk"] for t in lease(auth_client).json()] == [str(chunk.id)]


def test_errors_speak_the_contributors_language(auth_client):
    """A Bangla page shows the API's `detail` as it is: it must be Bangla too."""
    (chunk,) = make_chunks(1)
    english = submit(auth_client, chunk.id)
    assert english.status_code == 409
    assert english.json()["detail"].startswith("You have no live lease on this chunk")

    auth_client.credentials(HTTP_ACCEPT_LANGUAGE="bn")
    bangla = submit(auth_client, chunk.id)
    assert bangla.status_code == 409
    assert bangla.json()["detail"].startswith("এই ক্লিপে আপনার কোনো সক্রিয় বরাদ্দ নেই")
    # Field errors name the field, and say what to fix in Bangla.
    too_many = lease(auth_client, count=10_000)
    assert too_many.status_code == 400
    assert "একবারে সর্বোচ্চ" in too_many.json()["detail"]
    unknown = submit(auth_client, chunk.id, flags=["loud"])
    assert unknown.status_code in (400, 409)
    assert "loud" in unknown.json()["detail"] and "You" not in unknown.json()["detail"]

    auth_client.force_authenticate(None)  # signs out, and forgets the header too
    auth_client.credentials(HTTP_ACCEPT_LANGUAGE="bn")
    signed_out = submit(auth_client, chunk.id)
    assert signed_out.status_code in (401, 403)
    assert signed_out.json()["detail"] == "প্রমাণীকরণের তথ্য দেওয়া হয়নি; আবার সাইন ইন করুন।"
