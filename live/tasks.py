from celery import shared_task

from live import services


@shared_task(name="live.expire")
def sessions_expire() -> int:
    """Expire idle live sessions and delete their staged audio (Celery beat)."""
    return services.sessions_expire()
