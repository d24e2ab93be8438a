"""Faults with real processes: a killed worker, Redis, storage and PostgreSQL going away.

Each test drives the product the way a deployment runs it (gunicorn, a Celery
worker process, the S3 endpoint, PostgreSQL) and checks that nothing is lost
or duplicated and that clients get an answer they can act on.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from django.conf import settings
from django.db import connection

from recordings.models import Chunk, Recording, RecordingStatus
from recordings.tests import audio_files
from recordings.tests.factories import LanguageFactory, make_script
from recordings.tests.test_upload_api import stored_keys, upload
from shrutik.testing import ROOT, celery_worker, wait_until, worker_process

PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def app_env(s3_server, **overrides: str) -> dict[str, str]:
    """What a web or worker process of this test run needs to share its state."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "shrutik.settings_test",
        "DATABASE_URL": database_url(),
        "AWS_STORAGE_BUCKET_NAME": s3_server["bucket"],
        "AWS_S3_ENDPOINT_URL": s3_server["endpoint_url"],
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "LOG_LEVEL": "WARNING",
        **overrides,
    }


def private_redis_env(s3_server, redis: RedisServer, **overrides: str) -> dict[str, str]:
    """:func:`app_env` with cache and broker on a Redis the test can stop."""
    return app_env(s3_server, REDIS_URL=redis.url(0), CELERY_BROKER_URL=redis.url(1), **overrides)


@contextmanager
def gunicorn(env: dict[str, str], *, workers: int = 1):
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="web-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        # The compose command: ASGI under gunicorn with uvicorn workers.
        [sys.executable, "-m", "gunicorn", "shrutik.asgi:application",
         "-k", "uvicorn_worker.UvicornWorker", "-c", "python:shrutik.gunicorn_conf",
         "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--timeout", "120"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def up():
        if proc.poll() is not None:
            raise AssertionError("gunicorn exited:\n" + Path(log.name).read_text()[-4000:])
        try:
            return httpx.get(f"{base}/healthz", timeout=5).status_code in (200, 503)
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, timeout=60, what="gunicorn to answer")
        with httpx.Client(base_url=base, timeout=60) as client:
            client.log_path = log.name
            client.process = proc
            client.port = port
            yield client
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        log.close()


def faults_worker(env: dict[str, str], queues: str = "default,audio"):
    """A worker on a broker the test process does not use: ready when it says so."""
    return celery_worker(
        {**env, "LOG_LEVEL": "INFO"},
        queues=queues,
        hostname=f"faults-{os.getpid()}@%h",
        ready=lambda proc, log: " ready." in log,
    )


class RedisServer:
    """A private redis-server that a test can stop and restart on the same port."""

    def __init__(self):
        self.port = free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip

        def pong():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    return s.recv(16).startswith(b"+PONG")
            except OSError:
                return False

        wait_until(pong, timeout=15, what="redis-server to start")

    def stop(self):
        self.proc.kill()
        self.proc.wait(timeout=10)

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


@pytest.fixture
def private_redis():
    server = RedisServer()
    server.start()
    yield server
    if server.proc.poll() is None:
        server.stop()


@pytest.fixture
def reading():
    meta = json.loads(audio_files.READING_JSON.read_text())
    return make_script(LanguageFactory(), meta["script"]), meta


def login(client: httpx.Client, user) -> dict[str, str]:
    response = client.post(
        "/api/auth/token/", json={"username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access']}"}


def http_upload(client: httpx.Client, headers, script) -> httpx.Response:
    return client.post(
        "/api/recordings/",
        headers=headers,
        data={"script": str(script.pk)},
        files={"audio": ("reading.webm", audio_files.READING.read_bytes(), "audio/webm")},
    )


def chunk_keys_match_rows(s3_server, recording_id, n: int) -> None:
    rows = list(
        Chunk.objects.filter(recording_id=recording_id)
        .order_by("index")
        .values_list("index", "audio")
    )
    assert [index for index, _ in rows] == list(range(n))
    expected = sorted(f"chunks/{recording_id}/{i}.flac" for i in range(n))
    assert sorted(audio for _, audio in rows) == expected
    assert sorted(stored_keys(s3_server, f"chunks/{recording_id}/")) == expected


def backends_waiting_on_a_lock(db_name: str) -> int:
    with psycopg.connect(
        f"postgresql://postgres@127.0.0.1:5432/{db_name}", autocommit=True
    ) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock'"
        ).fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_chunking_is_taken_over_by_a_new_worker_once(
    api_client, contributor, reading, s3_server
):
    """kill -9 of the whole worker after the chunk objects are written, before
    their rows commit. No sweeper runs: the broker hands the message, which the
    dead worker no longer keeps fresh, to the next worker within two minutes."""
    script, meta = reading
    n = len(meta["sentences"])
    api_client.force_authenticate(contributor)
    env = app_env(s3_server)
    db_name = connection.settings_dict["NAME"]
    with worker_process({k: env[k] for k in env if k.startswith(("AWS_", "DATABASE_"))}) as proc:
        response = upload(api_client, script, audio_files.READING)
        assert response.status_code == 201, response.content
        recording_id = response.json()["id"]

        def status():
            return Recording.objects.values_list("status", flat=True).get(pk=recording_id)

        wait_until(lambda: status() == RecordingStatus.PROCESSING, timeout=60,
                   what="the worker to claim the recording", interval=0.02)  # fmt: skip
        # Holding the recording's row lock stops the worker exactly where it
        # writes the chunk rows: every object is stored, no row is committed.
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{db_name}") as lock:
            lock.execute(
                "SELECT 1 FROM recordings_recording WHERE id = %s FOR UPDATE", (recording_id,)
            )
            wait_until(lambda: backends_waiting_on_a_lock(db_name) >= 1, timeout=120,
                       what="the worker to reach the chunk transaction")  # fmt: skip
            assert len(stored_keys(s3_server, f"chunks/{recording_id}/")) == n
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            lock.rollback()
    assert status() == RecordingStatus.PROCESSING
    assert not Chunk.objects.filter(recording_id=recording_id).exists()

    with worker_process({k: env[k] for k in env if k.startswith(("AWS_", "DATABASE_"))}) as proc:
        try:
            wait_until(lambda: status() == RecordingStatus.CHUNKED, timeout=120,
                       what="a fresh worker to finish the recording")  # fmt: skip
        except AssertionError as exc:
            raise AssertionError(Path(proc.log_path).read_text()[-4000:]) from exc
    recording = Recording.objects.get(pk=recording_id)
    assert recording.processing_attempts == 2
    chunk_keys_match_rows(s3_server, recording_id, n)


@pytest.mark.django_db(transaction=True)
def test_upload_while_redis_is_down_is_kept_and_processed_once_it_is_back(
    make_user, reading, s3_server, private_redis
):
    script, meta = reading
    user = make_user()
    env = private_redis_env(s3_server, private_redis, RECORDING_STUCK_AFTER_SECONDS="0")
    with gunicorn(env) as web:
        headers = login(web, user)
        private_redis.stop()
        response = http_upload(web, headers, script)
        assert response.status_code == 201, response.text + Path(web.log_path).read_text()[-3000:]
        recording_id = response.json()["id"]
        assert response.json()["status"] == "uploaded"
        recording = Recording.objects.get(pk=recording_id)
        assert recording.audio.name in stored_keys(s3_server)
        # Status polls keep working with the cache gone.
        assert web.get(f"/api/recordings/{recording_id}/", headers=headers).status_code == 200

    private_redis.start()
    with faults_worker(env) as worker:
        send_beat_task(private_redis.url(1), "recordings.sweep", "audio")

        def status():
            return Recording.objects.values_list("status", flat=True).get(pk=recording_id)

        try:
            wait_until(lambda: status() == RecordingStatus.CHUNKED, timeout=60,
                       what="the recording to be processed after Redis came back")  # fmt: skip
        except AssertionError as exc:
            raise AssertionError(Path(worker.log_path).read_text()[-4000:]) from exc
    assert Recording.objects.count() == 1
    chunk_keys_match_rows(s3_server, recording_id, len(meta["sentences"]))


def send_beat_task(broker_url: str, name: str, queue: str) -> None:
    """What beat sends every few minutes, sent now."""
    from celery import Celery

    # Not the current app: shared tasks used by later tests must stay bound
    # to the project's app.
    beat = Celery(set_as_current=False)
    beat.conf.broker_transport_options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    # The URL is passed explicitly because Celery prefers $CELERY_BROKER_URL
    # (this test run's own broker) to its config.
    with beat.connection_for_write(broker_url) as conn:
        beat.send_task(name, queue=queue, connection=conn)


@pytest.mark.django_db(transaction=True)
def test_work_submitted_while_redis_is_down_is_kept_and_picked_up_once_it_is_back(
    make_user, s3_server, private_redis
):
    from consensus.models import ConsensusDecision
    from exports.models import Export
    from recordings.tests.factories import make_chunks
    from transcriptions.models import Transcription

    (chunk,) = make_chunks(1, transcriptions_required=1)
    user, researcher = make_user(), make_user(roles=["contributor", "researcher"])
    env = private_redis_env(s3_server, private_redis, EXPORT_STALL_SECONDS="0")
    with gunicorn(env) as web:
        headers = login(web, user)
        leased = web.get("/api/tasks/next/", params={"language": "bn"}, headers=headers)
        assert [t["chunk"] for t in leased.json()] == [str(chunk.id)], leased.text
        private_redis.stop()
        response = web.post(
            "/api/transcriptions/",
            json={"chunk": str(chunk.id), "text": "the kettle began to whistle"},
            headers=headers,
        )
        # Stored, answered and decided in the request: no broker needed.
        assert response.status_code == 201, response.text + Path(web.log_path).read_text()[-3000:]
        # An export request: kept, answered, left to exports.sweep.
        exported = web.post(
            "/api/exports/", json={"formats": ["nemo"]}, headers=login(web, researcher)
        )
        assert exported.status_code == 202, exported.text
        export = Export.objects.get(pk=exported.json()["id"])
        assert export.status == "queued"
    assert Transcription.objects.filter(chunk=chunk, user=user).count() == 1
    assert ConsensusDecision.objects.filter(chunk=chunk).exists()
    chunk.refresh_from_db()
    # One transcript from a newcomer: the decision asks for another one.
    assert chunk.transcriptions_required == 2 and chunk.status == "open"

    private_redis.start()
    with faults_worker(env, queues="default,exports") as worker:
        send_beat_task(private_redis.url(1), "exports.sweep", "exports")
        try:
            # Nothing matches its filters: picked up, it fails as empty.
            wait_until(
                lambda: Export.objects.filter(pk=export.pk).exclude(status="queued").exists(),
                timeout=60,
                what="the export to be picked up after Redis came back",
            )
        except AssertionError as exc:
            raise AssertionError(Path(worker.log_path).read_text()[-4000:]) from exc


@pytest.mark.django_db
def test_upload_while_storage_is_down_is_a_503_and_leaves_nothing(auth_client, reading, s3_server):
    from botocore.config import Config
    from django.test.utils import override_settings

    script, _ = reading
    dead = f"http://127.0.0.1:{free_port()}"
    storages = {**settings.STORAGES, "default": dict(settings.STORAGES["default"])}
    storages["default"]["OPTIONS"] = {
        **storages["default"]["OPTIONS"],
        "endpoint_url": dead,
        "client_config": Config(connect_timeout=1, retries={"max_attempts": 1}),
    }
    before = set(stored_keys(s3_server))
    with override_settings(STORAGES=storages):
        response = upload(auth_client, script, audio_files.READING)
    assert response.status_code == 503, response.content
    assert "storage" in response.json()["detail"]
    assert response["Retry-After"]
    assert not Recording.objects.exists()
    assert set(stored_keys(s3_server)) == before

    # Storage back: the same upload goes through.
    assert upload(auth_client, script, audio_files.READING).status_code == 201
    assert len(set(stored_keys(s3_server)) - before) == 1


@pytest.mark.django_db(transaction=True)
def test_web_process_recovers_when_its_database_connections_are_dropped(make_user, s3_server):
    user = make_user()
    # The web process names its connections, so that only they are dropped:
    # the test process's own pooled connections stay usable for later tests.
    name = "faults-web"
    env = app_env(s3_server, DATABASE_URL=f"{database_url()}?application_name={name}")
    with gunicorn(env) as web:
        headers = login(web, user)
        assert web.get("/api/me/", headers=headers).status_code == 200
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = %s",
                [name],
            )
            assert cursor.fetchone()[0] >= 1  # the web process's pooled connection
        time.sleep(0.2)
        answers = [web.get("/api/me/", headers=headers).status_code for _ in range(5)]
        assert answers == [200] * 5, Path(web.log_path).read_text()[-3000:]


def send_task(broker_url: str, name: str, queue: str, **options) -> str:
    """Send a task to a broker the test process does not use; its id."""
    from celery import Celery

    sender = Celery(set_as_current=False)
    sender.conf.broker_transport_options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    with sender.connection_for_write(broker_url) as conn:
        return sender.send_task(name, queue=queue, connection=conn, **options).id


def test_worker_survives_redis_being_killed_and_consumes_once_it_is_back(s3_server, private_redis):
    env = private_redis_env(s3_server, private_redis)
    broker = private_redis.url(1)
    with faults_worker(env, queues="default") as worker:
        log = Path(worker.log_path)
        # A task held unacknowledged (waiting for its ETA) when Redis dies: the
        # worker restores it on reconnect, the path that used to crash it.
        held = send_task(broker, "shrutik.heartbeat", "default", countdown=3600)
        wait_until(lambda: f"[{held}] received" in log.read_text(), timeout=30,
                   what="the worker to hold the delayed task")  # fmt: skip
        private_redis.stop()
        # Still retrying after the first attempts, with no limit on them.
        wait_until(lambda: "(2/None)" in log.read_text(), timeout=60,
                   what="the worker to keep retrying while Redis is gone")  # fmt: skip
        private_redis.start()
        fresh = send_task(broker, "shrutik.heartbeat", "default")
        try:
            wait_until(lambda: f"[{fresh}] succeeded" in log.read_text(), timeout=90,
                       what="the worker to run a task sent after Redis came back")  # fmt: skip
        except AssertionError as exc:
            raise AssertionError(log.read_text()[-6000:]) from exc
        assert worker.poll() is None, log.read_text()[-4000:]


@pytest.mark.django_db(transaction=True)
def test_a_task_running_past_the_visibility_timeout_stays_with_its_worker(
    api_client, contributor, reading, s3_server
):
    """Two workers with a 3 s visibility timeout; one recording held up for
    several timeouts: the live worker's heartbeat keeps the message its own."""
    from shrutik.celery import app

    script, meta = reading
    api_client.force_authenticate(contributor)
    db_name = connection.settings_dict["NAME"]
    env = app_env(s3_server, CELERY_VISIBILITY_TIMEOUT="3", LOG_LEVEL="INFO")
    app.control.purge()

    def ready(proc, log):
        return " ready." in log

    with (
        celery_worker(env, queues="audio", hostname=f"one-{os.getpid()}@%h", ready=ready) as one,
        celery_worker(env, queues="audio", hostname=f"two-{os.getpid()}@%h", ready=ready) as two,
    ):
        response = upload(api_client, script, audio_files.READING)
        assert response.status_code == 201, response.content
        recording_id = response.json()["id"]

        def status():
            return Recording.objects.values_list("status", flat=True).get(pk=recording_id)

        wait_until(lambda: status() == RecordingStatus.PROCESSING, timeout=60,
                   what="a worker to claim the recording", interval=0.02)  # fmt: skip
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{db_name}") as lock:
            lock.execute(
                "SELECT 1 FROM recordings_recording WHERE id = %s FOR UPDATE", (recording_id,)
            )
            wait_until(lambda: backends_waiting_on_a_lock(db_name) >= 1, timeout=120,
                       what="the worker to reach the chunk transaction")  # fmt: skip
            # Time itself is what this test is about: four visibility timeouts
            # (and restore sweeps) pass while the task cannot finish.
            time.sleep(12)
            lock.rollback()
        wait_until(lambda: status() == RecordingStatus.CHUNKED, timeout=60,
                   what="the worker to finish")  # fmt: skip
        logs = [Path(w.log_path).read_text() for w in (one, two)]
    deliveries = [
        line
        for log in logs
        for line in log.splitlines()
        if "recordings.process[" in line and "] received" in line and recording_id in line
    ]
    assert len(deliveries) == 1, deliveries
    assert Recording.objects.get(pk=recording_id).processing_attempts == 1
    chunk_keys_match_rows(s3_server, recording_id, len(meta["sentences"]))
