"""Reactions to contributor events."""


def on_user_blocked(sender, *, user_ids, blocked: bool, **kwargs) -> None:
    """A blocked contributor's leases go back to the pool at once."""
    if blocked:
        from transcriptions.services import leases_release_for_users

        leases_release_for_users(user_ids)
