"""Graceful shutdown with real processes: SIGTERM, as Kubernetes and compose send it.

- A web process (gunicorn with uvicorn workers, the compose command) stops
  accepting connections, finishes the requests in flight, and closes live
  recording sockets with 1012 ("service restart"), from which the reader's
  page reconnects, to another process, and resumes.
- A worker finishes the task it is running, or after its grace period puts
  it back on the queue for another worker.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection

from live.models import LiveSession, LiveStatus
from live.tests.conftest import AsgiServer, Client, access_token, connect, frame, frames_of
from recordings.models import Chunk, Recording, RecordingStatus
from recordings.tests import audio_files
from recordings.tests.factories import LanguageFactory, make_script
from recordings.tests.test_upload_api import stored_keys, upload
from shrutik.testing import celery_worker, wait_until, worker_process
from shrutik.tests.test_faults import (
    app_env,
    backends_waiting_on_a_lock,
    chunk_keys_match_rows,
    gunicorn,
    login,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def reading():
    meta = json.loads(audio_files.READING_JSON.read_text())
    return make_script(LanguageFactory(), meta["script"]), meta


def status(recording_id) -> str:
    return Recording.objects.values_list("status", flat=True).get(pk=recording_id)


@contextmanager
def held_before_its_chunks_commit(recording_id):
    """The worker stopped where it writes the chunk rows: the recording's row is
    locked here, every chunk object is stored, no row is committed."""
    wait_until(lambda: status(recording_id) == RecordingStatus.PROCESSING, timeout=60,
               what="the worker to claim the recording", interval=0.02)  # fmt: skip
    db_name = connection.settings_dict["NAME"]
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{db_name}") as lock:
        lock.execute("SELECT 1 FROM recordings_recording WHERE id = %s FOR UPDATE", (recording_id,))
        wait_until(lambda: backends_waiting_on_a_lock(db_name) >= 1, timeout=120,
                   what="the worker to reach the chunk transaction")  # fmt: skip
        yield lock
        lock.rollback()


def worker_env(s3_server, **overrides: str) -> dict[str, str]:
    env = app_env(s3_server)
    return {**{k: env[k] for k in env if k.startswith(("AWS_", "DATABASE_"))}, **overrides}


def queued(queue: str) -> int:
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        return client.llen(f"{prefix}{queue}")
    finally:
        client.close()


@contextmanager
def stopped_while_cutting(api_client, contributor, reading, env):
    """A worker cutting a fresh upload, held before its chunk rows commit, and
    sent SIGTERM: to the main process only, as Kubernetes signals a
    container's PID 1. Yields the worker and the recording's id."""
    script, _ = reading
    api_client.force_authenticate(contributor)
    with worker_process(env, queues="default,audio") as proc:
        recording_id = upload(api_client, script, audio_files.READING).json()["id"]
        with held_before_its_chunks_commit(recording_id):
            os.kill(proc.pid, signal.SIGTERM)
            yield proc, recording_id
        # The lock is released: the worker ends its shutdown by itself.
        proc.wait(timeout=120)


@pytest.mark.e2e
def test_a_worker_told_to_stop_finishes_the_task_it_is_running(
    api_client, contributor, reading, s3_server
):
    env = worker_env(s3_server, WORKER_SHUTDOWN_GRACE_SECONDS="300")
    with stopped_while_cutting(api_client, contributor, reading, env) as (proc, recording_id):
        wait_until(lambda: "Warm shutdown" in Path(proc.log_path).read_text(), timeout=30,
                   what="the worker to begin its warm shutdown")  # fmt: skip
    assert proc.returncode == 0, Path(proc.log_path).read_text()[-3000:]
    recording = Recording.objects.get(pk=recording_id)
    assert recording.status == RecordingStatus.CHUNKED
    assert recording.processing_attempts == 1
    chunk_keys_match_rows(s3_server, recording_id, len(reading[1]["sentences"]))


@pytest.mark.e2e
def test_a_worker_past_its_grace_period_puts_its_task_back_on_the_queue(
    api_client, contributor, reading, s3_server
):
    """Back on the queue at once, not after the visibility timeout: the next
    worker takes it from the queue itself."""
    env = worker_env(s3_server, WORKER_SHUTDOWN_GRACE_SECONDS="1")
    with stopped_while_cutting(api_client, contributor, reading, env) as (proc, recording_id):
        # It exits while the task is still stuck behind the lock.
        proc.wait(timeout=60)
        assert queued("audio") == 1, Path(proc.log_path).read_text()[-3000:]
    assert status(recording_id) == RecordingStatus.PROCESSING
    assert not Chunk.objects.filter(recording_id=recording_id).exists()

    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "shrutik.settings_test", **env}
    with celery_worker(full_env, queues="default,audio", hostname=f"next-{os.getpid()}@%h",
                       ready=lambda proc, log: " ready." in log) as second:  # fmt: skip
        try:
            wait_until(lambda: status(recording_id) == RecordingStatus.CHUNKED, timeout=120,
                       what="the next worker to take the requeued task")  # fmt: skip
        except AssertionError as exc:
            raise AssertionError(Path(second.log_path).read_text()[-4000:]) from exc
    assert Recording.objects.get(pk=recording_id).processing_attempts == 2
    chunk_keys_match_rows(s3_server, recording_id, len(reading[1]["sentences"]))


def refuses_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except OSError:
        return True


def test_a_web_process_told_to_stop_finishes_an_upload_in_flight_and_takes_no_new_one(
    make_user, reading, s3_server
):
    script, _ = reading
    user = make_user()
    with gunicorn(app_env(s3_server)) as web:
        headers = login(web, user)
        request = web.build_request(
            "POST",
            "/api/recordings/",
            headers=headers,
            data={"script": str(script.pk)},
            files={"audio": ("reading.webm", audio_files.READING.read_bytes(), "audio/webm")},
        )
        body = request.read()
        head = "".join(
            f"{name}: {value}\r\n"
            for name, value in request.headers.items()
            if name.lower() not in {"connection", "host"}
        )
        half = len(body) // 2
        with socket.create_connection(("127.0.0.1", web.port), timeout=60) as upload_socket:
            upload_socket.sendall(
                f"POST /api/recordings/ HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}\r\n".encode()
                + body[:half]
            )
            web.process.send_signal(signal.SIGTERM)
            wait_until(lambda: refuses_connections(web.port), timeout=30,
                       what="the server to stop accepting connections")  # fmt: skip
            upload_socket.sendall(body[half:])
            answer = b""
            while chunk := upload_socket.recv(65536):
                answer += chunk
        assert web.process.wait(timeout=60) == 0
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"201", answer[:2000]
    created = json.loads(rest.partition(b"\r\n\r\n")[2])
    recording = Recording.objects.get(pk=created["id"])
    assert recording.contributor == user
    assert recording.audio.name in stored_keys(s3_server)


def test_a_web_process_told_to_stop_closes_live_sockets_so_they_resume_elsewhere(
    make_user, reading, s3_server
):
    script, meta = reading
    reader = make_user()
    token = access_token(reader)
    pieces = frames_of(audio_files.READING.read_bytes(), meta["duration"])
    half = len(pieces) // 2
    env = app_env(s3_server)
    with gunicorn(env) as first_web, gunicorn(env) as second_web:
        first, second = AsgiServer(first_web.port), AsgiServer(second_web.port)

        async def stream():
            async with connect(first, script.pk, token=token) as ws:
                client = Client(ws)
                await client.recv("ready")
                await client.send({"type": "start"})
                session_id = (await client.recv("started"))["session"]
                for seq in range(half):
                    await ws.send(frame(seq, pieces[seq]))
                    assert (await client.recv("ack"))["seq"] == seq
                first_web.process.send_signal(signal.SIGTERM)
                code, _ = await client.closed()
            # What the reader's page does on a code it may retry: connect
            # again (here to the other web process) and resume.
            async with connect(second, script.pk, token=token) as ws:
                client = Client(ws)
                await client.recv("ready")
                await client.send({"type": "resume", "session": session_id, "last_ack": half - 1})
                resumed = await client.recv("resumed")
                for seq in range(resumed["next_seq"], len(pieces)):
                    await ws.send(frame(seq, pieces[seq]))
                    assert (await client.recv("ack"))["seq"] == seq
                await client.send({"type": "end"})
                ended = await client.recv("ended")
            return session_id, code, resumed, ended

        session_id, code, resumed, ended = asyncio.run(stream())
        assert first_web.process.wait(timeout=60) == 0
    assert code == 1012
    assert resumed["next_seq"] == half
    session = LiveSession.objects.get(pk=session_id)
    assert session.status == LiveStatus.ENDED
    recording = Recording.objects.get(pk=ended["recording"])
    assert recording.contributor == reader
    assert recording.size_bytes == len(audio_files.READING.read_bytes())


def test_workers_answer_the_readiness_probe_by_name(s3_server):
    """The probe the Kubernetes recipe and compose run: celery inspect ping
    against the worker's own node name."""
    env = worker_env(s3_server)
    with worker_process(env, queues="default") as proc:
        hostname = f"test-{os.getpid()}@{socket.gethostname()}"
        full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "shrutik.settings_test"}
        probe = [sys.executable, "-m", "celery", "-A", "shrutik", "inspect", "ping", "-t", "10"]

        def ping(node: str) -> subprocess.CompletedProcess:
            return subprocess.run([*probe, "--destination", node], env=full_env,
                                  capture_output=True, text=True, timeout=60)  # fmt: skip

        ok, other = ping(hostname), ping(f"nobody@{socket.gethostname()}")
        assert proc.poll() is None
    assert ok.returncode == 0 and "pong" in ok.stdout, ok.stdout + ok.stderr
    assert other.returncode != 0
