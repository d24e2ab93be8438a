"""Transcriptions submitted over the API, with a real worker running: each is
decided in its request (the worker is the fallback, docs/consensus.md 5a)."""

import pytest

from consensus.models import ConsensusDecision
from contributors.models import ReliabilityScore
from recordings.models import Chunk
from recordings.tests.factories import make_chunks
from shrutik.testing import wait_until

pytestmark = pytest.mark.e2e


def test_three_agreeing_transcribers_validate_a_chunk(worker, api_client, make_user):
    (chunk,) = make_chunks(1)
    texts = (
        "The kettle began to whistle.",
        "the kettle began to whistle",
        "the kettle began to whistle",
    )
    for number, text in enumerate(texts, start=1):
        user = make_user()
        # Contributors with a proven record: newcomers alone never validate a
        # chunk without a script sentence to confirm.
        ReliabilityScore.objects.create(user=user, language="bn", alpha=95, beta=5)
        if number == 3:
            # An agreeing pair asks a third to confirm: the decision after
            # the second submission opens the chunk to one more.
            wait_until(
                lambda: Chunk.objects.filter(pk=chunk.pk, transcriptions_required=3).exists(),
                timeout=60,
                what="the pair's decision to ask for a third transcript",
            )
        api_client.force_authenticate(user)

        def lease():
            # While a decision holds the chunk's row lock, leasing skips it:
            # a client asks again.
            return api_client.get("/api/tasks/next/", {"language": "bn"}).json()

        leased = wait_until(lease, timeout=30, what=f"transcriber {number} to get the chunk")
        assert [t["chunk"] for t in leased] == [str(chunk.id)]
        response = api_client.post(
            "/api/transcriptions/", {"chunk": str(chunk.id), "text": text}, format="json"
        )
        assert response.status_code == 201, response.content

    def decided():
        return ConsensusDecision.objects.filter(chunk=chunk, outcome="validated").first()

    decision = wait_until(decided, timeout=60, what="the chunk to be validated")
    chunk.refresh_from_db()
    assert chunk.consensus_text.lower().startswith("the kettle began to whistle")
    # 2% of validated chunks (drawn from the chunk id) also go to a reviewer as
    # an audit sample; the decision stays "validated" either way.
    assert chunk.status == ("needs_review" if decision.audit else "validated")
