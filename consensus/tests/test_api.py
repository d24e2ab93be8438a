import pytest

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
    assert api_client.get("/api/chunks/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_stats_are_public_and_per_language(api_client, django_assert_max_num_queries):
    chunks = make_chunks(3)
    Chunk.objects.filter(pk=chunks[0].pk).update(status=ChunkStatus.VALIDATED)
    with django_assert_max_num_queries(6):
        body = api_client.get("/api/stats/").json()
    assert body["recordings"] == 1
    assert body["hours_recorded"] == pytest.approx(9.0 / 3600, abs=1e-3)
    assert body["hours_validated"] == pytest.approx(2.5 / 3600, abs=1e-3)
    assert body["chunks"] == {"open": 2, "validated": 1}
    assert body["languages"]["bn"]["chunks"]["validated"] == 1
    # Served from the cache afterwards.
    with django_assert_max_num_queries(0):
        api_client.get("/api/stats/")
