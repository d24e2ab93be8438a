"""The review queue at scale: the admin changelist over a million chunks.

Most chunks pass through review, so the queue holds most of the table. Builds a
scratch PostgreSQL database with ``--chunks`` chunks (95% in review, the rest
validated, random confidence), then renders the queue page as a reviewer sees
it (least confident first) ``--repeat`` times, with the review index and with
it dropped, against a bare admin page (the admin index, no chunk query) in the
same run. Prints one JSON object: median page times, their ratio to the bare
page, the slowest queries, and peak RSS.

    .venv/bin/python bench/review_queue.py [--chunks 1000000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time

from common import ROOT, django_env, drop_database, manage, recreate_database

DB = "shrutik_bench_review"


def build(chunks: int) -> None:
    from django.db import connection

    from recordings.tests.factories import make_chunks

    (first,) = make_chunks(1)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO recordings_chunk (id, recording_id, language_id, contributor_id,
              index, start, "end", duration, audio, expected_text, status,
              transcriptions_required, transcriptions_received, consensus_text, confidence,
              word_confidence, created_at, updated_at)
            SELECT gen_random_uuid(), %s, %s, %s, g, 0, 2.5, 2.5, 'chunks/b/' || g || '.flac',
              '', CASE WHEN random() < 0.95 THEN 'needs_review' ELSE 'validated' END, 4, 4,
              'a proposed text of about twelve words as a crowd would give it', random(), '[]',
              now() - (g || ' seconds')::interval, now()
            FROM generate_series(1, %s) g
            """,
            [str(first.recording_id), first.language_id, first.contributor_id, chunks - 1],
        )
        cursor.execute("ANALYZE recordings_chunk")


def timed_pages(client, path: str, repeat: int) -> tuple[float, list[tuple[float, str]]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(path, secure=True)  # warm the caches
    times, slowest = [], []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.get(path, secure=True)
            times.append(time.perf_counter() - start)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}")
        slowest = sorted(((float(q["time"]) * 1000, q["sql"][:70]) for q in queries), reverse=True)[
            :2
        ]
    return statistics.median(times) * 1000, [(round(ms, 1), sql) for ms, sql in slowest]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    env = django_env(DB, ALLOWED_HOSTS="testserver")
    recreate_database(DB)
    manage(env, "migrate", "-v0")
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from contributors.models import User

    started = time.perf_counter()
    build(args.chunks)
    built_s = time.perf_counter() - started
    admin = User.objects.create_superuser("bench-admin", "admin@example.org", "x" * 20)
    client = Client()
    client.force_login(admin)
    queue = "/admin/consensus/reviewchunk/"
    try:
        bare_ms, _ = timed_pages(client, "/admin/", args.repeat)
        with_ms, with_queries = timed_pages(client, queue, args.repeat)
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX chunk_review_idx")
        without_ms, without_queries = timed_pages(client, queue, args.repeat)
    finally:
        connection.close()
        if not args.keep:
            drop_database(DB)
    print(
        json.dumps(
            {
                "chunks": args.chunks,
                "build_seconds": round(built_s, 1),
                "bare_admin_page_ms": round(bare_ms, 1),
                "queue_page_ms": round(with_ms, 1),
                "queue_page_ratio_to_bare": round(with_ms / bare_ms, 2),
                "queue_slowest_queries_ms": with_queries,
                "without_review_index_page_ms": round(without_ms, 1),
                "without_review_index_ratio_to_bare": round(without_ms / bare_ms, 2),
                "without_review_index_slowest_queries_ms": without_queries,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
