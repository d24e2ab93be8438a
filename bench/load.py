"""The whole platform under load: uploads, processing and transcription at once.

Starts a private stack of the deployed shape on loopback — a scratch
PostgreSQL database, its own redis-server, moto's S3 server, the web server as
docker-compose.yml runs it (gunicorn with uvicorn workers serving the ASGI app)
and a Celery worker — then runs
``--uploaders`` volunteers uploading a real reading (POST /api/recordings/)
and ``--transcribers`` volunteers leasing and transcribing chunks (GET
/api/tasks/next/, POST /api/transcriptions/) for ``--seconds``. Afterwards it
waits (at most ``--drain`` seconds) for the worker to finish processing and
prints what was accepted against what was kept:

- accepted uploads = recordings in the database = originals in storage;
- chunks created (rows, and objects in storage);
- transcriptions accepted = transcriptions stored;
- 5xx answers (expected: zero) and p50/p99 latency per endpoint.

    .venv/bin/python bench/load.py                      # 100 + 64 clients, 60 s
    .venv/bin/python bench/load.py --seconds 10 --uploaders 10 --transcribers 8

Loopback only; every phase is bounded in time. The figures depend on the
machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from common import (
    BUCKET,
    ROOT,
    Services,
    admin_conn,
    consented_users,
    list_keys,
    release_database,
    setup_django,
    start_server,
    start_worker,
    stop,
    summarise,
)

DB = "shrutik_bench_load"
READING = ROOT / "recordings" / "tests" / "fixtures" / "bn_read_fluent.webm"
READING_JSON = READING.with_suffix(".json")
TEXT = "আমি দুধ দিয়ে চা খাই"


def bench_env(services: Services) -> dict[str, str]:
    unlimited = "100000000/hour"
    return services.env(
        DB,
        THROTTLE_UPLOAD=unlimited,
        THROTTLE_SUBMIT=unlimited,
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
    )


def seed(uploaders: int, transcribers: int, scripts: int, open_chunks: int):
    """Users, scripts and open chunks; returns (uploader tokens, transcriber tokens)."""
    from django.conf import settings
    from rest_framework_simplejwt.tokens import AccessToken

    from recordings.models import Chunk, Language, Recording, RecordingStatus
    from recordings.scripts import script_build

    users = consented_users(f"load{i}" for i in range(uploaders + transcribers + 1))
    reader, users = users[0], users[1:]
    language = Language.objects.create(code="bn", name="Bangla", native_name="বাংলা")
    text = json.loads(READING_JSON.read_text())["script"]
    built = [script_build(language=language, text=text) for _ in range(scripts)]
    script_ids = [s.pk for s in type(built[0]).objects.bulk_create(built)]
    # Chunks ready for transcription from the start, so transcribers are busy
    # while the worker is still cutting the first uploads.
    recording = Recording.objects.create(
        contributor=reader, script_id=script_ids[0], sha256="0" * 64,
        status=RecordingStatus.CHUNKED, duration=3.0 * open_chunks,
    )  # fmt: skip
    required = settings.CHUNK_TRANSCRIPTIONS_REQUIRED
    Chunk.objects.bulk_create(
        Chunk(
            recording=recording, language=language, contributor=reader, index=i,
            start=3.0 * i, end=3.0 * i + 2.5, duration=2.5,
            audio=f"chunks/{recording.id}/{i}.flac", expected_text=TEXT,
            transcriptions_required=required,
        )
        for i in range(open_chunks)
    )  # fmt: skip
    tokens = [str(AccessToken.for_user(u)) for u in users]
    return tokens[:uploaders], tokens[uploaders:], script_ids, recording.id


class Tally:
    def __init__(self):
        self.latency: dict[str, list[float]] = {}
        self.status: dict[str, Counter] = {}
        self.transport_errors: Counter = Counter()
        self.accepted_uploads: set[str] = set()
        self.duplicate_uploads = 0
        self.accepted_transcriptions = 0

    def record(self, name: str, started: float, response: httpx.Response) -> None:
        self.latency.setdefault(name, []).append((time.perf_counter() - started) * 1000)
        self.status.setdefault(name, Counter())[response.status_code] += 1


async def uploader(client, token, script_ids, offset, deadline, tally: Tally, audio: bytes):
    headers = {"Authorization": f"Bearer {token}"}
    n = 0
    while time.monotonic() < deadline:
        script = script_ids[(offset + n) % len(script_ids)]
        n += 1
        started = time.perf_counter()
        try:
            response = await client.post(
                "/api/recordings/",
                headers=headers,
                data={"script": str(script)},
                files={"audio": ("reading.webm", audio, "audio/webm")},
            )
        except httpx.HTTPError as exc:
            tally.transport_errors[f"upload {type(exc).__name__}"] += 1
            continue
        tally.record("upload", started, response)
        if response.status_code == 201:
            tally.accepted_uploads.add(response.json()["id"])
        elif response.status_code == 200:
            tally.duplicate_uploads += 1


async def transcriber(client, token, deadline, tally: Tally):
    headers = {"Authorization": f"Bearer {token}"}
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            response = await client.get(
                "/api/tasks/next/", params={"language": "bn", "count": 1}, headers=headers
            )
            tally.record("tasks_next", started, response)
            leased = response.json() if response.status_code == 200 else []
            if not leased:
                await asyncio.sleep(0.5)
            for task in leased:
                started = time.perf_counter()
                posted = await client.post(
                    "/api/transcriptions/",
                    json={"chunk": task["chunk"], "text": TEXT},
                    headers=headers,
                )
                tally.record("transcribe", started, posted)
                if posted.status_code == 201:
                    tally.accepted_transcriptions += 1
        except httpx.HTTPError as exc:
            tally.transport_errors[f"transcriber {type(exc).__name__}"] += 1


async def run_load(base, up_tokens, tr_tokens, script_ids, seconds) -> tuple[Tally, float]:
    tally = Tally()
    audio = READING.read_bytes()
    clients = len(up_tokens) + len(tr_tokens)
    # Idle connections are dropped before the server's keep-alive (5 s) closes
    # them: a request sent on a connection the server is closing fails with a
    # ReadError that says nothing about the platform.
    limits = httpx.Limits(
        max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=1.0
    )
    # Generous timeouts: a slow answer is a latency figure, not a lost upload.
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        started = time.monotonic()
        deadline = started + seconds
        per_user = max(1, len(script_ids) // max(1, len(up_tokens)))
        await asyncio.gather(
            *(uploader(client, t, script_ids, i * per_user, deadline, tally, audio)
              for i, t in enumerate(up_tokens)),
            *(transcriber(client, t, deadline, tally) for t in tr_tokens),
        )  # fmt: skip
        elapsed = time.monotonic() - started
    return tally, elapsed


class ConnectionWatch(threading.Thread):
    """Samples the scratch database's client connections (pg_stat_activity)
    every quarter second, over a connection of its own to another database, so
    the figure is the stack's: web processes, worker children and this
    process's one connection."""

    def __init__(self, db: str):
        super().__init__(daemon=True)
        self.db = db
        self.peak = 0
        self.samples = 0
        self.done = threading.Event()

    def run(self) -> None:
        with admin_conn() as conn:
            while not self.done.is_set():
                (n,) = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = %s AND backend_type = 'client backend'",
                    [self.db],
                ).fetchone()
                self.peak = max(self.peak, n)
                self.samples += 1
                self.done.wait(0.25)

    def stop(self) -> None:
        self.done.set()
        self.join()


def pool_total(web_workers: int, worker_concurrency: int) -> int:
    """The most connections the stack may hold: a pool of DB_POOL_MAX_SIZE per
    process that touches the database (each web worker, each Celery child and
    the Celery main process, which runs beat-free but still answers control
    tasks), plus this process's own."""
    from django.conf import settings

    size = settings.DATABASES["default"]["OPTIONS"]["pool"]["max_size"]
    return (web_workers + worker_concurrency + 1) * size + 1


def wait_for_processing(drain: float, seed_recording) -> float:
    from recordings.models import Recording, RecordingStatus

    started = time.monotonic()
    pending = [RecordingStatus.UPLOADED, RecordingStatus.PROCESSING]
    while time.monotonic() - started < drain:
        if not Recording.objects.exclude(pk=seed_recording).filter(status__in=pending).exists():
            break
        time.sleep(1)
    return time.monotonic() - started


def figures(tally: Tally, elapsed: float, s3_endpoint: str, seed_recording, before_tr: int):
    from django.db.models import Count

    from recordings.models import Chunk, Recording
    from transcriptions.models import Transcription

    uploaded = Recording.objects.exclude(pk=seed_recording)
    db_ids = {str(pk) for pk in uploaded.values_list("id", flat=True)}
    by_status = dict(uploaded.values_list("status").annotate(n=Count("id")).order_by())
    chunk_rows = Chunk.objects.exclude(recording_id=seed_recording).count()
    # Objects against rows for finished recordings only: one still being cut
    # when the drain ends may have objects whose rows are not committed yet.
    chunked = {str(pk) for pk in uploaded.filter(status="chunked").values_list("id", flat=True)}
    chunk_keys = list_keys(s3_endpoint, BUCKET, "chunks/")
    chunked_objects = sum(1 for key in chunk_keys if key.split("/")[1] in chunked)
    chunked_rows = Chunk.objects.filter(recording_id__in=chunked).count()
    stored_transcriptions = Transcription.objects.count() - before_tr
    fivexx = sum(n for c in tally.status.values() for code, n in c.items() if code >= 500)
    return {
        "seconds": round(elapsed, 1),
        "accepted_uploads": len(tally.accepted_uploads),
        "recordings_in_database": len(db_ids),
        "originals_in_storage": len(list_keys(s3_endpoint, BUCKET, "recordings/")),
        "accepted_equals_database_ids": tally.accepted_uploads == db_ids,
        "duplicate_uploads_answered_200": tally.duplicate_uploads,
        "recordings_by_status": by_status,
        "chunks_created": chunk_rows,
        "chunk_objects_in_storage": len(chunk_keys),
        "chunk_rows_of_chunked_recordings": chunked_rows,
        "chunk_objects_of_chunked_recordings": chunked_objects,
        "transcriptions_accepted": tally.accepted_transcriptions,
        "transcriptions_stored": stored_transcriptions,
        "http_5xx": fivexx,
        "transport_errors": dict(tally.transport_errors),
        "status_codes": {k: dict(sorted(v.items())) for k, v in tally.status.items()},
        "latency": summarise(tally.latency, elapsed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--uploaders", type=int, default=100)
    parser.add_argument("--transcribers", type=int, default=64)
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--open-chunks", type=int, default=5000)
    parser.add_argument("--drain", type=float, default=180, help="max wait for processing (s)")
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    args = parser.parse_args()

    web = worker = None
    with Services() as services:
        try:
            env = bench_env(services)
            setup_django(env, DB)
            up_tokens, tr_tokens, script_ids, seed_recording = seed(
                args.uploaders, args.transcribers, scripts=max(300, 4 * args.uploaders),
                open_chunks=args.open_chunks,
            )  # fmt: skip
            from transcriptions.models import Transcription

            before_tr = Transcription.objects.count()
            worker = start_worker(env, concurrency=args.worker_concurrency)
            web, base = start_server(env, args.web_workers)
            watch = ConnectionWatch(DB)
            watch.start()
            print(
                f"load: {args.uploaders} uploaders + {args.transcribers} transcribers for "
                f"{args.seconds:.0f} s against {base} ({args.web_workers} web workers, "
                f"Celery concurrency {args.worker_concurrency}, {os.cpu_count()} CPUs)",
                flush=True,
            )
            tally, elapsed = asyncio.run(
                run_load(base, up_tokens, tr_tokens, script_ids, args.seconds)
            )
            drained = wait_for_processing(args.drain, seed_recording)
            watch.stop()
            report = figures(tally, elapsed, services.s3_endpoint, seed_recording, before_tr)
            report["processing_drain_seconds"] = round(drained, 1)
            report["postgres_connections_peak"] = watch.peak
            report["postgres_connections_pool_total"] = pool_total(
                args.web_workers, args.worker_concurrency
            )
            report["postgres_connection_samples"] = watch.samples
            report["nothing_lost"] = (
                0
                < report["accepted_uploads"]
                == report["recordings_in_database"]
                == report["originals_in_storage"]
                and report["accepted_equals_database_ids"]
                and report["transcriptions_accepted"] == report["transcriptions_stored"]
                and report["chunk_rows_of_chunked_recordings"]
                == report["chunk_objects_of_chunked_recordings"]
                and report["http_5xx"] == 0
                and report["duplicate_uploads_answered_200"] == 0
            )
            report["connections_within_pools"] = (
                report["postgres_connections_peak"] <= report["postgres_connections_pool_total"]
            )
            print(json.dumps(report, indent=1, ensure_ascii=False))
            if report["http_5xx"]:
                print("server log (tail):\n" + Path(web.log_path).read_text()[-4000:])
        finally:
            for proc in (web, worker):
                stop(proc)
            release_database(DB, keep=args.keep)


if __name__ == "__main__":
    main()
