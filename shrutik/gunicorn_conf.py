"""gunicorn hooks for the web server (compose and ``run_embedded``):
django-prometheus's metrics summed over every worker.

With several workers each process counts its own requests, so a scrape would
see whichever worker answered. With ``PROMETHEUS_MULTIPROC_DIR`` set, every
worker writes its metrics to files there and ``/metrics`` sums them
(``shrutik.metrics``). The files of a previous run would be summed too, so
the master removes them at start; a worker that exits is marked dead so its
live gauges stop counting.
"""

from __future__ import annotations

import os
from pathlib import Path


def on_starting(server) -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    # Only the metric files: the setting may point at a directory that holds
    # something else by mistake.
    for stale in path.glob("*.db"):
        stale.unlink()


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
