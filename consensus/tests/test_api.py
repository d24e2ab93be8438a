import pytest

from contributors.models import ReliabilityScore
from recordings.models import Chunk, ChunkStatus
from recordings.tests.factories import make_chunks
from transcriptions.models import Transcription

pytestmark = pytest.mark.django_db


def test_chunk_detail_is_for_reviewers_only(api_client, contributor, reviewer):
    (chunk,) = make_chunks(1)
    Transcription.objects.create(chunk=chunk, user=contributor, text="hello")
    api_client.force_authenticate(contributor)
    assert api_client.get(f"/api/chunks/{chunk.id}/").status_code == 403
    api_client.force_authenticate(reviewer)
    body = api_client.get(f"/api/chunks/{chunk.id}/").json()
    assert body["transcriptions"][0]["text"] == "hello"
    assert body["audio_url"]
    # A newcomer counts at the prior: 0.7 accuracy, weight log(0.7 / 0.3).
    assert body["transcriptions"][0]["contributor_accuracy"] == pytest.approx(0.7)
    assert body["transcriptions"][0]["vote_weight"] == pytest.approx(0.8473, abs=1e-4)
    assert body["transcriptions"][0]["contributor_blocked"] is False
    assert api_client.get("/api/chunks/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_chunk_detail_shows_proven_silenced_and_blocked_transcribers(
    api_client, make_user, reviewer
):
    (chunk,) = make_chunks(1)
    proven, spammer, blocked = make_user(), make_user(), make_user(is_active=False)
    ReliabilityScore.objects.create(user=proven, language="bn", alpha=95, beta=5)
    ReliabilityScore.objects.create(user=spammer, language="bn", alpha=10, beta=90)
    for user in (proven, spammer, blocked):
        Transcription.objects.create(chunk=chunk, user=user, text=user.username)
    api_client.force_authenticate(reviewer)
    rows = {
        t["contributor"]: t
        for t in api_client.get(f"/api/chunks/{chunk.id}/").json()["transcriptions"]
    }
    assert rows[proven.username]["contributor_accuracy"] == pytest.approx(0.95)
    assert rows[proven.username]["vote_weight"] > 2.5
    assert rows[spammer.username]["vote_weight"] == 0.0
    assert not rows[spammer.username]["contributor_blocked"]
    assert rows[blocked.username]["vote_weight"] == 0.0
    assert rows[blocked.username]["contributor_blocked"]


def test_stats_are_public_and_per_language(api_client, django_assert_max_num_queries):
    chunks = make_chunks(3)
    Chunk.objects.filter(pk=chunks[0].pk).update(status=ChunkStatus.VALIDATED)
    Chunk.objects.filter(pk=chunks[1].pk).update(status=ChunkStatus.ACCEPTED, duration=1800)
    with django_assert_max_num_queries(6):
        body = api_client.get("/api/stats/").json()
    assert body["recordings"] == 1
    assert body["hours_recorded"] == pytest.approx(9.0 / 3600, abs=1e-3)
    assert body["hours_validated"] == pytest.approx(2.5 / 3600, abs=1e-3)
    assert body["hours_accepted"] == 0.5  # shown apart, never counted as validated
    assert body["chunks"] == {"open": 1, "validated": 1, "accepted": 1}
    assert body["languages"]["bn"]["chunks"]["validated"] == 1
    # Served from the cache afterwards.
    with django_assert_max_num_queries(0):
        api_client.get("/api/stats/")
