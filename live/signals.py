"""Receivers for other apps' signals (connected in LiveConfig.ready)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent once a live reading has started (its session is committed). Apps above
# connect to it (campaigns shows "someone started reading").
# Arguments: user_id (int), script_id (int).
reading_started = Signal()


def on_user_erased(sender, *, user_id: int, **kwargs) -> None:
    # Staged audio is not a recording yet: erasing the account always removes it.
    from live.services import sessions_cancel_for_user

    sessions_cancel_for_user(user_id=user_id)
