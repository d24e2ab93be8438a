"""The read replica against a real streaming replica; run by test_replica.py.

Not collected on its own (the file name does not start with ``test_``): it
needs ``DATABASE_REPLICA_URL``, a standby of the primary in ``DATABASE_URL``,
which test_replica.py creates and passes in. The test database is created on
the primary and streams to the replica under the same name.

Replica lag is made, not waited for: replaying WAL is paused on the replica
(``pg_wal_replay_pause``), so everything written afterwards is on the primary
only until the test resumes it.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager

import psycopg
import pytest
from django.core.cache import cache
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext, override_settings

from consensus.services import reliability_reestimate
from contributors.models import ReliabilityScore
from dashboard.selectors import STATS_CACHE_KEY
from exports.models import Export, ExportStatus
from exports.services import export_create, planning
from recordings.models import Chunk, ChunkStatus
from recordings.tests.factories import make_chunks
from shrutik.db import REPLICA, has_replica, replica_caught_up, replica_reads
from transcriptions.models import TaskLease, Transcription

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", REPLICA])


def replica_admin() -> psycopg.Connection:
    db = connections[REPLICA].settings_dict
    return psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=True
    )


def caught_up() -> None:
    assert replica_caught_up(within=30), "the replica did not catch up with the primary"


@contextmanager
def replica_lagging():
    """Everything written inside reaches the replica only on the way out."""
    caught_up()
    with replica_admin() as admin:
        admin.execute("SELECT pg_wal_replay_pause()")
        try:
            yield
        finally:
            admin.execute("SELECT pg_wal_replay_resume()")
    caught_up()


def on_replica(model) -> int:
    return model.objects.using(REPLICA).count()


def lease(client, user, count=1) -> list[str]:
    client.force_authenticate(user)
    response = client.get("/api/tasks/next/", {"language": "bn", "count": count})
    assert response.status_code == 200, response.content
    return [task["chunk"] for task in response.json()]


def test_the_replica_is_a_standby_of_the_primary():
    assert has_replica()
    with replica_admin() as admin:
        assert admin.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)


def test_replica_lag_never_hands_out_a_stale_lease_or_hides_a_contributors_own_work(
    api_client, make_user
):
    """Leases, submissions and a contributor's own page read the primary; the
    statistics read the replica, which is behind the whole time."""
    chunks = make_chunks(3, transcriptions_required=1)
    first, second = make_user(), make_user()
    with replica_lagging():
        held = lease(api_client, first)
        # The first contributor's lease covers that chunk's need: the second
        # gets another, though the replica knows of no lease at all.
        other = lease(api_client, second)
        assert on_replica(TaskLease) == 0
        assert set(held) | set(other) <= {str(c.id) for c in chunks}
        assert not set(held) & set(other)
        api_client.force_authenticate(first)
        submitted = api_client.post(
            "/api/transcriptions/", {"chunk": held[0], "text": "the kettle began to whistle"}
        )
        assert submitted.status_code == 201, submitted.content
        # Transcribed by them: never theirs again. Anyone else gets it only if
        # the primary says it still asks for work (the decision, made in the
        # request, may ask for more).
        assert held[0] not in lease(api_client, first, count=5)
        done = Chunk.objects.get(pk=held[0])
        still_open = (
            done.status == ChunkStatus.OPEN
            and done.transcriptions_received < done.transcriptions_required
        )
        assert (held[0] in lease(api_client, make_user(), count=5)) == still_open
        assert on_replica(Transcription) == 0
        # The statistics come from the replica: still no transcription there.
        cache.delete(STATS_CACHE_KEY)
        assert api_client.get("/api/stats/").json()["transcriptions"] == 0
        # A contributor's own dashboard reads the primary: their work is there.
        api_client.force_login(first)
        page = api_client.get("/dashboard/")
        assert page.status_code == 200
        assert [t.chunk_id for t in page.context["mine"]["transcriptions"]] == [uuid.UUID(held[0])]
    cache.delete(STATS_CACHE_KEY)
    assert api_client.get("/api/stats/").json()["transcriptions"] == 1


def test_reads_inside_a_transaction_and_every_write_stay_on_the_primary():
    (chunk,) = make_chunks(1)
    caught_up()
    replica, primary = connections[REPLICA], connections["default"]
    with (
        CaptureQueriesContext(replica) as on_replica_side,
        CaptureQueriesContext(primary) as on_primary_side,
        replica_reads(),
    ):
        found = Chunk.objects.get(pk=chunk.pk)
        assert found._state.db == REPLICA
        with transaction.atomic():
            locked = Chunk.objects.select_for_update().get(pk=chunk.pk)
        found.status = ChunkStatus.NEEDS_REVIEW
        found.save(update_fields=["status"])
    assert locked._state.db == "default"
    assert len(on_replica_side.captured_queries) == 1
    primary_sql = " ".join(q["sql"] for q in on_primary_side.captured_queries)
    assert "FOR UPDATE" in primary_sql and "UPDATE" in primary_sql
    assert Chunk.objects.using("default").get(pk=chunk.pk).status == ChunkStatus.NEEDS_REVIEW
    # Outside replica_reads an object read from the replica fetches its
    # relations from the primary.
    with CaptureQueriesContext(replica) as later:
        assert found.recording.pk == chunk.recording_id
    assert later.captured_queries == []


def running_export(researcher) -> tuple[Export, uuid.UUID]:
    export = export_create(requester=researcher, formats=["nemo"])
    token = uuid.uuid4()
    Export.objects.filter(pk=export.pk).update(status=ExportStatus.RUNNING, run_token=token)
    export.refresh_from_db()
    return export, token


@override_settings(REPLICA_CATCH_UP_SECONDS=0.5)
def test_export_planning_counts_from_the_replica_only_once_it_has_caught_up(researcher):
    make_chunks(2, expected_text="one two three", status=ChunkStatus.VALIDATED)
    with replica_lagging():
        make_chunks(3, expected_text="four five six", status=ChunkStatus.VALIDATED)
        export, token = running_export(researcher)
        with CaptureQueriesContext(connections[REPLICA]) as lagging:
            planned = planning.plan(export, token)
        # The replica holds two of the five: planning waited, then counted on
        # the primary instead of planning too few clips.
        assert planned.total == 5
        assert not any("GROUP BY" in q["sql"] for q in lagging.captured_queries)
    export, token = running_export(researcher)
    with CaptureQueriesContext(connections[REPLICA]) as current:
        planned = planning.plan(export, token)
    assert planned.total == 5
    assert any("GROUP BY" in q["sql"] for q in current.captured_queries)


def test_the_nightly_reestimation_reads_the_replica_and_writes_the_primary(make_user):
    users = [make_user() for _ in range(3)]
    for chunk in make_chunks(4):
        for user in users:
            Transcription.objects.create(chunk=chunk, user=user, text="the kettle began")
        Chunk.objects.filter(pk=chunk.pk).update(
            status=ChunkStatus.VALIDATED, consensus_text="the kettle began"
        )
    caught_up()
    with CaptureQueriesContext(connections[REPLICA]) as replica_side:
        assert reliability_reestimate(language="bn") == 3
    read = " ".join(q["sql"] for q in replica_side.captured_queries)
    assert "transcriptions_transcription" in read and "recordings_chunk" in read
    assert not any(q["sql"].startswith(("INSERT", "UPDATE")) for q in replica_side.captured_queries)
    assert ReliabilityScore.objects.using("default").filter(user__in=users).count() == 3
