"""The review queue at scale: the admin changelist over a million chunks.

Most chunks pass through review, so the queue holds most of the table. Builds a
scratch PostgreSQL database with ``--chunks`` chunks (95% in review, the rest
validated, random confidence) and serves it in the deployed shape (the web
server as docker-compose.yml runs it, Redis, S3 storage on moto's server, so
every row's audio player carries an S3 pre-signed URL). A reviewer, given the
role by ``contributors.services.user_set_roles`` as an administrator would,
signs in through the admin login form and loads the queue page (least
confident first) ``--repeat`` times, with the review index and with it
dropped, against a bare admin page (the admin index, no chunk query) in the
same run. Prints one JSON object: median page times as the reviewer's client
saw them and the app's own share from its access log, their ratios to the bare
page, the slowest queries of one render of each page (made in-process as the
same reviewer: a server does not report its queries), and peak RSS.

    .venv/bin/python bench/review_queue.py [--chunks 1000000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import time

import httpx
from common import (
    Services,
    consented_users,
    release_database,
    server_times,
    setup_django,
    start_server,
    stop,
)

DB = "shrutik_bench_review"
QUEUE = "/admin/consensus/reviewchunk/"
REVIEWER = "bench-reviewer"
PASSWORD = "bench-reviewer-pass-phrase"


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


def make_reviewer():
    from contributors.services import user_set_roles

    (user,) = consented_users([REVIEWER])
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    return user_set_roles(user=user, roles={"contributor", "reviewer"})


def sign_in(client: httpx.Client) -> None:
    """The admin login form, as a reviewer's browser submits it."""
    form = client.get("/admin/login/", params={"next": "/admin/"})
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    if form.status_code != 200 or token is None:
        raise SystemExit(f"no admin login form: {form.status_code}")
    response = client.post(
        "/admin/login/?next=/admin/",
        data={"username": REVIEWER, "password": PASSWORD, "csrfmiddlewaretoken": token[1]},
    )
    if response.status_code != 302 or response.headers["location"] != "/admin/":
        raise SystemExit(f"the reviewer could not sign in: {response.status_code}")


def timed_pages(client: httpx.Client, path: str, repeat: int) -> float:
    """Median milliseconds of ``repeat`` loads of ``path``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - start)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}")
    return statistics.median(times) * 1000


def slowest_queries(reviewer, path: str) -> list[tuple[float, str]]:
    """The two slowest queries of one render of ``path`` by ``reviewer``, in-process."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(reviewer)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    if response.status_code != 200:
        raise SystemExit(f"{path} answered {response.status_code} in-process")
    slowest = sorted(((float(q["time"]) * 1000, q["sql"][:70]) for q in queries), reverse=True)
    return [(round(ms, 1), sql) for ms, sql in slowest[:2]]


def app_median_ms(log_path: str, offset: int, path: str) -> float:
    return server_times(log_path, offset)[path]["p50_ms"]


def measure(base: str, log_path: str, reviewer, repeat: int) -> dict:
    from django.db import connection

    figures = {}
    with httpx.Client(base_url=base, timeout=120) as client:
        sign_in(client)
        for label, path, drop_index in (
            ("bare_admin_page", "/admin/", False),
            ("queue_page", QUEUE, False),
            ("without_review_index_page", QUEUE, True),
        ):
            if drop_index:
                with connection.cursor() as cursor:
                    cursor.execute("DROP INDEX chunk_review_queue_idx")
            client.get(path)  # warms the caches; not timed
            offset = os.path.getsize(log_path)
            figures[f"{label}_ms"] = round(timed_pages(client, path, repeat), 1)
            figures[f"{label}_app_ms"] = app_median_ms(log_path, offset, path)
            figures[f"{label}_slowest_queries_ms"] = slowest_queries(reviewer, path)
    bare = figures["bare_admin_page_ms"]
    for label in ("queue_page", "without_review_index_page"):
        figures[f"{label}_ratio_to_bare"] = round(figures[f"{label}_ms"] / bare, 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    with Services() as services:
        env = services.env(
            DB,
            # "testserver": the in-process render of each page (its queries).
            ALLOWED_HOSTS="127.0.0.1,testserver",
            SESSION_COOKIE_SECURE="false",
            CSRF_COOKIE_SECURE="false",
        )
        setup_django(env, DB)

        started = time.perf_counter()
        build(args.chunks)
        built_s = time.perf_counter() - started
        reviewer = make_reviewer()
        # One web worker: the pages are loaded one after another, and the
        # warm-up load must reach the worker that serves the timed ones.
        server, base = start_server(env, 1)
        try:
            figures = measure(base, server.log_path, reviewer, args.repeat)
        finally:
            stop(server)
            release_database(DB, keep=args.keep)
    print(
        json.dumps(
            {
                "chunks": args.chunks,
                "build_seconds": round(built_s, 1),
                **figures,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
