"""A submission is decided in its own request, so the next task request already
sees what the chunk asks for; a worker takes over when that fails."""

import pytest
from django.db import OperationalError

from consensus import services, tasks
from consensus.models import ConsensusDecision
from recordings.models import Chunk, ChunkStatus
from recordings.tests.factories import make_chunks

# Real commits: on_commit callbacks run inside the request, as in production.
pytestmark = pytest.mark.django_db(transaction=True)

SENTENCE = "আমি দুধ দিয়ে চা খাই।"


def answer(api_client, user, chunk, matches: bool):
    """``user`` asks for work, votes on ``chunk`` and gives the rest back."""
    api_client.force_authenticate(user)
    leased = {
        t["chunk"]: t["mode"] for t in api_client.get("/api/tasks/next/", {"language": "bn"}).json()
    }
    assert leased.pop(str(chunk.id)) == "verify"
    response = api_client.post(
        f"/api/tasks/{chunk.id}/verify/", {"matches": matches}, format="json"
    )
    assert response.status_code == 201, response.content
    for other in leased:
        api_client.post(f"/api/tasks/{other}/release/", {}, format="json")
    return response


def test_a_vote_is_decided_before_its_request_returns(api_client, make_user):
    contradicted, confirmed = make_chunks(2, expected_text=SENTENCE)
    answer(api_client, make_user(), contradicted, matches=False)
    # The "no" already turned the chunk to typing.
    contradicted.refresh_from_db()
    assert contradicted.task_mode == "transcribe"
    assert contradicted.decisions.first().outcome == "need_more"
    api_client.force_authenticate(make_user())
    modes = {
        t["chunk"]: t["mode"] for t in api_client.get("/api/tasks/next/", {"language": "bn"}).json()
    }
    assert modes == {str(contradicted.id): "transcribe", str(confirmed.id): "verify"}
    api_client.post(f"/api/tasks/{confirmed.id}/release/", {}, format="json")

    answer(api_client, make_user(), confirmed, matches=True)
    answer(api_client, make_user(), confirmed, matches=True)
    confirmed.refresh_from_db()
    assert confirmed.status == ChunkStatus.VALIDATED
    assert ConsensusDecision.objects.filter(chunk=confirmed).first().outcome == "validated"


def test_a_failed_decision_falls_back_to_the_worker(api_client, make_user, monkeypatch):
    (chunk,) = make_chunks(1, expected_text=SENTENCE)
    decide = services.consensus_decide
    enqueued = []

    def refused(**kwargs):
        raise OperationalError("the database went away")

    monkeypatch.setattr(services, "consensus_decide", refused)
    monkeypatch.setattr(tasks.consensus_decide, "delay", lambda *args: enqueued.append(args))
    answer(api_client, make_user(), chunk, matches=False)  # still stored: 201
    assert enqueued == [(str(chunk.id),)]
    chunk.refresh_from_db()
    assert chunk.task_mode == "verify" and not chunk.decisions.exists()

    # What the worker then runs.
    monkeypatch.setattr(services, "consensus_decide", decide)
    tasks.consensus_decide(*enqueued[0])
    assert Chunk.objects.get(pk=chunk.pk).task_mode == "transcribe"
