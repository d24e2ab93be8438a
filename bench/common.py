"""What the load benchmarks share: scratch services, a server, percentiles.

Everything listens on loopback and is started and stopped by the benchmark
itself, so a run never touches the machine's shared databases or queues.

The benchmarks measure the deployed shape unless their docstring says
otherwise: PostgreSQL (a scratch database), a private redis-server (cache,
Celery broker, channel layer), an S3 endpoint (moto's server, in its own
process) and the web server docker-compose.yml runs (:func:`web_command`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "shrutik-bench"


def django_env(db: str, **overrides: str) -> dict[str, str]:
    """The environment a benchmark runs the app in: its scratch database, a
    fixed secret, plain HTTP on loopback and warnings only; ``overrides`` add
    or replace variables."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "shrutik.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{db}",
        "SECRET_KEY": "bench-secret-key-" + "x" * 40,
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        **overrides,
    }


class Services:
    """A private redis-server and S3 endpoint for one run, stopped on exit::

    with Services() as services:
        env = services.env(DB)
    """

    def __enter__(self) -> Services:
        self.redis = self.s3 = None
        try:
            self.redis, self.redis_url = start_redis()
            self.s3, self.s3_endpoint = start_s3(BUCKET)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        stop(self.s3)
        if self.redis is not None:
            self.redis.kill()
            self.redis.wait()

    def env(self, db: str, **overrides: str) -> dict[str, str]:
        """:func:`django_env` plus what docker-compose.yml gives the app: this
        Redis for the cache, the channel layer and (in a database of its own)
        the Celery broker, and S3 storage in bucket :data:`BUCKET`."""
        return django_env(
            db,
            REDIS_URL=f"{self.redis_url}/0",
            CELERY_BROKER_URL=f"{self.redis_url}/1",
            AWS_STORAGE_BUCKET_NAME=BUCKET,
            AWS_S3_ENDPOINT_URL=self.s3_endpoint,
            AWS_S3_REGION_NAME="us-east-1",
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            **overrides,
        )


def consented_users(usernames):
    """Contributor rows that have accepted the current agreement, in one
    insert; their passwords are unusable (clients get tokens minted here)."""
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from contributors.models import User

    now = timezone.now()
    password = make_password(None)
    return User.objects.bulk_create(
        User(
            username=name,
            password=password,
            consent_version=settings.CONSENT_VERSION,
            consent_at=now,
        )
        for name in usernames
    )


def admin_conn():
    return psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True)


def recreate_database(name: str) -> None:
    with admin_conn() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def drop_database(name: str) -> None:
    with admin_conn() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def release_database(name: str, *, keep: bool) -> None:
    """Close this process's connections to the scratch database ``name`` and
    drop it, unless ``keep``."""
    from django.db import connections

    connections.close_all()
    if not keep:
        drop_database(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env, *args):
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


# What switches the app from the embedded shape to the deployed one.
DEPLOYED_VARS = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "AWS_STORAGE_BUCKET_NAME")


def embedded_env(var: str | Path, **overrides: str) -> dict[str, str]:
    """The environment ``make run`` gives the app: none of the deployed
    shape's services, so SQLite, files and the filesystem broker, all under
    the scratch directory ``var``; ``overrides`` add or replace variables."""
    env = {k: v for k, v in os.environ.items() if k not in DEPLOYED_VARS}
    env.update({"SHRUTIK_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "shrutik.settings"})
    env.update(overrides)
    return env


def setup_django(env: dict[str, str], db: str | None) -> None:
    """A fresh scratch database ``db`` (None: the embedded shape's SQLite file
    under ``SHRUTIK_VAR_DIR``), migrated by ``manage.py`` in its own process;
    then Django set up in this one on ``env``."""
    if db is not None:
        recreate_database(db)
    manage(env, "migrate", "--noinput", "-v0")
    for key in DEPLOYED_VARS:
        if key not in env:
            os.environ.pop(key, None)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def wait_for(predicate, *, timeout: float, what: str, interval: float = 0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise SystemExit(f"timed out waiting for {what}")


def spawn(args: list[str], env, *, log_prefix: str) -> subprocess.Popen:
    """A child in its own process group, logging to a temporary file."""
    log = tempfile.NamedTemporaryFile(prefix=log_prefix, suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    proc.log_path = log.name
    return proc


def stop(proc: subprocess.Popen | None, timeout: float = 30) -> None:
    if proc is None:
        return
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    for directory in getattr(proc, "scratch_dirs", []):
        shutil.rmtree(directory, ignore_errors=True)


def start_worker(
    env, *, concurrency: int, queues: str = "default,audio,consensus,exports", name: str = "bench"
) -> subprocess.Popen:
    """A Celery worker on ``queues``; returns once it consumes."""
    proc = spawn(
        [sys.executable, "-m", "celery", "-A", "shrutik", "worker", "--loglevel", "INFO",
         "--queues", queues, "--concurrency", str(concurrency), "--without-gossip",
         "--without-mingle", "--hostname", f"{name}-{os.getpid()}@%h"],
        env, log_prefix=f"{name}-worker-",
    )  # fmt: skip
    log = Path(proc.log_path)

    def ready() -> bool:
        if proc.poll() is not None:
            raise SystemExit(f"worker exited:\n{log.read_text()[-3000:]}")
        return "ready." in log.read_text()

    wait_for(ready, timeout=120, what="the Celery worker", interval=0.2)
    return proc


def web_command(port: int, workers: int) -> list[str]:
    """The ``web`` service's command in docker-compose.yml, on a loopback port:
    gunicorn supervising uvicorn workers that serve the ASGI app (HTTP and the
    live WebSocket), with the gunicorn hooks of ``shrutik.gunicorn_conf``."""
    return [
        sys.executable, "-m", "gunicorn", "shrutik.asgi:application",
        "-k", "uvicorn_worker.UvicornWorker", "-c", "python:shrutik.gunicorn_conf",
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--timeout", "300",
        "--graceful-timeout", "60",
    ]  # fmt: skip


def start_server(env, workers: int) -> tuple[subprocess.Popen, str]:
    """The web server as deployed (:func:`web_command`); returns once /healthz answers.

    It runs with the deployed logging (JSON at INFO) and the workers' summed
    metrics (``PROMETHEUS_MULTIPROC_DIR``), as in docker-compose.yml. Its log,
    ``proc.log_path``, holds the app's access line for every request, with the
    time the app spent on it (see :func:`server_times`).
    """
    port = free_port()
    metrics = tempfile.mkdtemp(prefix="bench-prometheus-")
    server_env = {
        **env,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "PROMETHEUS_MULTIPROC_DIR": metrics,
    }
    proc = spawn(web_command(port, workers), server_env, log_prefix="bench-web-")
    proc.scratch_dirs = [metrics]
    base = f"http://127.0.0.1:{port}"

    def up():
        if proc.poll() is not None:
            raise SystemExit("server exited:\n" + Path(proc.log_path).read_text()[-3000:])
        try:
            return httpx.get(f"{base}/healthz", timeout=5).status_code in (200, 503)
        except httpx.HTTPError:
            return False

    wait_for(up, timeout=90, what="the server")
    return proc, base


def start_embedded(env, web_workers: int, concurrency: int) -> tuple[subprocess.Popen, str]:
    """``make run``'s shape (``manage.py run_embedded``: its web server and one
    worker with beat); returns once /healthz reports the worker alive. The
    caller stops it with :func:`stop`."""
    port = free_port()
    proc = spawn(
        [sys.executable, "manage.py", "run_embedded", "--port", str(port),
         "--web-workers", str(web_workers), "--concurrency", str(concurrency)],
        env, log_prefix="bench-embedded-",
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise SystemExit("run_embedded exited:\n" + Path(proc.log_path).read_text()[-3000:])
        try:
            body = httpx.get(f"{base}/healthz", timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return False
        return body["checks"]["worker"]["alive"]

    try:
        wait_for(up, timeout=120, what="run_embedded with a live worker")
    except BaseException:
        stop(proc)
        raise
    return proc, base


def start_redis() -> tuple[subprocess.Popen, str]:
    """A private redis-server: the bench may flood it without disturbing anyone."""
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip

    def pong():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    wait_for(pong, timeout=15, what="redis-server")
    return proc, f"redis://127.0.0.1:{port}"


def start_s3(bucket: str) -> tuple[subprocess.Popen, str]:
    """moto's S3 server in its own process (not a thread of the load client)."""
    import boto3

    port = free_port()
    proc = spawn(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        {**os.environ}, log_prefix="bench-s3-",
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"

    def up():
        try:
            return httpx.get(endpoint, timeout=2).status_code < 500
        except httpx.HTTPError:
            return False

    wait_for(up, timeout=60, what="the S3 endpoint")
    s3_client(endpoint).create_bucket(Bucket=bucket)
    del boto3
    return proc, endpoint


def s3_client(endpoint: str):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def list_keys(endpoint: str, bucket: str, prefix: str) -> list[str]:
    paginator = s3_client(endpoint).get_paginator("list_objects_v2")
    return [
        obj["Key"]
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
        for obj in page.get("Contents", [])
    ]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def server_times(log_path: str, offset: int = 0, group=None) -> dict[str, dict]:
    """p50/p99 per path of the request times the app logged after ``offset``
    (per ``group(path)`` if given, e.g. to count paths with ids as one).

    They run from the app's first middleware receiving the request to its
    returning the answer: the server's own share of the latency, without the
    listen queue or the load generator, which shares the machine's cores with
    the server.
    """
    times: dict[str, list[float]] = {}
    with open(log_path, encoding="utf-8") as handle:
        handle.seek(offset)
        for line in handle:
            if not line.startswith("{"):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("logger") == "shrutik.access":
                path = group(record["path"]) if group else record["path"]
                times.setdefault(path, []).append(float(record["duration_ms"]))
    return {
        path: {
            "requests": len(v),
            "p50_ms": round(pct(v, 0.50), 2),
            "p99_ms": round(pct(v, 0.99), 2),
        }
        for path, v in times.items()
    }


def summarise(stats: dict[str, list[float]], elapsed: float) -> dict:
    return {
        name: {
            "requests": len(v),
            "rps": round(len(v) / elapsed, 1),
            "p50_ms": round(pct(v, 0.50), 2),
            "p99_ms": round(pct(v, 0.99), 2),
            "mean_ms": round(statistics.fmean(v), 2),
        }
        for name, v in stats.items()
    }
