"""Transcriptions submitted over the API are decided by a real worker."""

import pytest

from contributors.models import ReliabilityScore
from recordings.models import Chunk
from recordings.tests.factories import make_chunks
from shrutik.testing import wait_until

pytestmark = pytest.mark.e2e


def test_two_agreeing_transcribers_validate_a_chunk_through_the_worker(
    worker, api_client, make_user
):
    (chunk,) = make_chunks(1)
    for text in ("The kettle began to whistle.", "the kettle began to whistle"):
        user = make_user()
        # Two contributors with a proven record: two newcomers alone never
        # validate a chunk without a script sentence to confirm.
        ReliabilityScore.objects.create(user=user, language="bn", alpha=95, beta=5)
        api_client.force_authenticate(user)
        leased = api_client.get("/api/tasks/next/", {"language": "bn"}).json()
        assert [t["chunk"] for t in leased] == [str(chunk.id)]
        response = api_client.post(
            "/api/transcriptions/", {"chunk": str(chunk.id), "text": text}, format="json"
        )
        assert response.status_code == 201, response.content

    def decided():
        return Chunk.objects.filter(pk=chunk.pk, status="validated").first()

    validated = wait_until(decided, timeout=60, what="the chunk to be validated")
    assert validated.consensus_text.lower().startswith("the kettle began to whistle")
    assert validated.decisions.count() >= 1
