from celery import shared_task

from shrutik.health import record_heartbeat


@shared_task(name="shrutik.heartbeat", bind=True, ignore_result=True, time_limit=30)
def heartbeat(self) -> None:
    """Scheduled by beat: proves a worker is consuming the broker."""
    record_heartbeat(self.request.hostname or "unknown")
