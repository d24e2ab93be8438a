"""What this app tells the apps above it, and its reactions to contributor events."""

from django.dispatch import Signal

# Sent once a chunk gained an answer that may settle it (a transcription or a
# verification, committed; or a report). Consensus connects to it to decide the
# chunk. Arguments: chunk_id (str).
chunk_transcribed = Signal()


def on_user_blocked(sender, *, user_ids, blocked: bool, **kwargs) -> None:
    """A blocked contributor's leases go back to the pool at once."""
    if blocked:
        from transcriptions.services import leases_release_for_users

        leases_release_for_users(user_ids)
