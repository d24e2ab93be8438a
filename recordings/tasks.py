from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from recordings import erasure, services
from shrutik.storage import transient_errors


@shared_task(
    name="recordings.process",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=transient_errors(),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=5,
    soft_time_limit=settings.RECORDING_PROCESS_SOFT_TIME_LIMIT,
    time_limit=settings.RECORDING_PROCESS_TIME_LIMIT,
    ignore_result=True,
)
def recording_process(self, recording_id: str) -> None:
    """Idempotent: a recording already chunked or rejected is left as it is."""
    try:
        services.recording_process(recording_id=recording_id)
    except SoftTimeLimitExceeded:
        services.recording_fail(recording_id=recording_id, error="Processing took too long.")


@shared_task(name="recordings.sweep", ignore_result=True, time_limit=120)
def recording_sweep() -> int:
    return services.recording_sweep()


@shared_task(
    name="recordings.erased_audio_sweep",
    ignore_result=True,
    autoretry_for=transient_errors(),
    retry_backoff=True,
    max_retries=5,
    time_limit=1800,
)
def erased_audio_sweep() -> int:
    """Delete erased contributors' audio once their grace period is over (idempotent)."""
    return erasure.erased_audio_sweep()
