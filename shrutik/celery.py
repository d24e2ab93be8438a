import logging
import os

from celery import Celery
from celery.signals import task_failure

from shrutik.logging import connect_signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shrutik.settings")

app = Celery("shrutik")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

connect_signals()


@task_failure.connect(dispatch_uid="shrutik-task-failure-metric")
def _count_task_failure(sender=None, **kwargs) -> None:
    # Counted in Redis, not in this process: see shrutik/metrics.py.
    try:
        from shrutik.metrics import task_failure_record

        task_failure_record(getattr(sender, "name", None) or "unknown")
    except Exception:  # metrics must never make a failing task fail harder
        logging.getLogger(__name__).warning("Could not count a task failure", exc_info=True)
