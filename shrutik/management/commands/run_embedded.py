"""Run the embedded shape: one web server (HTTP and WebSocket) and one Celery worker (with beat).

Both are real processes, supervised together: if either dies the other is
stopped and the command exits non-zero, so a broken worker is never hidden
behind a page that still loads.

With ``--ensure-admin`` (``make run``) the admin account is created first, and
its one-time password is printed once both processes are up: last, in a box,
where it is not lost among their start-up lines.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from contributors.services import admin_ensure


class Command(BaseCommand):
    help = "Serve the web app and run a Celery worker with beat, until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--concurrency", type=int, default=2)
        parser.add_argument(
            "--ensure-admin",
            action="store_true",
            help="Create the 'admin' account if missing; print its password once all is up.",
        )

    def handle(
        self,
        *args,
        host: str,
        port: int,
        web_workers: int,
        concurrency: int,
        ensure_admin: bool,
        **opts,
    ):
        admin_password = admin_ensure() if ensure_admin else None
        # --quiet: no banner and task list; the start-up lines that matter are ours.
        worker_cmd = [
            sys.executable, "-m", "celery", "-A", "shrutik", "--quiet", "worker", "--beat",
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
            "--timeout", "300", "--log-level", "warning",
        ]  # fmt: skip
        # The web workers' request metrics, summed at every scrape
        # (shrutik.gunicorn_conf); the Celery worker keeps its own.
        web_env = {
            **os.environ,
            "PROMETHEUS_MULTIPROC_DIR": str(Path(settings.VAR_DIR) / "prometheus"),
        }
        # One machine, often a developer's container running as root: Celery's
        # warning about running as root is noise here, not advice.
        worker_env = {
            **os.environ,
            "PYTHONWARNINGS": "ignore:You're running the worker with superuser privileges",
        }
        procs = {
            "worker": subprocess.Popen(worker_cmd, env=worker_env),
            "web": subprocess.Popen(web_cmd, env=web_env),
        }
        from shrutik.tasks import heartbeat

        # Beat's first tick is one interval away; an immediate heartbeat lets
        # /healthz show the worker as alive as soon as it consumes.
        heartbeat.delay()
        base = f"http://{_local(host)}:{port}"
        announce_by = time.monotonic() + 90
        announced = False

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
            if not stopping and not announced and (_ready(base) or time.monotonic() > announce_by):
                self.stdout.write(self._banner(host, port, ensure_admin, admin_password))
                announced = True
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

    def _banner(self, host: str, port: int, ensure_admin: bool, password: str | None) -> str:
        url = f"http://{host}:{port}/"
        lines = [f"Shrutik is running at {url}  (Ctrl+C stops it)"]
        if password:
            lines += [
                f"Admin: {url}admin/  user: admin  password: {password}",
                "This password is shown once: note it now "
                "(`python manage.py changepassword admin` sets another).",
            ]
        elif ensure_admin:
            lines += [
                f"Admin: {url}admin/  user: admin  (password unchanged; "
                "`python manage.py changepassword admin` sets another)"
            ]
        rule = "=" * max(len(line) for line in lines)
        return "\n".join(["", rule, *(self.style.SUCCESS(line) for line in lines), rule, ""])


def _local(host: str) -> str:
    """An address to reach a server bound to ``host`` from this machine."""
    return "127.0.0.1" if host in {"", "0.0.0.0", "::", "[::]"} else host


def _ready(base: str) -> bool:
    """The web server answers and has seen the worker's heartbeat."""
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
            health = json.load(response)
    except (OSError, ValueError):
        return False
    return bool(health.get("checks", {}).get("worker", {}).get("alive"))
