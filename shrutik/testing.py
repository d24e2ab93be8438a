"""Test support shared by every app's suites: a real Celery worker process, and
migrating the test database to an older state and back."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent


T = TypeVar("T")


def wait_until(predicate: Callable[[], object], *, timeout: float, what: str, interval=0.2):
    """Poll ``predicate`` until it returns something truthy, or fail saying what."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


@contextmanager
def celery_worker(
    env: dict[str, str],
    *,
    queues: str,
    hostname: str,
    ready: Callable[[subprocess.Popen, str], object],
) -> Iterator[subprocess.Popen]:
    """Run ``celery worker`` with ``env`` (the whole environment) in a process group
    of its own, and yield once ``ready(proc, log_text)`` is truthy.

    The log is printed if the worker dies before it is ready; ``proc.log_path``
    names it. The worker is stopped (SIGTERM, then SIGKILL) on the way out.
    """
    log = tempfile.NamedTemporaryFile(prefix="worker-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "shrutik", "worker", "--loglevel", "INFO",
         "--queues", queues, "--concurrency", "1", "--without-gossip", "--without-mingle",
         "--hostname", hostname],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    proc.log_path = log.name

    def started():
        text = Path(log.name).read_text()
        if proc.poll() is not None:
            raise AssertionError("worker exited:\n" + text[-4000:])
        return ready(proc, text)

    try:
        wait_until(started, timeout=60, what="the worker to start")
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


@contextmanager
def worker_process(
    env_overrides: dict[str, str], *, queues: str = "default,audio,consensus,exports"
) -> Iterator[subprocess.Popen]:
    """Run ``celery worker`` against the test database, broker and S3 endpoint.

    Yields once the worker has executed a heartbeat task, so tests never race
    its start-up.
    """
    from django.core.cache import cache

    from shrutik.celery import app
    from shrutik.health import HEARTBEAT_KEY
    from shrutik.tasks import heartbeat

    # Messages left by earlier tests name rows that were rolled back long ago.
    app.control.purge()
    cache.delete(HEARTBEAT_KEY)
    heartbeat.delay()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "shrutik.settings_test", **env_overrides}
    with celery_worker(
        env,
        queues=queues,
        hostname=f"test-{os.getpid()}@%h",
        ready=lambda proc, log: cache.get(HEARTBEAT_KEY),
    ) as proc:
        yield proc


def migrate(targets=None):
    """Migrate the test database to ``targets`` ([(app, migration)]), or back to
    the newest migrations; returns the historical apps of that state. A test
    that migrates back must return (in a ``finally``): later tests need the
    current schema."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    targets = targets or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def run_coroutine(main: Callable[[], Awaitable[T]]) -> T:
    """``asyncio.run(main())`` in a thread of its own.

    Playwright's synchronous API keeps an event loop running in the main thread
    for the whole session, and tests without a database run after the browser
    tests: ``asyncio.run`` there fails with "cannot be called from a running
    event loop". A fresh thread has no loop of its own.
    """
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, main()).result()
