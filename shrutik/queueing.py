"""Enqueueing work whose row is already committed."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def enqueue_or_defer(task, *args) -> bool:
    """Send ``task`` with ``args``; if the broker is down, log it and return False.

    For work recorded in the database before it is enqueued (an upload, a
    transcription, an export, a blocked contributor): the request that stored
    it succeeded, and a periodic job finds and enqueues what the broker never
    got. Failing the request
    would make the client retry something that was in fact kept.
    """
    try:
        task.delay(*args)
    except Exception:
        logger.warning("Could not enqueue %s%r; its sweeper will.", task.name, args, exc_info=True)
        return False
    return True
