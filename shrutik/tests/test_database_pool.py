"""Database connections with real servers: each process stays within its pool,
and a task outlives a database that refuses connections for a while."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection

from recordings.models import Recording, RecordingStatus
from recordings.tests import audio_files
from recordings.tests.factories import LanguageFactory, make_script
from shrutik.testing import wait_until, worker_process
from shrutik.tests.test_faults import app_env, database_url, gunicorn, login


def admin_connection() -> psycopg.Connection:
    """A connection of the test's own, to the maintenance database."""
    return psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True)


class PeakConnections:
    """Counts, every few milliseconds, the backends of the test database that
    carry ``application_name``; ``peak`` is the most seen at once."""

    def __init__(self, db_name: str, application_name: str):
        self.query = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = %s"
        )
        self.args = (db_name, application_name)
        self.peak = 0
        self.stopped = threading.Event()

    def _run(self) -> None:
        with admin_connection() as conn:
            while not self.stopped.wait(0.01):
                self.peak = max(self.peak, conn.execute(self.query, self.args).fetchone()[0])

    def __enter__(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join(timeout=10)


@pytest.mark.django_db(transaction=True)
def test_asgi_web_processes_never_hold_more_connections_than_their_pools(make_user, s3_server):
    workers, pool_size, requests = 2, 3, 400
    name = f"shrutik-web-{connection.settings_dict['NAME']}"
    env = app_env(
        s3_server,
        DATABASE_URL=f"{database_url()}?application_name={name}",
        DB_POOL_MAX_SIZE=str(pool_size),
    )
    user = make_user()
    with gunicorn(env, workers=workers) as web:
        headers = login(web, user)
        with (
            PeakConnections(connection.settings_dict["NAME"], name) as seen,
            ThreadPoolExecutor(max_workers=32) as clients,
        ):
            answers = list(
                clients.map(
                    lambda _: web.get("/api/me/", headers=headers).status_code, range(requests)
                )
            )
    assert answers == [200] * requests, Path(web.log_path).read_text()[-3000:]
    # At least one: the count really sees the web processes' connections.
    assert 1 <= seen.peak <= workers * pool_size


@contextmanager
def connections_refused(db_name: str):
    """PostgreSQL refuses every new connection to the database (superusers
    too); connections already open keep working."""
    with admin_connection() as admin:
        admin.execute(f'ALTER DATABASE "{db_name}" WITH ALLOW_CONNECTIONS false')
        try:
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{db_name}" WITH ALLOW_CONNECTIONS true')


@pytest.mark.django_db(transaction=True)
def test_a_task_that_cannot_reach_the_database_is_retried_until_it_can(contributor, s3_server):
    from recordings.tasks import recording_process

    script = make_script(
        LanguageFactory(), json.loads(audio_files.READING_JSON.read_text())["script"]
    )
    recording = Recording.objects.create(
        contributor=contributor, script=script, sha256="0" * 64, container="matroska,webm"
    )
    key = f"recordings/{recording.id}/original.webm"
    recording.audio.name = default_storage.save(key, ContentFile(audio_files.READING.read_bytes()))
    recording.save()
    db_name = connection.settings_dict["NAME"]
    env = {
        **{k: v for k, v in app_env(s3_server).items() if k.startswith(("AWS_", "DATABASE_"))},
        # A refused connection is an OperationalError at once; a pool with no
        # connection to give fails after this long.
        "DB_POOL_TIMEOUT": "2",
    }
    with worker_process(env) as worker:
        log = Path(worker.log_path)
        with connections_refused(db_name):
            recording_process.delay(str(recording.id))
            wait_until(
                lambda: "could not reach the database" in log.read_text(),
                timeout=60,
                what="the task to fail on the database and be retried",
            )
        try:
            wait_until(
                lambda: Recording.objects.get(pk=recording.id).status == RecordingStatus.CHUNKED,
                timeout=120,
                what="the retried task to process the recording",
            )
        except AssertionError as exc:
            raise AssertionError(log.read_text()[-4000:]) from exc
