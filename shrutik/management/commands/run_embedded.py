"""Run the embedded shape: one web server (HTTP and WebSocket) and one Celery worker (with beat).

Both are real processes, supervised together: if either dies the other is
stopped and the command exits non-zero, so a broken worker is never hidden
behind a page that still loads.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the web app and run a Celery worker with beat, until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--concurrency", type=int, default=2)

    def handle(self, *args, host: str, port: int, web_workers: int, concurrency: int, **opts):
        worker_cmd = [
            sys.executable, "-m", "celery", "-A", "shrutik", "worker", "--beat",
            "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME,
            "--queues", ",".join(settings.CELERY_WORKER_QUEUES),
            "--concurrency", str(concurrency), "--loglevel", "INFO",
            "--hostname", "embedded@%h",
        ]  # fmt: skip
        # ASGI under gunicorn's supervision: the same server answers pages and
        # the live recording WebSocket (/ws/record/).
        web_cmd = [
            sys.executable, "-m", "gunicorn", "shrutik.asgi:application",
            "-k", "uvicorn_worker.UvicornWorker", "-c", "python:shrutik.gunicorn_conf",
            "--bind", f"{host}:{port}", "--workers", str(web_workers),
            "--timeout", "300",
        ]  # fmt: skip
        # The web workers' request metrics, summed at every scrape
        # (shrutik.gunicorn_conf); the Celery worker keeps its own.
        web_env = {
            **os.environ,
            "PROMETHEUS_MULTIPROC_DIR": str(Path(settings.VAR_DIR) / "prometheus"),
        }
        procs = {
            "worker": subprocess.Popen(worker_cmd),
            "web": subprocess.Popen(web_cmd, env=web_env),
        }
        from shrutik.tasks import heartbeat

        # Beat's first tick is one interval away; an immediate heartbeat lets
        # /healthz show the worker as alive as soon as it consumes.
        heartbeat.delay()
        self.stdout.write(
            self.style.SUCCESS(f"Shrutik is running at http://{host}:{port}/  (Ctrl+C stops it)")
        )

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    self.stderr.write(f"The {name} process exited with code {proc.returncode}.")
                    exit_code = proc.returncode or 1
                    stopping = True
            time.sleep(0.5)
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if exit_code:
            sys.exit(exit_code)
