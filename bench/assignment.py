"""Task assignment under load: lease and submit against a large PostgreSQL database.

Builds a scratch database with ``--chunks`` chunks and ``--transcriptions``
transcriptions (1,000,000 and 3,000,000 by default), serves the real app in the
deployed shape (the web server as docker-compose.yml runs it, a private Redis,
S3 storage on moto's server, so every leased task carries an S3 pre-signed
URL), and drives it with ``--clients`` concurrent transcribers for
``--seconds``: each leases one chunk (GET /api/tasks/next/) and submits a
transcription for it (POST /api/transcriptions/). The same clients also hit a
bare authenticated endpoint (GET /api/me/) on the same server, so the figures are
ratios measured in one run on one machine (the bare endpoint before and after the
workload, pooled). A last phase paces the same clients at half the saturated
throughput and reports the latency a sized service would see. Afterwards it checks that no chunk was
leased beyond its need, that every accepted submission is stored, and that the
lease query uses indexes (no sequential scan of chunks).

    .venv/bin/python bench/assignment.py [--chunks N] [--transcriptions N]
        [--clients 32] [--seconds 20] [--workers 4] [--keep]

Loopback only; every phase is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from datetime import UTC, datetime

import httpx
import psycopg
from common import (
    ROOT,
    Services,
    admin_conn,
    manage,
    server_times,
    start_server,
    stop,
    summarise,
)

DB = "shrutik_bench_assignment"
PASSWORD = "bench-password-123"


def bench_env(services: Services) -> dict[str, str]:
    return services.env(
        DB,
        THROTTLE_SUBMIT="10000000/hour",
        THROTTLE_LOGIN="100000/min",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
    )


def build_database(env, chunks: int, transcriptions: int, users: int) -> None:
    """Seed with set-based SQL: millions of rows in a minute, not an hour."""
    with admin_conn() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
    manage(env, "migrate", "--noinput", "-v0")
    from django.contrib.auth.hashers import make_password

    hashed = make_password(PASSWORD)
    per_recording = 10
    recordings = chunks // per_recording
    # A third of the chunks are still open (fewer transcriptions), the rest decided.
    open_from = chunks - chunks // 3
    t0 = time.monotonic()
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{DB}", autocommit=True) as c:
        c.execute(
            """
            INSERT INTO contributors_user (password, is_superuser, username, first_name,
                last_name, email, is_staff, is_active, date_joined, display_name, speaker_id,
                age_range, gender, native_language, dialect, consent_version, consent_at,
                show_on_leaderboard)
            SELECT %s, false, 'u' || g, '', '', '', false, true, now(), '',
                   md5(g::text), '', '', '', '', '2026-11', now(), false
            FROM generate_series(1, %s) g
            """,
            (hashed, users),
        )
        c.execute(
            "INSERT INTO recordings_language (code, name, native_name, active, "
            "min_sentence_chars, max_sentence_chars, allow_digits, forbidden_chars) "
            "VALUES ('bn', 'Bangla', 'বাংলা', true, 3, 250, false, '')"
        )
        c.execute(
            "INSERT INTO recordings_script (language_id, text, sentences, "
            "estimated_seconds, length_bucket, source, licence, active, recording_count, "
            "created_at) SELECT 1, 'বাক্য ' || g, '[]', 30, '2min', '', '', true, 0, now() "
            "FROM generate_series(1, 1000) g"
        )
        c.execute(
            """
            INSERT INTO recordings_recording (id, contributor_id, script_id, audio, container,
                codec, size_bytes, sha256, duration, status, rejection_reason, error,
                processing_attempts, created_at, updated_at)
            SELECT md5('rec' || g)::uuid, 1 + (g %% %s), 1 + (g %% 1000), '', 'webm', 'opus', 0,
                   md5(g::text) || md5(g::text), 30, 'chunked', '', '', 1,
                   now() - interval '1 day', now()
            FROM generate_series(0, %s - 1) g
            """,
            (users, recordings),
        )
        c.execute(
            """
            INSERT INTO recordings_chunk (id, recording_id, language_id, contributor_id, index,
                start, "end", duration, audio, expected_text, status, transcriptions_required,
                transcriptions_received, consensus_text, word_confidence, created_at, updated_at)
            SELECT md5('chunk' || g)::uuid, md5('rec' || (g / %(per)s))::uuid, 1,
                   1 + ((g / %(per)s) %% %(users)s), g %% %(per)s, 0, 3, 3,
                   'chunks/x/' || g || '.flac', '',
                   CASE WHEN g >= %(open)s THEN 'open' ELSE 'validated' END,
                   CASE WHEN g >= %(open)s THEN 2 + (g %% 2) ELSE 3 END,
                   CASE WHEN g >= %(open)s THEN g %% 2 ELSE 3 END,
                   '', '[]', now() - make_interval(secs => %(n)s - g), now()
            FROM generate_series(0, %(n)s - 1) g
            """,
            {"per": per_recording, "users": users, "open": open_from, "n": chunks},
        )
        # Validated chunks get 3 transcriptions each, open ones their received count,
        # from users other than the reader; then fill up to the requested total.
        c.execute(
            """
            INSERT INTO transcriptions_transcription (chunk_id, user_id, text, normalized_text,
                flags, source, created_at)
            SELECT ch.id, 1 + ((ch.contributor_id + j * 7) %% %(users)s), 'লেখা', 'লেখা', '[]',
                   'typed', now()
            FROM recordings_chunk ch, generate_series(1, 3) j
            WHERE j <= ch.transcriptions_received
            """,
            {"users": users},
        )
        have = c.execute("SELECT count(*) FROM transcriptions_transcription").fetchone()[0]
        if have < transcriptions:
            c.execute(
                """
                INSERT INTO transcriptions_transcription (chunk_id, user_id, text,
                    normalized_text, flags, source, created_at)
                SELECT ch.id, 1 + ((ch.contributor_id + j * 13 + 3) %% %(users)s), 'লেখা',
                       'লেখা', '[]', 'typed', now()
                FROM recordings_chunk ch, generate_series(4, 5) j
                WHERE ch.status = 'validated'
                LIMIT %(extra)s
                """,
                {"users": users, "extra": transcriptions - have},
            )
        c.execute("ANALYZE")
        counts = c.execute(
            "SELECT (SELECT count(*) FROM recordings_chunk),"
            " (SELECT count(*) FROM transcriptions_transcription)"
        ).fetchone()
    print(
        f"seeded {counts[0]:,} chunks, {counts[1]:,} transcriptions, {users:,} users "
        f"in {time.monotonic() - t0:.0f} s",
        flush=True,
    )


async def login(client: httpx.AsyncClient, username: str) -> str:
    response = await client.post(
        "/api/auth/token/", json={"username": username, "password": PASSWORD}
    )
    response.raise_for_status()
    return response.json()["access"]


async def run_phase(base, tokens, seconds, work, *, cycles_per_second: float | None = None):
    """Run ``work(client, headers, record)`` in a loop per client until time is up.

    Without a pace every client starts its next cycle as soon as the last one
    ends (closed loop: the server is saturated and latency is queueing). With
    ``cycles_per_second`` the clients together start cycles at that rate, each
    after an exponential pause from the start of its previous one (Poisson
    arrivals, at most one cycle in flight per client, like people working).
    """
    stats: dict[str, list[float]] = {}
    errors: dict[int, int] = {}
    deadline = time.monotonic() + seconds
    rng = random.Random(len(tokens))

    def record(name: str, started: float, response: httpx.Response) -> None:
        stats.setdefault(name, []).append((time.perf_counter() - started) * 1000)
        if response.status_code >= 400:
            errors[response.status_code] = errors.get(response.status_code, 0) + 1

    # Idle connections are dropped before the server's keep-alive (5 s) closes
    # them: the paced phase's pauses are often longer, and a request sent on a
    # connection the server is closing fails with a ReadError.
    limits = httpx.Limits(
        max_connections=len(tokens), max_keepalive_connections=len(tokens), keepalive_expiry=1.0
    )
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:

        async def loop(token):
            headers = {"Authorization": f"Bearer {token}"}
            while time.monotonic() < deadline:
                started = time.monotonic()
                await work(client, headers, record)
                if cycles_per_second:
                    pause = rng.expovariate(cycles_per_second / len(tokens))
                    await asyncio.sleep(max(0.0, started + pause - time.monotonic()))

        started = time.monotonic()
        await asyncio.gather(*(loop(t) for t in tokens))
        elapsed = time.monotonic() - started
    return stats, errors, elapsed


async def bare(client, headers, record):
    t = time.perf_counter()
    record("me", t, await client.get("/api/me/", headers=headers))


def make_transcribe(accepted: list[int]):
    async def transcribe(client, headers, record):
        t = time.perf_counter()
        response = await client.get(
            "/api/tasks/next/", params={"language": "bn", "count": 1}, headers=headers
        )
        record("tasks_next", t, response)
        leased = response.json() if response.status_code == 200 else []
        for task in leased:
            t = time.perf_counter()
            posted = await client.post(
                "/api/transcriptions/",
                json={"chunk": task["chunk"], "text": "আমি দুধ দিয়ে চা খাই"},
                headers=headers,
            )
            record("transcribe", t, posted)
            if posted.status_code == 201:
                accepted.append(1)

    return transcribe


def checks(before_transcriptions: int, accepted: int) -> dict:
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{DB}") as c:
        after = c.execute("SELECT count(*) FROM transcriptions_transcription").fetchone()[0]
        over = c.execute(
            """
            SELECT count(*) FROM recordings_chunk ch
            WHERE ch.transcriptions_received + (SELECT count(*) FROM transcriptions_tasklease l
                  WHERE l.chunk_id = ch.id AND l.expires_at > now()) > ch.transcriptions_required
              AND ch.status = 'open'
            """
        ).fetchone()[0]
        counter_drift = c.execute(
            """
            SELECT count(*) FROM recordings_chunk ch WHERE ch.status = 'open' AND
              ch.transcriptions_received <> (SELECT count(*) FROM transcriptions_transcription t
                                             WHERE t.chunk_id = ch.id)
            """
        ).fetchone()[0]
        user_id = c.execute("SELECT id FROM contributors_user WHERE username='u5'").fetchone()[0]
    from django.db import connection, transaction

    from transcriptions.services import _candidates_sql

    sql = _candidates_sql(mode="auto", lock=True)
    params = {"language": 1, "user": user_id, "now": datetime.now(UTC), "limit": 3}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return {
        "accepted_submissions": accepted,
        "stored_submissions": after - before_transcriptions,
        "lost_submissions": accepted - (after - before_transcriptions),
        "chunks_leased_beyond_need": over,
        "open_chunks_with_counter_drift": counter_drift,
        "lease_query_seq_scan_on_chunks": "Seq Scan on recordings_chunk" in plan,
        "lease_query_plan": plan.splitlines()[:12],
    }


def measure(base: str, args, server_log: str):
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{DB}") as c:
        before = c.execute("SELECT count(*) FROM transcriptions_transcription").fetchone()[0]

    async def go():
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            tokens = [await login(client, f"u{i + 1}") for i in range(args.clients)]
        # Warm-up, not measured (but its submissions are checked too): every
        # web worker imports lazily and opens its connections on its first
        # requests.
        accepted: list[int] = []
        await run_phase(base, tokens, 3, bare)
        await run_phase(base, tokens, 3, make_transcribe(accepted))
        # The bare endpoint is measured before and after the workload and
        # the two halves are pooled, so a drift in machine speed during
        # the run does not land on one side of the ratio.
        bare_a = await run_phase(base, tokens, args.seconds / 2, bare)
        work = await run_phase(base, tokens, args.seconds, make_transcribe(accepted))
        bare_b = await run_phase(base, tokens, args.seconds / 2, bare)
        # Latency at half the saturated throughput, the load a service is
        # sized for: at saturation, latency only measures the queue.
        cycles = len(work[0].get("transcribe", [])) / work[2]
        paced_from = os.path.getsize(server_log)
        paced = await run_phase(
            base, tokens, args.seconds, make_transcribe(accepted),
            cycles_per_second=cycles / 2,
        )  # fmt: skip
        # The bare endpoint at the same request rate: the latency floor of
        # this server, client and machine.
        paced_bare = await run_phase(base, tokens, args.seconds / 2, bare, cycles_per_second=cycles)
        paced[0].update(paced_bare[0])
        bare_stats = {"me": bare_a[0]["me"] + bare_b[0]["me"]}
        bare_errors = {**bare_a[1], **bare_b[1]}
        server_side = server_times(server_log, paced_from)
        return (bare_stats, bare_errors, bare_a[2] + bare_b[2], work, paced, server_side,
                len(accepted), before)  # fmt: skip

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--transcriptions", type=int, default=3_000_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--reuse", action="store_true", help="keep an existing seeded database")
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    args = parser.parse_args()
    with Services() as services:
        env = bench_env(services)
        os.environ.update(env)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        if not args.reuse:
            build_database(env, args.chunks, args.transcriptions, args.users)
        server, base = start_server(env, args.workers)
        try:
            results = measure(base, args, server.log_path)
        finally:
            stop(server)
    bare_stats, bare_errors, bare_elapsed, work, paced, paced_server, n_ok, before = results
    bare_summary = summarise(bare_stats, bare_elapsed)
    work_stats, work_errors, work_elapsed = work
    work_summary = summarise(work_stats, work_elapsed)
    paced_summary = summarise(paced[0], paced[2])
    # summarise divides by one elapsed time; the bare half ran for half as long.
    paced_summary["me"]["rps"] = round(2 * paced_summary["me"]["rps"], 1)
    workload_rps = sum(item["rps"] for item in work_summary.values())
    report = {
        "chunks": args.chunks,
        "transcriptions": args.transcriptions,
        "clients": args.clients,
        "web_workers": args.workers,
        "bare_endpoint": bare_summary,
        "workload": work_summary,
        # Requests per second of the lease + submit mix against the bare
        # endpoint's, both saturating the same server: the mean cost of a
        # bare request over the mean cost of a workload request.
        "throughput_ratio_to_bare": round(workload_rps / bare_summary["me"]["rps"], 3),
        # Seen by the clients, and the server's own share (the app's request
        # time, without the listen queue and the load generator's delays).
        "paced_at_half_throughput": paced_summary,
        "paced_server_side": paced_server,
        "errors_bare": bare_errors,
        "errors_workload": {**work_errors, **paced[1]},
        "checks": checks(before, n_ok),
    }
    print(json.dumps(report, indent=1, ensure_ascii=False))
    if not args.keep:
        with admin_conn() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


if __name__ == "__main__":
    main()
