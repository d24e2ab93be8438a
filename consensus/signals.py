"""Reactions to contributor events from the lower apps."""

from __future__ import annotations

from django.db import transaction

from shrutik.queueing import enqueue_or_defer


def on_user_blocked(sender, *, user_ids, blocked: bool, **kwargs) -> None:
    """A blocked contributor's votes stop counting (an unblocked one's count
    again): the finished chunks they transcribed are decided again, in the
    background, since a prolific contributor touches thousands of chunks.
    With the broker down, the nightly re-estimation re-scores the recent ones."""
    from consensus.tasks import rescore_contributors

    ids = list(user_ids)
    transaction.on_commit(lambda: enqueue_or_defer(rescore_contributors, ids, blocked))
