"""Dependency checks for ``GET /healthz``.

Each check is bounded in time so that a dead dependency turns into a quick 503
naming it, never a hung health probe.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import connection

HEARTBEAT_KEY = "shrutik:worker-heartbeat"


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker() -> None:
    from shrutik.celery import app

    # Read the URL at call time so that a changed setting is honoured.
    with app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=3)


def check_storage() -> None:
    storage = default_storage
    bucket = getattr(storage, "bucket", None)
    if bucket is not None:
        # HEAD on the bucket, not on a key: a missing key and a missing bucket
        # both look like "does not exist" to Storage.exists().
        bucket.meta.client.head_bucket(Bucket=bucket.name)
    else:
        storage.listdir("")


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "storage": check_storage,
}


def run_checks() -> tuple[bool, dict[str, dict]]:
    results: dict[str, dict] = {}
    healthy = True
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            check()
        except Exception as exc:  # any failure of a dependency is what we report
            healthy = False
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        else:
            results[name] = {"ok": True}
        results[name]["ms"] = round((time.monotonic() - started) * 1000, 1)
    results["worker"] = worker_status()
    return healthy, results


def worker_status() -> dict:
    """Informational: when a worker last ran the heartbeat task.

    Not part of the 200/503 decision, because web processes must stay healthy
    while workers restart or scale to zero.
    """
    try:
        beat = cache.get(HEARTBEAT_KEY)
    except Exception as exc:
        return {"alive": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    if beat is None:
        return {"alive": False, "last_seen_seconds_ago": None}
    age = max(0.0, time.time() - float(beat["at"]))
    return {
        "alive": age <= settings.WORKER_HEARTBEAT_MAX_AGE,
        "last_seen_seconds_ago": round(age, 1),
        "hostname": beat.get("hostname"),
    }


def record_heartbeat(hostname: str) -> None:
    cache.set(HEARTBEAT_KEY, {"at": time.time(), "hostname": hostname}, timeout=3600)


def unavailable_dependency(exc: BaseException) -> str | None:
    """Name the dependency ``exc`` says is unreachable, or None for other errors.

    These failures are the server's, not the client's, and usually pass: the API
    answers 503 with ``Retry-After`` instead of a 500.
    """
    from django.db import InterfaceError, OperationalError

    from shrutik.storage import transient_errors

    if isinstance(exc, transient_errors()):
        return "file storage"
    if isinstance(exc, OperationalError | InterfaceError):
        return "database"
    try:
        from kombu.exceptions import OperationalError as BrokerError
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:  # pragma: no cover - both ship with the base requirements
        return None
    if isinstance(exc, BrokerError | RedisConnectionError | RedisTimeoutError):
        return "task queue"
    return None
