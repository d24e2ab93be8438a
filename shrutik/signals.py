"""Sending a signal to the apps above once the work it reports is committed."""

from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)


def send_on_commit(signal: Signal, **kwargs) -> None:
    """Send ``signal`` after the current transaction commits (at once outside one).

    Robust: what an app above does with the news must never fail or undo the
    work that made it (an upload, a chunking, a decision); its errors are logged.
    """

    def send() -> None:
        for receiver, result in signal.send_robust(sender=None, **kwargs):
            if isinstance(result, Exception):
                logger.error("%r failed on a signal", receiver, exc_info=result)

    transaction.on_commit(send)
