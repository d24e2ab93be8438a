from celery import shared_task
from django.conf import settings

from exports import services
from shrutik.storage import transient_errors

# Every step of an export: a worker killed mid-task has its message
# redelivered (acks_late), and storage hiccups are retried with backoff.
_STEP_OPTIONS = dict(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=transient_errors(),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=5,
    soft_time_limit=settings.EXPORT_TIME_LIMIT_SECONDS,
    time_limit=settings.EXPORT_TIME_LIMIT_SECONDS + 120,
    ignore_result=True,
)


@shared_task(name="exports.build", **_STEP_OPTIONS)
def export_build(self, export_id: str) -> None:
    """Idempotent: a done or failed export is left alone; a running one is
    restarted cleanly (its message only comes back when its attempt died).
    Other failures are recorded on the export by the service."""
    try:
        services.export_build(export_id=export_id)
    except transient_errors() as exc:
        if self.request.retries >= self.max_retries:
            services.export_fail(export_id=export_id, error=f"Storage stayed unreachable: {exc}")
            return
        raise  # autoretry_for schedules the next attempt with backoff


# The two steps of a processed export. No result backend is needed: the batch
# tasks count themselves done in the database and the last one queues the final
# step. A redelivered batch task simply does its batch again.


def _give_up(self, export_id: str, token: str, exc: Exception) -> bool:
    if self.request.retries >= self.max_retries:
        services.export_fail(
            export_id=export_id, error=f"Storage stayed unreachable: {exc}", token=token
        )
        return True
    return False


@shared_task(name="exports.process_batch", **_STEP_OPTIONS)
def export_process_batch(self, export_id: str, token: str, index: int) -> None:
    try:
        services.export_process_batch(export_id=export_id, token=token, index=index)
    except transient_errors() as exc:
        if not _give_up(self, export_id, token, exc):
            raise


@shared_task(name="exports.finish", **_STEP_OPTIONS)
def export_finish(self, export_id: str, token: str) -> None:
    try:
        services.export_finish(export_id=export_id, token=token)
    except transient_errors() as exc:
        if not _give_up(self, export_id, token, exc):
            raise


@shared_task(name="exports.sweep", ignore_result=True, time_limit=120)
def export_sweep() -> int:
    return services.export_sweep()
