from celery import shared_task
from django.conf import settings

from exports import services
from shrutik.storage import transient_errors


@shared_task(
    name="exports.build",
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
