"""Test support shared by every app's suites: a real Celery worker process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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
def worker_process(
    env_overrides: dict[str, str], *, queues: str = "default,audio,consensus,exports"
) -> Iterator[subprocess.Popen]:
    """Run ``celery worker`` against the test database, broker and S3 endpoint.

    Yields once the worker has executed a heartbeat task, so tests never race
    its start-up. The log is printed if the worker dies early.
    """
    from django.core.cache import cache

    from shrutik.celery import app
    from shrutik.health import HEARTBEAT_KEY
    from shrutik.tasks import heartbeat

    # Messages left by earlier tests name rows that were rolled back long ago.
    app.control.purge()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "shrutik.settings_test", **env_overrides}
    log = tempfile.NamedTemporaryFile(prefix="worker-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "shrutik", "worker", "--loglevel", "INFO",
         "--queues", queues, "--concurrency", "1", "--without-gossip", "--without-mingle",
         "--hostname", f"test-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        cache.delete(HEARTBEAT_KEY)
        heartbeat.delay()

        def ready():
            if proc.poll() is not None:
                raise AssertionError("worker exited:\n" + Path(log.name).read_text()[-4000:])
            return cache.get(HEARTBEAT_KEY)

        wait_until(ready, timeout=60, what="the worker to start")
        proc.log_path = log.name
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
