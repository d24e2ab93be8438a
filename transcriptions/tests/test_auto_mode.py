"""The server picks each task (``mode=auto``, the default), and listeners' votes."""

import pytest
from django.db import connection

from recordings.tests.factories import make_chunks
from transcriptions.models import TaskLease, TaskSkip, Transcription
from transcriptions.tests.test_tasks_api import submit

pytestmark = pytest.mark.django_db

SENTENCE = "আমি দুধ দিয়ে চা খাই।"


def lease(client, count=5, **params):
    return client.get("/api/tasks/next/", {"language": "bn", "count": count, **params})


def verify(client, chunk, **body):
    return client.post(f"/api/tasks/{chunk.id}/verify/", body, format="json")


def mixed_chunks():
    """A chunk asking for votes, one with a contradicted sentence (typing), and
    one without a sentence."""
    (voting,) = make_chunks(1, expected_text=SENTENCE)
    (disputed,) = make_chunks(1, expected_text=SENTENCE, task_mode="transcribe")
    (unscripted,) = make_chunks(1)
    return voting, disputed, unscripted


def test_without_a_mode_each_chunk_is_served_in_the_mode_it_asks_for(auth_client):
    voting, disputed, unscripted = mixed_chunks()
    response = lease(auth_client)
    assert response.status_code == 200
    items = {item["chunk"]: item for item in response.json()}
    assert {c: items[str(c.id)]["mode"] for c in (voting, disputed, unscripted)} == {
        voting: "verify",
        disputed: "transcribe",
        unscripted: "transcribe",
    }
    # Only a listener sees the sentence; typists type blind.
    assert items[str(voting.id)]["expected_text"] == SENTENCE
    assert items[str(disputed.id)]["expected_text"] is None
    assert items[str(unscripted.id)]["expected_text"] is None
    modes = dict(TaskLease.objects.values_list("chunk_id", "mode"))
    assert modes == {voting.id: "verify", disputed.id: "transcribe", unscripted.id: "transcribe"}
    # Asking again returns the same leases, whatever their modes.
    assert sorted(i["chunk"] for i in lease(auth_client, mode="auto").json()) == sorted(items)


def test_auto_never_serves_own_answered_skipped_or_reported_chunks(auth_client):
    own = make_chunks(1, contributor=auth_client.user, expected_text=SENTENCE)
    typed, voted, skipped, reported, free = make_chunks(5, expected_text=SENTENCE)
    Transcription.objects.create(chunk=typed, user=auth_client.user, text="আমি চা খাই")
    Transcription.objects.create(
        chunk=voted, user=auth_client.user, text="", source="verified", vote=False
    )
    TaskSkip.objects.create(chunk=skipped, user=auth_client.user, kind="skip")
    TaskSkip.objects.create(chunk=reported, user=auth_client.user, kind="report")
    body = lease(auth_client).json()
    assert [t["chunk"] for t in body] == [str(free.id)]
    assert str(own[0].id) not in {t["chunk"] for t in body}


def test_explicit_modes_keep_working(auth_client, make_user, api_client):
    voting, disputed, unscripted = mixed_chunks()
    # verify: only chunks that ask for votes on their sentence.
    body = lease(auth_client, mode="verify").json()
    assert [(t["chunk"], t["mode"]) for t in body] == [(str(voting.id), "verify")]
    # transcribe: any open chunk, typed, the sentence hidden.
    api_client.force_authenticate(make_user())
    body = lease(api_client, mode="transcribe").json()
    assert {t["chunk"] for t in body} == {str(c.id) for c in (voting, disputed, unscripted)}
    assert {t["mode"] for t in body} == {"transcribe"}
    assert {t["expected_text"] for t in body} == {None}


def test_a_yes_stores_the_sentence_as_a_vote(auth_client):
    (chunk,) = make_chunks(1, expected_text=SENTENCE)
    lease(auth_client)
    response = verify(auth_client, chunk, matches=True, time_spent_ms=2100)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["vote"], body["text"], body["source"]) == (True, SENTENCE, "verified")
    stored = Transcription.objects.get(pk=body["id"])
    assert (stored.vote, stored.text, stored.time_spent_ms) == (True, SENTENCE, 2100)
    assert stored.normalized_text == "আমি দুধ দিয়ে চা খাই"


def test_a_no_with_what_was_heard_is_a_typed_transcription(auth_client):
    (chunk,) = make_chunks(1, expected_text=SENTENCE)
    lease(auth_client)
    response = verify(auth_client, chunk, matches=False, text=" আমি চা খাই ")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["vote"], body["text"], body["source"]) == (None, "আমি চা খাই", "typed")
    assert not TaskLease.objects.exists()


def test_a_yes_with_text_is_refused_and_keeps_the_lease(auth_client):
    (chunk,) = make_chunks(1, expected_text=SENTENCE)
    lease(auth_client)
    response = verify(auth_client, chunk, matches=True, text="আমি চা খাই")
    assert response.status_code == 400
    assert "matches false" in response.json()["detail"]
    assert TaskLease.objects.filter(chunk=chunk).exists()


def test_votes_need_a_verify_lease_but_typed_text_takes_any(auth_client, make_user, api_client):
    voting, disputed, _ = mixed_chunks()
    lease(auth_client)
    response = verify(auth_client, disputed, matches=True)
    assert response.status_code == 409
    assert "/api/transcriptions/" in response.json()["detail"]
    assert TaskLease.objects.filter(chunk=disputed).exists()  # not consumed
    auth_client.credentials(HTTP_ACCEPT_LANGUAGE="bn")
    response = verify(auth_client, disputed, matches=True)
    assert response.json()["detail"].startswith("এই ক্লিপটি আপনাকে যাচাই করতে নয়")
    auth_client.credentials()
    assert submit(auth_client, disputed.id).status_code == 201
    # A listener may type what they heard instead of voting.
    response = submit(auth_client, voting.id, text="আমি দুধ দিয়ে চা খাই")
    assert response.status_code == 201
    assert response.json()["vote"] is None
    # Without any lease, the usual answer.
    api_client.force_authenticate(make_user())
    assert verify(api_client, voting, matches=True).status_code == 409


def test_a_verify_lease_on_a_chunk_without_a_sentence_is_refused_whole(auth_client):
    (chunk,) = make_chunks(1)
    TaskLease.objects.create(
        chunk=chunk, user=auth_client.user, mode="verify", expires_at="2999-01-01T00:00:00Z"
    )
    response = verify(auth_client, chunk, matches=True)
    assert response.status_code == 400
    assert "no expected sentence" in response.json()["detail"]
    chunk.refresh_from_db()
    assert chunk.transcriptions_received == 0 and TaskLease.objects.filter(chunk=chunk).exists()


def test_a_voted_chunk_is_not_served_to_the_listener_again(auth_client):
    (chunk,) = make_chunks(1, expected_text=SENTENCE, transcriptions_required=3)
    lease(auth_client)
    assert verify(auth_client, chunk, matches=False).status_code == 201
    assert lease(auth_client).json() == []


def test_a_vote_costs_the_queries_of_a_typed_submission(
    api_client, make_user, django_capture_on_commit_callbacks
):
    """Voting is the hot path of read speech: one statement per write, like
    typing (the decision runs after commit and is counted apart)."""
    from django.test.utils import CaptureQueriesContext

    (typed,) = make_chunks(1)
    (voted,) = make_chunks(1, expected_text=SENTENCE)
    user = make_user()
    api_client.force_authenticate(user)
    lease(api_client)
    with (
        django_capture_on_commit_callbacks(execute=False),
        CaptureQueriesContext(connection) as typing,
    ):
        assert submit(api_client, typed.id).status_code == 201
    with (
        django_capture_on_commit_callbacks(execute=False),
        CaptureQueriesContext(connection) as voting,
    ):
        assert verify(api_client, voted, matches=True).status_code == 201
    assert len(voting) == len(typing)
