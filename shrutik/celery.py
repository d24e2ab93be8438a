import logging
import os

from celery import Celery
from celery.signals import task_failure, worker_process_init, worker_shutting_down

from shrutik.logging import connect_signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shrutik.settings")

# Every task retries a database that could not be reached (shrutik/worker.py).
app = Celery("shrutik", task_cls="shrutik.worker:Task")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _add_worker_steps() -> None:
    from shrutik.worker import UnackedHeartbeat, forget_inherited_pools, requeue_after_grace

    app.steps["consumer"].add(UnackedHeartbeat)
    worker_shutting_down.connect(requeue_after_grace, dispatch_uid="shrutik-shutdown-grace")
    # Connected here, before Celery's Django fixup connects its own handler
    # (at worker start), which closes the pool it finds: this one must run first.
    worker_process_init.connect(forget_inherited_pools, dispatch_uid="shrutik-forget-db-pools")


_add_worker_steps()

connect_signals()


@task_failure.connect(dispatch_uid="shrutik-task-failure-metric")
def _count_task_failure(sender=None, **kwargs) -> None:
    # Counted in Redis, not in this process: see shrutik/metrics.py.
    try:
        from shrutik.metrics import task_failure_record

        task_failure_record(getattr(sender, "name", None) or "unknown")
    except Exception:  # metrics must never make a failing task fail harder
        logging.getLogger(__name__).warning("Could not count a task failure", exc_info=True)
