from celery import shared_task

from consensus import services

# The batch tasks: they walk up to tens of thousands of chunks, and a worker
# lost midway leaves the message to another (each run is idempotent).
BATCH_TASK = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "soft_time_limit": 3000,
    "time_limit": 3300,
    "ignore_result": True,
}


@shared_task(
    name="consensus.decide",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=60,
    time_limit=90,
    ignore_result=True,
)
def consensus_decide(chunk_id: str) -> None:
    """Idempotent: deciding an already decided chunk changes nothing."""
    services.consensus_decide(chunk_id=chunk_id)


@shared_task(name="consensus.reestimate", **BATCH_TASK)
def reliability_reestimate() -> None:
    """Nightly: re-estimate all reliabilities jointly from recent decisions."""
    services.reliability_reestimate_all()


@shared_task(name="consensus.rescore_contributors", **BATCH_TASK)
def rescore_contributors(user_ids: list[int], blocked: bool) -> None:
    """After contributors were blocked or unblocked: idempotent, a re-run
    finds nothing more to change."""
    reason = "a contributor was blocked" if blocked else "a contributor was unblocked"
    services.chunks_rescore_for_contributors(user_ids, reason=reason)


@shared_task(name="consensus.sweep", ignore_result=True)
def sweep_undecided() -> int:
    """Every few minutes: decisions whose message was lost are asked again."""
    return services.chunks_sweep_undecided()


@shared_task(name="consensus.finish_unanswerable", ignore_result=True)
def finish_unanswerable() -> int:
    """Hourly: chunks every active volunteer has answered are finished with
    what they have instead of waiting for a newcomer."""
    return services.chunks_finish_unanswerable()
