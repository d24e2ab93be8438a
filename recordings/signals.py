"""Receivers for other apps' signals (connected in RecordingsConfig.ready)."""

from __future__ import annotations

from django.dispatch import Signal

from recordings.erasure import recording_audio_delete_for_user, recording_withdraw_open_chunks
from shrutik.signals import send_on_commit

__all__ = [
    "on_user_erased",
    "recording_audio_delete_for_user",
    "recording_status_changed",
    "script_preference",
]

# Sent once a recording's new status is committed: "uploaded" when it is
# created (a retry of the same upload sends nothing), then "chunked",
# "rejected" or "failed" from whichever process decided it (a web process or a
# worker). Apps above connect to it (campaigns counts readings as they happen).
# Arguments: recording_id (str), status (str).
recording_status_changed = Signal()

# Asked by ``selectors.script_next`` before choosing a reader's next script: a
# receiver may answer a ``Q`` on Script naming the scripts this reader should
# get first (a campaign they joined), or None. Scripts outside it are still
# offered once those are read. Arguments: user, language.
script_preference = Signal()


def send_status_changed(*, recording_id, status: str) -> None:
    send_on_commit(recording_status_changed, recording_id=str(recording_id), status=status)


def on_user_erased(sender, *, user_id: int, delete_recordings: bool = False, **kwargs) -> None:
    """Delete the audio now if asked; otherwise the erasure sweep does after the grace period."""
    if delete_recordings:
        recording_audio_delete_for_user(user_id=user_id)
    else:
        recording_withdraw_open_chunks(user_id=user_id)
