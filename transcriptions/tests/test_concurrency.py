"""Many transcribers at once on real PostgreSQL connections."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from contributors.tests.factories import UserFactory
from recordings.models import Chunk, Language
from recordings.tests.factories import make_chunks
from transcriptions import services
from transcriptions.models import TaskLease


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", ["transcribe", "auto"])
def test_concurrent_leasing_never_exceeds_what_chunks_need(mode):
    # Half the chunks ask for votes on their sentence, half for typing.
    chunks = make_chunks(5, transcriptions_required=2, expected_text="আমি দুধ দিয়ে চা খাই।")
    chunks += make_chunks(5, transcriptions_required=2)
    language = Language.objects.get(code="bn")
    users = [UserFactory() for _ in range(16)]

    def take(user):
        try:
            return [
                (lease.chunk_id, lease.mode)
                for lease in services.chunk_lease_next(
                    user=user, language=language, count=3, mode=mode
                )
            ]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(take, users))
    per_chunk = Counter(chunk for got in results for chunk, _ in got)
    assert max(per_chunk.values()) <= 2
    # Rows locked by a concurrent caller are skipped, not waited for, so a caller
    # may get fewer than it asked for; asking again (as clients do) fills up.
    results = [take(user) for user in users]
    per_chunk = Counter(chunk for got in results for chunk, _ in got)
    assert max(per_chunk.values()) <= 2
    assert sum(per_chunk.values()) == 20  # every slot is handed out, none twice
    assert set(per_chunk) == {c.id for c in chunks}
    assert TaskLease.objects.count() == 20
    # auto leases each chunk in the mode it asks for; transcribe, all for typing.
    asked = dict(Chunk.objects.values_list("id", "task_mode"))
    for got in results:
        assert len(got) == len({chunk for chunk, _ in got})
        assert all(lease == (asked[chunk] if mode == "auto" else mode) for chunk, lease in got)
