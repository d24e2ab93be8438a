"""Dependency checks for the health endpoints.

- ``GET /healthz/live``: the process answers (a liveness probe restarts it
  otherwise). Nothing else is checked: a dead database must not make every
  web process restart.
- ``GET /healthz/ready``: the database, broker and storage answer within
  ``HEALTH_TIMEOUT_SECONDS`` together, and every migration is applied (a
  readiness probe keeps traffic away otherwise).
- ``GET /healthz``: the same dependencies, each bounded in time, with the
  worker heartbeat and the read replica for information.

Error texts name what failed without any configured secret
(shrutik/redaction.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import connection, connections

from shrutik.redaction import redact

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


_migrated = False


def check_migrations() -> None:
    """Every migration of this code is applied to the database.

    Once true it stays true for the process (its code does not change), so
    only a process started before ``migrate`` finished pays for the graph.
    """
    global _migrated
    if _migrated:
        return
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        first = plan[0][0]
        raise RuntimeError(
            f"{len(plan)} migrations are not applied, starting with "
            f"{first.app_label}.{first.name}: run manage.py migrate"
        )
    _migrated = True


def _failure(exc: BaseException) -> dict:
    return {"ok": False, "error": redact(f"{type(exc).__name__}: {exc}")[:300]}


def _timed(check: Callable[[], None]) -> dict:
    started = time.monotonic()
    try:
        check()
    except Exception as exc:  # any failure of a dependency is what we report
        result = _failure(exc)
    else:
        result = {"ok": True}
    result["ms"] = round((time.monotonic() - started) * 1000, 1)
    return result


def run_checks() -> tuple[bool, dict[str, dict]]:
    results: dict[str, dict] = {name: _timed(check) for name, check in CHECKS.items()}
    healthy = all(result["ok"] for result in results.values())
    results["worker"] = worker_status()
    from shrutik.db import REPLICA, has_replica

    if has_replica():
        # Informational too: a replica that is down makes the statistics fail,
        # which taking web processes out of service would not mend.
        results["replica"] = _timed(lambda: _select_one(REPLICA))
    return healthy, results


def _select_one(alias: str) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


# Checked in parallel, each group in order: migrations need the database.
READINESS_GROUPS: tuple[tuple[tuple[str, Callable[[], None]], ...], ...] = (
    (("database", check_database), ("migrations", check_migrations)),
    (("broker", check_broker),),
    (("storage", check_storage),),
)


def run_readiness(*, timeout: float | None = None) -> tuple[bool, dict[str, dict]]:
    """The readiness checks, answered within ``timeout`` seconds whatever hangs.

    Each group runs in a thread of its own; one still running at the deadline
    is reported as not answering and finishes on its own (each check has its
    own timeout: the pool's, the broker's, the S3 client's).
    """
    timeout = settings.HEALTH_TIMEOUT_SECONDS if timeout is None else timeout
    results: dict[str, dict] = {}

    def run(group) -> None:
        try:
            for name, check in group:
                results[name] = _timed(check)
                if not results[name]["ok"]:
                    break
        finally:
            # This thread's database connection goes back to the pool.
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(group,), daemon=True) for group in READINESS_GROUPS
    ]
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    answered = dict(results)
    for group in READINESS_GROUPS:
        for position, (name, _check) in enumerate(group):
            if name in answered:
                continue
            earlier = group[position - 1][0] if position else None
            if earlier and earlier in answered and not answered[earlier]["ok"]:
                answered[name] = {"ok": False, "error": f"not checked: {earlier} failed"}
            else:
                answered[name] = {"ok": False, "error": f"no answer within {timeout:g} s"}
    return all(result["ok"] for result in answered.values()), answered


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
