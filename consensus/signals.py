"""Reactions to events of the lower apps: answers on a chunk, blocked contributors."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

from shrutik.queueing import enqueue_or_defer

# Sent once a chunk's decision is committed and leaves it no longer open
# (validated, accepted, in review or rejected), by the crowd or a reviewer.
# Arguments: chunk_id (str), status (the chunk's new status).
chunk_decided = Signal()


def on_user_blocked(sender, *, user_ids, blocked: bool, **kwargs) -> None:
    """A blocked contributor's votes stop counting (an unblocked one's count
    again): the finished chunks they transcribed are decided again, in the
    background, since a prolific contributor touches thousands of chunks.
    With the broker down, the nightly re-estimation re-scores the recent ones."""
    from consensus.tasks import rescore_contributors

    ids = list(user_ids)
    transaction.on_commit(lambda: enqueue_or_defer(rescore_contributors, ids, blocked))


def on_chunk_transcribed(sender, *, chunk_id: str, **kwargs) -> None:
    """Decide the chunk once the answer is committed, in the same request (a
    worker takes over if that fails). The report path may send this inside its
    transaction; on_commit runs at once outside one."""
    from consensus.services import consensus_decide_now

    transaction.on_commit(lambda: consensus_decide_now(chunk_id=chunk_id))
